"""Groups of a study: list, create, read, rename."""

from __future__ import annotations

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, require_manager, visible_group, visible_study
from calma.api.problems import conflict
from calma.studies.store import AlreadyExists

TAG = "groups"


async def list_groups(call: Call) -> Response:
    study = await visible_study(call)
    groups = await call.api.store.groups_of(study.id)
    visible = [schemas.Group.of(g) for g in groups if policy.sees_group(call.user, study, g)]
    return json_reply(schemas.GroupList(groups=visible))


async def create_group(call: Call) -> Response:
    study = await managed_study(call)
    request = call.body_as(schemas.GroupCreate)
    try:
        group = await call.api.store.create_group(study.id, request.name)
    except AlreadyExists as exc:
        raise conflict(str(exc)) from exc
    return json_reply(schemas.Group.of(group), status=201)


async def get_group(call: Call) -> Response:
    study = await visible_study(call)
    return json_reply(schemas.Group.of(await visible_group(call, study, call.param("group_id"))))


async def rename_group(call: Call) -> Response:
    study = await visible_study(call)
    group = await visible_group(call, study, call.param("group_id"))
    require_manager(call, study)
    request = call.body_as(schemas.GroupRename)
    try:
        renamed = await call.api.store.rename_group(study.id, group.id, request.name)
    except AlreadyExists as exc:
        raise conflict(str(exc)) from exc
    return json_reply(schemas.Group.of(renamed))


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/groups", list_groups, "listGroups",
        "The study's groups (a participant or observer: their own)", TAG, response=schemas.GroupList,
    ),
    Endpoint(
        "POST", "/studies/{study_id}/groups", create_group, "createGroup", "Add a group to a study", TAG,
        status=201, response=schemas.Group, request=schemas.GroupCreate, problems=(403, 409),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/groups/{group_id}", get_group, "getGroup", "A group", TAG,
        response=schemas.Group,
    ),
    Endpoint(
        "PATCH", "/studies/{study_id}/groups/{group_id}", rename_group, "renameGroup", "Rename a group", TAG,
        response=schemas.Group, request=schemas.GroupRename, problems=(403, 409),
    ),
]  # fmt: skip
