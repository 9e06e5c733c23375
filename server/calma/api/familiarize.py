"""Familiarize over REST: the participant's pages, lesson, practice and check; stage gating; the facilitator's results.

Participants read and record their own steps; what the check's right answers
and the practice's example codes are stays hidden until the participant has
answered (the example codes) or passed (the explanations). The facilitator
opens or closes stages for a group or a person and reads everyone's results.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, visible_group, visible_participant, visible_study
from calma.api.problems import Problem, conflict, forbidden, not_found
from calma.familiarize.check import CheckAnswerError
from calma.familiarize.gating import Reason, StageStatus
from calma.familiarize.progress import FamiliarizeProgress, OverrideScope
from calma.familiarize.service import (
    Familiarize,
    StageGate,
    StepRefused,
    blank_progress,
    is_complete,
    override_state,
    pages_of,
)
from calma.studies.model import Stage, Study

TAG = "familiarize"


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


SET_BY = {Reason.GROUP: "group", Reason.PERSON: "person"}


def stage_list(statuses: list[StageStatus]) -> list[schemas.StageStatusOut]:
    return [
        schemas.StageStatusOut(stage=s.stage, state=s.state.value, reason=s.reason.value,  # type: ignore[arg-type]
                               set_by=SET_BY.get(s.reason, "rule"), completed_at=_time(s.completed_at))  # type: ignore[arg-type]
        for s in statuses
    ]


async def _participant(call: Call) -> tuple[Study, str, str]:
    """The study, and the calling participant's id and group (403 for anyone else)."""
    study = await visible_study(call)
    principal = call.user
    if not principal.is_participant or principal.participant_id is None or principal.group_id is None:
        raise forbidden("only participants take part in Familiarize; facilitators edit it in the study")
    return study, principal.participant_id, principal.group_id


async def _require_open(call: Call, study: Study, participant_id: str, group_id: str) -> list[StageStatus]:
    statuses = await StageGate(call.api.familiarize_store()).statuses(study, participant_id, group_id)
    if not any(s.stage is Stage.FAMILIARIZE and s.open for s in statuses):
        raise conflict("Familiarize is closed for you; ask your facilitator")
    return statuses


def _view(study: Study, progress: FamiliarizeProgress, statuses: list[StageStatus]) -> schemas.FamiliarizeView:
    content = study.content.familiarize
    pages = pages_of(study)
    passed = progress.check_passed_at is not None
    practice = []
    for item in content.practice:
        answer = progress.practice.get(item.id)
        practice.append(
            schemas.PracticeView(
                id=item.id, prompt=item.prompt, response=item.response,
                my_codes=None if answer is None else list(answer.codes),
                example_codes=None if answer is None else list(item.example_codes),
                explanation=None if answer is None else item.explanation,
            )
        )
    return schemas.FamiliarizeView(
        study_id=study.id,
        training_context=study.content.training_context.name,
        orientation_pages=pages.orientation,
        lesson_pages=pages.lesson,
        worked_examples=[
            schemas.WorkedExample(id=e.id, prompt=e.prompt, response=e.response, notes=e.notes,
                                  value_codes=list(e.value_codes), structural_codes=list(e.structural_codes))
            for e in study.content.training_context.examples
        ],
        practice=practice,
        check=schemas.CheckView(
            items=[
                schemas.CheckItemView(id=c.id, excerpt=c.excerpt, options=[o.code for o in c.options],
                                      explanation=c.explanation if passed else None)
                for c in content.check
            ],
            pass_mark=content.pass_mark,
            max_attempts=content.max_attempts,
            attempts=progress.attempts,
            attempts_left=None if not content.max_attempts else max(0, content.max_attempts - progress.attempts),
            best_score=progress.best_score,
            passed=passed,
        ),
        progress=schemas.FamiliarizeProgressOut(
            orientation_pages_seen=progress.orientation_pages_seen,
            orientation_done=progress.orientation_done_at is not None or not pages.orientation,
            lesson_done=progress.lesson_done_at is not None or not pages.lesson,
            practice_done=sum(1 for item in content.practice if item.id in progress.practice),
            complete=is_complete(study, progress),
        ),
        stages=stage_list(statuses),
    )


async def get_familiarize(call: Call) -> Response:
    study = await visible_study(call)
    principal = call.user
    store = call.api.familiarize_store()
    if principal.is_participant and principal.participant_id and principal.group_id:
        progress = await Familiarize(store).progress(study, principal.participant_id)
        statuses = await StageGate(store).statuses(study, principal.participant_id, principal.group_id)
        return json_reply(_view(study, progress, statuses))
    if policy.manages_study(principal, study):  # a preview: the pages as participants see them, with no progress
        return json_reply(_view(study, blank_progress(study, "preview"), []))
    raise forbidden("observers do not take part in Familiarize")


