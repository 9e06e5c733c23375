"""Reflect over REST: what a participant codes and how they group it, as operations; views, history, exports.

Changes arrive as batches of operations (`POST …/reflect/ops`), each with an
id the browser chose: an operation sent again — after a reload, a dropped
connection, from a second tab or an offline queue — is applied once.
Participants read and change only their own records; the facilitator reads
everyone's progress and exports, and releases each group's codes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import group_meant, managed_study, visible_participant, visible_study
from calma.api.problems import FieldError, Problem, conflict, forbidden, not_found
from calma.familiarize.service import StageGate
from calma.reflect.ops import OPERATION
from calma.reflect.service import ReflectService, export_csv
from calma.studies.model import Participant, Stage, Study

TAG = "reflect"


async def _me(call: Call) -> tuple[Study, Participant]:
    study = await visible_study(call)
    principal = call.user
    if not principal.is_participant or principal.participant_id is None:
        raise forbidden("only participants code; facilitators read progress and exports")
    participant = await call.api.store.participant(principal.participant_id)
    if participant is None:
        raise not_found("the participant")
    return study, participant


async def _others(call: Call, participant: Participant) -> list[Participant]:
    return await call.api.store.participants_of(participant.study_id, participant.group_id)


def _service(call: Call) -> ReflectService:
    return call.api.reflect_service()


async def get_state(call: Call) -> Response:
    study, me = await _me(call)
    service = _service(call)
    state = await service.state(study, me, await _others(call, me))
    sharing = me.id in await service.store.sharing([me.id])
    released_at, _ = await service.store.settings(study.id)
    return json_reply(schemas.ReflectState.model_validate(
        {**state, "sharing": sharing, "codes_released": released_at is not None}
    ))


async def post_ops(call: Call) -> Response:
    study, me = await _me(call)
    gate = StageGate(call.api.familiarize_store())
    if not await gate.is_open(study, me.id, me.group_id, Stage.REFLECT):
        raise conflict("Reflect is not open for you yet: say you are done with Interact, or ask your facilitator")
    body = call.body_as(schemas.ReflectOpsIn)
    ops, errors = [], []
    for index, entry in enumerate(body.ops):
        try:
            ops.append((entry.op_id, OPERATION.validate_python(entry.op)))
        except ValidationError as exc:
            for error in exc.errors()[:5]:
                where = ".".join(str(part) for part in error["loc"])
                errors.append(FieldError(f"ops.{index}.op.{where}", error["msg"], error["type"]))
    if errors:
        raise Problem("validation-failed", "an operation is not valid; nothing was applied", errors=errors)
    outcomes, version = await _service(call).apply_ops(study, me, ops, await _others(call, me))
    return json_reply(
        schemas.ReflectOpsOut(
            outcomes=[schemas.ReflectOpOutcome(op_id=o.op_id, status=o.status, result=o.result, error=o.error)
                      for o in outcomes],
            version=version,
        )
    )


async def get_history(call: Call) -> Response:
    study, me = await _me(call)
    entries = await _service(call).store.history(me.id)
    return json_reply(schemas.ReflectHistory(entries=[
        schemas.ReflectHistoryEntry(op_id=e.op_id, kind=e.kind, payload=e.payload, result=e.result, created_at=e.created_at)
        for e in entries
    ]))


async def _export_subject(call: Call) -> tuple[Study, Participant]:
    study = await visible_study(call)
    query = call.query_as(schemas.ExportQuery)
    principal = call.user
    if policy.manages_study(principal, study):
        if query.participant_id is None:
            raise Problem("validation-failed", "facilitators: say whose export (participant_id)")
        return study, await visible_participant(call, study, query.participant_id)
    if query.participant_id not in (None, principal.participant_id):
        raise not_found("the participant")
    return await _me(call)


async def export_json(call: Call) -> Response:
    study, participant = await _export_subject(call)
    export = await _service(call).export(study, participant, await _others(call, participant))
    return Response(_dumps(export), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="reflect-{participant.id}.json"'})


async def export_csv_route(call: Call) -> Response:
    study, participant = await _export_subject(call)
    export = await _service(call).export(study, participant, await _others(call, participant))
    return Response(export_csv(export), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reflect-{participant.id}.csv"'})


def _dumps(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


async def set_sharing(call: Call) -> Response:
    study, me = await _me(call)
    agree = call.body_as(schemas.ReflectSharingIn).agree
    await _service(call).store.set_sharing(me.id, agree)
    return await get_state(call)


async def _settings(call: Call, study: Study) -> schemas.ReflectSettings:
    released_at, share = await _service(call).store.settings(study.id)
    return schemas.ReflectSettings(codes_released=released_at is not None,
                                   codes_released_at=None if released_at is None else datetime.fromtimestamp(released_at, UTC),
                                   share_sample=share)


async def get_settings(call: Call) -> Response:
    return json_reply(await _settings(call, await managed_study(call)))


async def put_settings(call: Call) -> Response:
    study = await managed_study(call)
    body = call.body_as(schemas.ReflectSettingsIn)
    store = _service(call).store
    released_at, share = await store.settings(study.id)
    if body.codes_released is not None:
        released_at = (released_at or call.api.now()) if body.codes_released else None
    if body.share_sample is not None:
        share = body.share_sample
    await store.set_settings(study.id, released_at, share)
    if call.api.canvas is not None:  # the code cards on each group's canvas follow the release
        for group in await call.api.store.groups_of(study.id):
            call.api.canvas_service().group_stale(study.id, group.id)
    return json_reply(await _settings(call, study))


async def study_progress(call: Call) -> Response:
    study = await managed_study(call)
    service = _service(call)
    rows = []
    participants = await call.api.store.participants_of(study.id)
    for participant in participants:
        others = [p for p in participants if p.group_id == participant.group_id]
        state = await service.state(study, participant, others, hints=False)
        rows.append(schemas.ReflectParticipantProgress(participant_id=participant.id, display_name=participant.display_name,
                                                       group_id=participant.group_id,
                                                       progress=schemas.ReflectProgress(**state["progress"])))
    return json_reply(schemas.ReflectStudyProgress(participants=rows))


async def group_codes(call: Call) -> Response:
    study = await visible_study(call)
    principal = call.user
    group = await group_meant(call, study, call.query_as(schemas.GroupCodesQuery).group_id)
    service = _service(call)
    released_at, _ = await service.store.settings(study.id)
    if released_at is None and not policy.manages_study(principal, study):
        raise conflict("the facilitator has not released the group's codes yet")
    participants = await call.api.store.participants_of(study.id, group.id)
    codes = await service.group_codes(study, participants)
    return json_reply(schemas.GroupCodes(
        group_id=group.id, released_at=None if released_at is None else datetime.fromtimestamp(released_at, UTC),
        codes=[schemas.GroupCode(**c) for c in codes],
    ))


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/reflect", get_state, "reflectState",
        "Participants: what you may code (baseline, your replies, a shared sample), your annotations, codes with "
        "counts, excerpts and hints, clusters, progress", TAG, response=schemas.ReflectState, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/reflect/ops", post_ops, "reflectOps",
        "Participants: apply operations to your codes, annotations and clusters (each once, by op_id)", TAG,
        response=schemas.ReflectOpsOut, request=schemas.ReflectOpsIn, problems=(403, 409),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/history", get_history, "reflectHistory",
        "Participants: every operation you applied, in order, with its result", TAG,
        response=schemas.ReflectHistory, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/export.json", export_json, "reflectExportJson",
        "A participant's session artifact (JSON): interactions, annotations, codes, clusters", TAG,
        query=schemas.ExportQuery, text_media_type="application/json", problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/export.csv", export_csv_route, "reflectExportCsv",
        "The same as CSV, in long form (a row per annotation-code and cluster-code pair)", TAG,
        query=schemas.ExportQuery, text_media_type="text/csv", problems=(403,),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/reflect/sharing", set_sharing, "reflectSharing",
        "Participants: agree (or not) that others in your group may code a sample of your conversations", TAG,
        response=schemas.ReflectState, request=schemas.ReflectSharingIn, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/settings", get_settings, "reflectSettings",
        "Whether the groups' codes are released and participants code a shared sample", TAG,
        response=schemas.ReflectSettings, problems=(403,),
    ),
    Endpoint(
        "PUT", "/studies/{study_id}/reflect/settings", put_settings, "setReflectSettings",
        "Release the groups' codes; let participants code a sample of shared conversations", TAG,
        response=schemas.ReflectSettings, request=schemas.ReflectSettingsIn, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/progress", study_progress, "reflectProgress",
        "The facilitator's view: every participant's responses and baseline coded, codes and clusters", TAG,
        response=schemas.ReflectStudyProgress, problems=(403,),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/reflect/group-codes", group_codes, "groupCodes",
        "A group's codes with counts and frequencies: participants only once the facilitator released them", TAG,
        response=schemas.GroupCodes, query=schemas.GroupCodesQuery, problems=(403, 409),
    ),
]  # fmt: skip
