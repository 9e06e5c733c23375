"""Participants of a study and their progress through its stages."""

from __future__ import annotations

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, visible_participant, visible_study
from calma.api.problems import conflict, forbidden, not_found
from calma.familiarize.service import StageGate
from calma.studies.model import Stage

TAG = "participants"


async def list_participants(call: Call) -> Response:
    study = await managed_study(call)
    query = call.query_as(schemas.ParticipantQuery)
    if query.group_id is not None and await call.api.store.group(study.id, query.group_id) is None:
        raise not_found("the group")
    participants = await call.api.store.participants_of(study.id, query.group_id)
    return json_reply(schemas.ParticipantList(participants=[schemas.Participant.of(p) for p in participants]))


async def study_progress(call: Call) -> Response:
    study = await managed_study(call)
    progress = await call.api.store.progress_of_study(study.id)
    return json_reply(
        schemas.StudyProgress(
            study_id=study.id,
            stage_order=list(study.content.stage_order),
            participants=[schemas.Progress.of(p) for p in progress],
        )
    )


async def participant_progress(call: Call) -> Response:
    study = await visible_study(call)
    participant = await visible_participant(call, study, call.param("participant_id"))
    progress = await call.api.store.progress(participant.id)
    if progress is None:
        raise not_found("the participant's progress")
    return json_reply(schemas.Progress.of(progress))


async def move_participant(call: Call) -> Response:
    study = await visible_study(call)
    participant = await visible_participant(call, study, call.param("participant_id"))
    principal = call.user
    if not (policy.manages_study(principal, study) or principal.participant_id == participant.id):
        raise forbidden("only the participant and the study's facilitator may change this progress")
    target = call.body_as(schemas.ProgressUpdate).stage
    current = await call.api.store.progress(participant.id)
    if current is None:
        raise not_found("the participant's progress")
    if not policy.may_move_to(principal, study, current.stage, target):
        raise conflict(_refusal(study.content.stage_order, current.stage, target))
    if not principal.is_facilitator:
        statuses = await StageGate(call.api.familiarize_store()).statuses(study, participant.id, participant.group_id)
        closed = next((s for s in statuses if s.stage is target and not s.open), None)
        if closed is not None:
            raise conflict(f"{target.value} is not open for you: {closed.reason.value}")
    moved = await call.api.store.set_stage(participant.id, target)
    call.api.events.progress_changed(moved)
    return json_reply(schemas.Progress.of(moved))


def _refusal(order: tuple[Stage, ...], current: Stage, target: Stage) -> str:
    return f"the stage {target.value!r} is not part of this study ({', '.join(s.value for s in order)})"


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/participants", list_participants, "listParticipants",
        "The study's participants (optionally of one group)", TAG,
        response=schemas.ParticipantList, query=schemas.ParticipantQuery, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/progress", study_progress, "studyProgress",
        "Every participant's stage: the facilitator's view", TAG, response=schemas.StudyProgress, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/participants/{participant_id}/progress", participant_progress,
        "participantProgress", "One participant's stage (the participant or the facilitator)", TAG,
        response=schemas.Progress,
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/participants/{participant_id}/progress", move_participant,
        "moveParticipant", "Move a participant to a stage (themselves: to a stage open for them; the facilitator: any)", TAG,
        response=schemas.Progress, request=schemas.ProgressUpdate, problems=(403, 409),
    ),
]  # fmt: skip