async def saw_orientation(call: Call) -> Response:
    study, participant, group = await _participant(call)
    statuses = await _require_open(call, study, participant, group)
    try:
        progress = await Familiarize(call.api.familiarize_store()).saw_orientation(
            study, participant, call.body_as(schemas.OrientationSeen).pages_seen
        )
    except StepRefused as refused:
        raise Problem("validation-failed", str(refused)) from refused
    return await _reply_view(call, study, participant, group, progress, statuses)


async def read_lesson(call: Call) -> Response:
    study, participant, group = await _participant(call)
    statuses = await _require_open(call, study, participant, group)
    progress = await Familiarize(call.api.familiarize_store()).read_lesson(study, participant)
    return await _reply_view(call, study, participant, group, progress, statuses)


async def code_practice(call: Call) -> Response:
    study, participant, group = await _participant(call)
    statuses = await _require_open(call, study, participant, group)
    codes = call.body_as(schemas.PracticeAnswerIn).codes
    try:
        progress = await Familiarize(call.api.familiarize_store()).code_practice(
            study, participant, call.param("item_id"), codes
        )
    except LookupError:
        raise not_found("the practice item") from None
    return await _reply_view(call, study, participant, group, progress, statuses)


async def take_check(call: Call) -> Response:
    study, participant, group = await _participant(call)
    await _require_open(call, study, participant, group)
    store = call.api.familiarize_store()
    try:
        result, progress = await Familiarize(store).take_check(
            study, participant, call.body_as(schemas.CheckAnswers).answers
        )
    except CheckAnswerError as exc:
        raise Problem("validation-failed", str(exc)) from exc
    except StepRefused as refused:
        raise conflict(str(refused)) from refused
    content = study.content.familiarize
    statuses = await StageGate(store).statuses(study, participant, group)
    return json_reply(
        schemas.CheckOutcome(
            score=result.score, passed=result.passed, right=result.right, total=result.total,
            items_to_revisit=list(result.items_to_revisit), attempts=progress.attempts,
            attempts_left=None if not content.max_attempts else max(0, content.max_attempts - progress.attempts),
            explanations={c.id: c.explanation for c in content.check} if result.passed else {},
            stages=stage_list(statuses),
        )
    )


async def _reply_view(call: Call, study: Study, participant: str, group: str, progress: FamiliarizeProgress,
                      statuses: list[StageStatus]) -> Response:
    if is_complete(study, progress):  # this step may have opened the next stage
        statuses = await StageGate(call.api.familiarize_store()).statuses(study, participant, group)
    return json_reply(_view(study, progress, statuses))


async def results(call: Call) -> Response:
    study = await managed_study(call)
    store = call.api.familiarize_store()
    participants = await call.api.store.participants_of(study.id)
    stages = {p.participant_id: p.stage for p in await call.api.store.progress_of_study(study.id)}
    progress = {p.participant_id: p for p in await store.familiarize_progress_of_study(study.id)}
    statuses = await StageGate(store).statuses_of_study(study, {p.id: p.group_id for p in participants})
    content = study.content.familiarize
    pages = pages_of(study)
    rows = []
    for p in participants:
        mine = progress.get(p.id) or blank_progress(study, p.id)
        rows.append(
            schemas.FamiliarizeResult(
                participant_id=p.id, display_name=p.display_name, group_id=p.group_id,
                current=stages.get(p.id, study.first_stage),
                orientation_done=mine.orientation_done_at is not None or not pages.orientation,
                lesson_done=mine.lesson_done_at is not None or not pages.lesson,
                practice_done=sum(1 for item in content.practice if item.id in mine.practice),
                attempts=mine.attempts, best_score=mine.best_score, passed_at=_time(mine.check_passed_at),
                stages=stage_list(statuses[p.id]),
            )
        )
    return json_reply(
        schemas.FamiliarizeResults(practice_items=len(content.practice), check_items=len(content.check),
                                   pass_mark=content.pass_mark, participants=rows)
    )


# -- stages ------------------------------------------------------------------------------------


async def participant_stages(call: Call) -> Response:
    study = await visible_study(call)
    participant = await visible_participant(call, study, call.param("participant_id"))
    statuses = await StageGate(call.api.familiarize_store()).statuses(study, participant.id, participant.group_id)
    progress = await call.api.store.progress(participant.id)
    current = progress.stage if progress is not None else study.first_stage
    return json_reply(schemas.ParticipantStages(participant_id=participant.id, current=current, stages=stage_list(statuses)))


