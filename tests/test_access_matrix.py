"""Who may do what: every role against every endpoint and every kind of room, allowed or denied.

The world (tests/helpers/study_world.py): Ana owns study S with groups A and B;
Bo owns study T; Ravi is a participant of group A, Mei of group B; Obi observes
group A. What someone may not see does not exist for them (404); what they may
see but not change is forbidden (403); nobody signed in is 401.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.admin import admin_token
from tests.helpers.room_probe import READ_ONLY, READ_WRITE, probe_room
from tests.helpers.server import ServerProcess
from tests.helpers.study_world import World, build_world

ROLES = ("anonymous", "owner", "other facilitator", "participant A", "participant B", "observer A")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ServerProcess(tmp_path_factory.mktemp("matrix") / "data")
    server.start()
    try:
        yield build_world(server)
    finally:
        server.stop()


def unique(prefix: str) -> dict[str, Any]:
    return {"name": f"{prefix} {uuid.uuid4().hex[:8]}"}


# -- the REST API ---------------------------------------------------------------------------------

#   method    path                                           body                          anon owner other  pA   pB   obs
API = [
    ("GET",   "/api/me",                                     None,                         (401, 200, 200, 200, 200, 200)),
    ("GET",   "/api/session",                                None,                         (200, 200, 200, 200, 200, 200)),
    ("GET",   "/api/studies",                                None,                         (401, 200, 200, 200, 200, 200)),
    ("POST",  "/api/studies",                                {"template": "blank"},        (401, 201, 201, 403, 403, 403)),
    ("GET",   "/api/studies/{S}",                            None,                         (401, 200, 404, 200, 200, 200)),
    ("PATCH", "/api/studies/{S}",                            {"orientation": "# Welcome"}, (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{T}",                            None,                         (401, 404, 200, 404, 404, 404)),
    ("GET",   "/api/studies/{S}/groups",                     None,                         (401, 200, 404, 200, 200, 200)),
    ("POST",  "/api/studies/{S}/groups",                     "new group",                  (401, 201, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/groups/{GA}",                None,                         (401, 200, 404, 200, 404, 200)),
    ("GET",   "/api/studies/{S}/groups/{GB}",                None,                         (401, 200, 404, 404, 200, 404)),
    ("PATCH", "/api/studies/{S}/groups/{GA}",                "renamed",                    (401, 200, 404, 403, 404, 403)),
    ("GET",   "/api/studies/{S}/invites",                    None,                         (401, 200, 404, 403, 403, 403)),
    ("POST",  "/api/studies/{S}/invites",                    {"group_id": "{GA}"},         (401, 201, 404, 403, 403, 403)),
    ("POST",  "/api/studies/{S}/invites/{INV}/revoke",       None,                         (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/participants",               None,                         (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/participants?group_id={GA}", None,                         (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/progress",                   None,                         (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/participants/{PA}/progress", None,                         (401, 200, 404, 200, 404, 404)),
    ("PUT",   "/api/studies/{S}/participants/{PA}/progress", {"stage": "familiarize"},     (401, 200, 404, 200, 404, 404)),
    ("GET",   "/api/studies/{S}/participants/{PB}/progress", None,                         (401, 200, 404, 404, 200, 404)),
    ("GET",   "/api/studies/{S}/canvas?group_id={GA}",       None,                         (401, 200, 404, 200, 404, 200)),
    ("POST",  "/api/studies/{S}/canvas/labels",              {"text": "kind", "group_id": "{GA}"}, (401, 201, 404, 201, 404, 403)),
    ("POST",  "/api/studies/{S}/canvas/refresh",             {"group_id": "{GA}"},         (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/discuss?group_id={GA}",      None,                         (401, 200, 404, 200, 404, 200)),
    ("PUT",   "/api/studies/{S}/discuss/top3",               {"entries": [{"name": "kind"}]}, (401, 403, 404, 409, 409, 403)),
    ("GET",   "/api/studies/{S}/discuss/consensus?group_id={GA}", None,                    (401, 409, 404, 403, 404, 403)),
    ("GET",   "/api/studies/{S}/outputs/axes.json?group_id={GA}", None,                    (401, 200, 404, 403, 403, 403)),
    ("GET",   "/api/studies/{S}/outputs/axes.csv?group_id={GA}",  None,                    (401, 200, 404, 403, 403, 403)),
]  # fmt: skip


def _body(world: World, body: Any) -> Any:
    if isinstance(body, str):
        return unique(body)
    if isinstance(body, dict):
        return {key: world.path(value) if isinstance(value, str) else value for key, value in body.items()}
    return body


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "expected"),
    [
        pytest.param(method, path, body, role, expected, id=f"{role}: {method} {path}")
        for (method, path, body, statuses) in API
        for role, expected in zip(ROLES, statuses, strict=True)
    ],
)
def test_api_access(world: World, method: str, path: str, body: Any, role: str, expected: int) -> None:
    person = world.people[role]
    response = person.request(method, world.path(path), json=_body(world, body))
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == expected


def test_each_sees_only_their_own_in_lists(world: World) -> None:
    ids = world.ids
    owner_studies = {s["id"] for s in world.owner.ok("GET", "/api/studies")["studies"]}
    other_studies = {s["id"] for s in world.other_facilitator.ok("GET", "/api/studies")["studies"]}
    assert ids["S"] in owner_studies and ids["T"] not in owner_studies
    assert ids["T"] in other_studies and ids["S"] not in other_studies
    for person in (world.participant_a, world.participant_b, world.observer):
        assert [s["id"] for s in person.ok("GET", "/api/studies")["studies"]] == [ids["S"]]
    assert [g["id"] for g in world.participant_a.ok("GET", world.path("/api/studies/{S}/groups"))["groups"]] == [ids["GA"]]
    assert [g["id"] for g in world.participant_b.ok("GET", world.path("/api/studies/{S}/groups"))["groups"]] == [ids["GB"]]
    assert [g["id"] for g in world.observer.ok("GET", world.path("/api/studies/{S}/groups"))["groups"]] == [ids["GA"]]
    owner_groups = {g["id"] for g in world.owner.ok("GET", world.path("/api/studies/{S}/groups"))["groups"]}
    assert {ids["GA"], ids["GB"]} <= owner_groups


def test_the_facilitator_sees_each_participant_and_their_stage(world: World) -> None:
    everyone = world.owner.ok("GET", world.path("/api/studies/{S}/participants"))["participants"]
    assert {p["display_name"] for p in everyone} >= {"Ravi", "Mei"}
    group_a = world.owner.ok("GET", world.path("/api/studies/{S}/participants?group_id={GA}"))["participants"]
    assert {p["display_name"] for p in group_a} == {"Ravi"}
    progress = world.owner.ok("GET", world.path("/api/studies/{S}/progress"))
    assert progress["stage_order"] == ["familiarize", "interact", "reflect", "discuss"]
    stages = {p["display_name"]: p["stage"] for p in progress["participants"]}
    assert stages["Ravi"] == stages["Mei"] == "familiarize"


def test_a_participant_moves_only_to_open_stages_and_the_facilitator_anywhere(world: World) -> None:
    mei, path = world.participant_b, world.path("/api/studies/{S}/participants/{PB}/progress")
    locked = mei.put(path, {"stage": "interact"})
    assert locked.status_code == 409 and "previous stage not completed yet" in locked.json()["detail"]
    world.owner.ok("PUT", world.path("/api/studies/{S}/stage-overrides"),
                   {"participant_id": world.ids["PB"], "stage": "interact", "state": "open"})
    assert mei.ok("PUT", path, {"stage": "interact"})["stage"] == "interact"
    skipped = mei.put(path, {"stage": "discuss"})
    assert skipped.status_code == 409 and "not open for you" in skipped.json()["detail"]
    assert world.owner.ok("PUT", path, {"stage": "discuss"})["stage"] == "discuss"
    assert mei.ok("GET", path)["stage"] == "discuss"
    assert world.owner.ok("PUT", path, {"stage": "familiarize"})["stage"] == "familiarize"


def test_an_unknown_study_is_the_same_404_as_someone_elses(world: World) -> None:
    theirs = world.owner.get(world.path("/api/studies/{T}"))
    nobodys = world.owner.get("/api/studies/0123456789abcdef")
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json()["detail"] == nobodys.json()["detail"]


# -- rooms ----------------------------------------------------------------------------------------

RW, RO = READ_WRITE, READ_ONLY
ED = "4422"  # admitted to write, but the probe's label is not part of the edits room's schema: its guard refuses it
#   room                                    anon    owner  other   pA      pB      obs
ROOMS = [
    ("study-{S}.group-{GA}.board",         ("4401", RO,   "4403", RO,     "4403", RO)),  # the server's: read-only
    ("study-{S}.group-{GA}.edits",         ("4401", ED,   "4403", ED,     "4403", RO)),  # writable, guarded
    ("study-{S}.group-{GA}.control",       ("4401", RO,   "4403", RO,     "4403", RO)),
    ("study-{S}.group-{GA}.p-{PA}",        ("4401", RW,   "4403", RW,     "4403", "4403")),
    ("study-{S}.group-{GB}.board",         ("4401", RO,   "4403", "4403", RO,     "4403")),
    ("study-{S}.group-{GB}.control",       ("4401", RO,   "4403", "4403", RO,     "4403")),
    ("study-{S}.group-{GB}.p-{PB}",        ("4401", RW,   "4403", "4403", RW,     "4403")),
    ("study-{S}.group-{GB}.p-{PA}",        ("4401", "4403", "4403", "4403", "4403", "4403")),  # PA is not in B
    ("study-{T}.group-{TG}.board",         ("4401", "4403", RO,   "4403", "4403", "4403")),
    ("study-0123456789abcdef.group-{GA}.board", ("4401", "4403", "4403", "4403", "4403", "4403")),  # no such study
]  # fmt: skip


@pytest.mark.parametrize(
    ("room", "role", "expected"),
    [
        pytest.param(room, role, expected, id=f"{role}: {room}")
        for room, outcomes in ROOMS
        for role, expected in zip(ROLES, outcomes, strict=True)
    ],
)
async def test_room_access_with_a_session_cookie(world: World, room: str, role: str, expected: str) -> None:
    person = world.people[role]
    assert await probe_room(world.server.room_url(world.path(room)), person.cookie_headers) == expected


@pytest.fixture(scope="module")
def tokens(world: World) -> dict[str, str]:
    """The same people as tokens from `calma admin token` (a participant token reuses their record by name)."""
    data_dir: Path = world.server.data_dir
    ids = world.ids
    return {
        "owner": admin_token(data_dir, study=ids["S"], role="facilitator"),
        "other facilitator": admin_token(data_dir, study=ids["T"], role="facilitator"),
        "participant A": admin_token(data_dir, study=ids["S"], group=ids["GA"], role="participant", name="Ravi"),
        "participant B": admin_token(data_dir, study=ids["S"], group=ids["GB"], role="participant", name="Mei"),
        "observer A": admin_token(data_dir, study=ids["S"], group=ids["GA"], role="observer"),
    }


@pytest.mark.parametrize(
    ("room", "role", "expected"),
    [
        pytest.param(room, role, expected, id=f"{role}: {room}")
        for room, outcomes in ROOMS
        for role, expected in itertools.islice(zip(ROLES, outcomes, strict=True), 1, None)
    ],
)
async def test_room_access_with_a_token(
    world: World, tokens: dict[str, str], room: str, role: str, expected: str
) -> None:
    url = world.server.room_url(world.path(room)) + f"?token={tokens[role]}"
    assert await probe_room(url) == expected


def test_a_participant_token_is_the_participant_who_joined(world: World, tokens: dict[str, str]) -> None:
    me = world.participant_a.ok("GET", "/api/me")
    with_token = world.anonymous.get("/api/me", headers={"Authorization": f"Bearer {tokens['participant A']}"})
    assert with_token.json()["participant_id"] == me["participant_id"] == world.ids["PA"]


async def test_asking_to_observe_only_ever_lowers_a_permission(world: World) -> None:
    board = world.server.room_url(world.path("study-{S}.group-{GA}.board"))
    assert await probe_room(board + "?observe=1", world.participant_a.cookie_headers) == READ_ONLY
    assert await probe_room(board + "?observe=1", world.participant_b.cookie_headers) == "4403"


async def test_a_session_cookie_from_another_site_is_refused(world: World) -> None:
    board = world.server.room_url(world.path("study-{S}.group-{GA}.board"))
    foreign = {**world.participant_a.cookie_headers, "Origin": "https://evil.example"}
    same = {**world.participant_a.cookie_headers, "Origin": world.server.http_url}
    assert await probe_room(board, foreign) == "4401"
    assert await probe_room(board, same) == READ_ONLY  # admitted (the board is read-only for everyone)


async def test_a_malformed_study_room_name_is_4404(world: World) -> None:
    assert await probe_room(world.server.room_url("study-nope.board"), world.owner.cookie_headers) == "4404"


async def test_sandbox_rooms_stay_open_by_default(world: World) -> None:
    assert await probe_room(world.server.room_url("demo")) == READ_WRITE
    assert await probe_room(world.server.room_url("demo") + "?observe=1") == READ_ONLY
