"""Finding the records a request names, under the privacy rules: what you may not see is 404."""

from __future__ import annotations

from calma.access import policy
from calma.api.endpoints import Call
from calma.api.problems import Problem, forbidden, not_found
from calma.studies.model import Group, Participant, Study


async def visible_study(call: Call) -> Study:
    """The study of the `study_id` path parameter, if the principal may see it."""
    study = await call.api.store.study(call.param("study_id"))
    if study is None or not policy.sees_study(call.user, study):
        raise not_found("the study")
    return study


async def managed_study(call: Call) -> Study:
    """The study, if the principal is its facilitator (404 if they may not see it, 403 if only see it)."""
    study = await visible_study(call)
    require_manager(call, study)
    return study


def require_manager(call: Call, study: Study) -> None:
    """403 unless the principal is the facilitator of a study they can see."""
    if not policy.manages_study(call.user, study):
        raise forbidden("only the study's facilitator may do this")


async def visible_group(call: Call, study: Study, group_id: str) -> Group:
    group = await call.api.store.group(study.id, group_id)
    if group is None or not policy.sees_group(call.user, study, group):
        raise not_found("the group")
    return group


async def visible_participant(call: Call, study: Study, participant_id: str) -> Participant:
    participant = await call.api.store.participant(participant_id)
    if participant is None or not policy.sees_participant(call.user, study, participant):
        raise not_found("the participant")
    return participant


async def group_meant(call: Call, study: Study, group_id: str | None) -> Group:
    """The group a request is about: the facilitator names it (`group_id`, else 422); participants and
    observers have their own (another group's id is 404, as for a group that does not exist)."""
    principal = call.user
    if policy.manages_study(principal, study):
        if group_id is None:
            raise Problem("validation-failed", "facilitators: say which group (group_id)")
        return await visible_group(call, study, group_id)
    if principal.group_id is None or group_id not in (None, principal.group_id):
        raise not_found("the group")
    return await visible_group(call, study, principal.group_id)


async def participant_self(call: Call, study: Study, refusal: str) -> Participant:
    """The participant making the request (anyone else: 403 with `refusal`)."""
    principal = call.user
    if not principal.is_participant or principal.participant_id is None:
        raise forbidden(refusal)
    participant = await call.api.store.participant(principal.participant_id)
    if participant is None or participant.study_id != study.id:
        raise not_found("the participant")
    return participant