async def complete_stage(call: Call) -> Response:
    """A participant says they are done with a stage that has no automatic completion (Interact)."""
    study = await visible_study(call)
    participant = await visible_participant(call, study, call.param("participant_id"))
    if call.user.participant_id != participant.id:
        raise forbidden("only the participant says when they are done")
    stage = _stage(call.param("stage"), study)
    if stage is not Stage.INTERACT:
        raise conflict(f"{stage.value} is completed by doing it, not by saying so")
    gate = StageGate(call.api.familiarize_store())
    if not await gate.is_open(study, participant.id, participant.group_id, stage):
        raise conflict(f"{stage.value} is not open for you")
    await call.api.familiarize_store().complete_stage(participant.id, stage, call.api.now())
    statuses = await gate.statuses(study, participant.id, participant.group_id)
    progress = await call.api.store.progress(participant.id)
    current = progress.stage if progress is not None else study.first_stage
    return json_reply(schemas.ParticipantStages(participant_id=participant.id, current=current, stages=stage_list(statuses)))


def _stage(value: str, study: Study) -> Stage:
    try:
        stage = Stage(value)
    except ValueError:
        raise not_found("the stage") from None
    if stage not in study.content.stage_order:
        raise not_found("the stage")
    return stage


async def list_overrides(call: Call) -> Response:
    study = await managed_study(call)
    overrides = await call.api.familiarize_store().stage_overrides(study.id)
    return json_reply(
        schemas.StageOverrideList(
            overrides=[
                schemas.StageOverrideOut(scope=o.scope.value, target_id=o.target_id, stage=o.stage, state=o.state.value,
                                         updated_at=_time(o.updated_at))  # type: ignore[arg-type]
                for o in overrides
            ]
        )
    )


async def set_override(call: Call) -> Response:
    study = await managed_study(call)
    body = call.body_as(schemas.StageOverrideIn)
    if (body.group_id is None) == (body.participant_id is None):
        raise Problem("validation-failed", "give exactly one of group_id and participant_id")
    if body.stage not in study.content.stage_order:
        raise Problem("validation-failed", f"the stage {body.stage.value!r} is not part of this study")
    if body.group_id is not None:
        await visible_group(call, study, body.group_id)
        scope, target = OverrideScope.GROUP, body.group_id
    else:
        assert body.participant_id is not None
        await visible_participant(call, study, body.participant_id)
        scope, target = OverrideScope.PARTICIPANT, body.participant_id
    await call.api.familiarize_store().set_stage_override(
        study.id, scope, target, body.stage, override_state(body.state.value), call.api.now()
    )
    return await list_overrides(call)


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/familiarize", get_familiarize, "getFamiliarize",
        "Familiarize as the participant sees it: orientation and lesson pages (sanitized HTML), worked examples, "
        "practice, check, progress and stages (the facilitator: a preview)", TAG,
        response=schemas.FamiliarizeView, problems=(403,),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/familiarize/orientation", saw_orientation, "sawOrientation",
        "Participants: how many orientation pages you have seen", TAG,
        response=schemas.FamiliarizeView, request=schemas.OrientationSeen, problems=(403, 409),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/familiarize/lesson", read_lesson, "readLesson",
        "Participants: you read the coding lesson and the worked examples", TAG,
        response=schemas.FamiliarizeView, problems=(403, 409),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/familiarize/practice/{item_id}", code_practice, "codePractice",
        "Participants: your codes for a practice item; the facilitator's example codes come back (your first "
        "answer stays)", TAG, response=schemas.FamiliarizeView, request=schemas.PracticeAnswerIn, problems=(403, 409),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/familiarize/check", take_check, "takeCheck",
        "Participants: an attempt at the check (which codes describe values); the score, and whether you passed",
        TAG, response=schemas.CheckOutcome, request=schemas.CheckAnswers, problems=(403, 409),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/familiarize/results", results, "familiarizeResults",
        "The facilitator's view: every participant's orientation, lesson, practice, check attempts and stages", TAG,
        response=schemas.FamiliarizeResults, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/participants/{participant_id}/stages", participant_stages, "participantStages",
        "Which of a participant's stages are open, and why (the participant or the facilitator)", TAG,
        response=schemas.ParticipantStages,
    ),
    Endpoint(
        "POST", "/studies/{study_id}/participants/{participant_id}/stages/{stage}/complete", complete_stage,
        "completeStage", "Participants: say you are done with Interact (which opens Reflect)", TAG,
        response=schemas.ParticipantStages, problems=(403, 409),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/stage-overrides", list_overrides, "listStageOverrides",
        "The stages the facilitator opened or closed for groups and people", TAG,
        response=schemas.StageOverrideList, problems=(403,),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/stage-overrides", set_override, "setStageOverride",
        "Open or close a stage for a group or a participant (`default`: back to the rule)", TAG,
        response=schemas.StageOverrideList, request=schemas.StageOverrideIn, problems=(403,),
    ),
]  # fmt: skip
