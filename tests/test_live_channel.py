"""The /live control channel: hello, ping/pong, subscriptions; a bad frame gets an error and the connection stays up.

Against a real study, group and tokens (`calma admin token`): /live knows nobody without a session or a token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import msgpack
import pytest
from websockets.asyncio.client import connect

from tests.helpers.live_client import LiveClient, connect_live, live_url
from tests.helpers.live_study import LiveStudy, make_live_study
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, LiveStudy]]:
    """One server and study for the module (the shutdown test has its own)."""
    server = ServerProcess(tmp_path_factory.mktemp("live-channel") / "data")
    server.start()
    try:
        yield server, make_live_study(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(node: tuple[ServerProcess, LiveStudy]) -> ServerProcess:
    return node[0]


@pytest.fixture(scope="module")
def study(node: tuple[ServerProcess, LiveStudy]) -> LiveStudy:
    return node[1]


def as_(server: ServerProcess, study: LiveStudy, who: str) -> str:
    """The /live URL of one of the study's people ("lead", "ana", "bo", "watcher")."""
    return live_url(server, token=study.tokens[who])


async def test_hello_says_who_the_connection_is_and_what_its_limits_are(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(as_(server, study, "ana")) as ana:
        hello = ana.hello
    assert hello["protocol"] == 1
    principal = hello["principal"]
    assert {key: principal[key] for key in ("role", "study", "group", "facilitator")} == {
        "role": "participant", "study": study.study, "group": study.group, "facilitator": None,
    }  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{16}", principal["participant"]), principal
    assert hello["limits"]["max_frame_bytes"] == 65536
    assert abs(hello["server_time"] - time.time() * 1000) < 60_000


async def test_ping_gets_a_pong_with_both_clocks(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(as_(server, study, "ana")) as ana:
        await ana.send({"type": "ping", "id": "clock-1", "client_time": 1234.5})
        pong = await ana.recv()
    assert pong["type"] == "pong" and pong["id"] == "clock-1" and pong["client_time"] == 1234.5
    assert abs(pong["server_time"] - time.time() * 1000) < 60_000


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"role": "admin", "study": "s1", "group": "g1"},
        {"role": "participant", "study": "s1", "group": "g1", "participant": "ana"},  # says who, proves nothing
        {"role": "facilitator", "study": "s1"},
        {"token": "not-a-token"},
        {"token": ""},
    ],
)
async def test_without_a_valid_identity_the_connection_is_closed_4401(
    server: ServerProcess, query: dict[str, str]
) -> None:
    async with connect(live_url(server, **query)) as websocket:
        assert await frames_until_close(websocket) == []
        assert websocket.close_code == 4401


BAD_FRAMES: dict[str, tuple[bytes | str, str, str | None]] = {
    # name: (frame, error code, id the error echoes)
    "text frame": ('{"type": "ping"}', "malformed", None),
    "not MessagePack": (b"\xc1\xc1\xc1", "malformed", None),
    "trailing bytes": (msgpack.packb({"type": "ping", "client_time": 1}) + b"\x00", "malformed", None),
    "an array, not a map": (msgpack.packb(["ping", 1]), "malformed", None),
    "a map key that is not a string": (msgpack.packb({1: "ping"}), "malformed", None),
    "no type": (msgpack.packb({"id": "a1", "client_time": 1}), "invalid", "a1"),
    "type is bytes": (msgpack.packb({"id": "a2", "type": b"ping", "client_time": 1}), "invalid", "a2"),
    "unknown type": (msgpack.packb({"id": "a3", "type": "launch.rockets"}), "unknown_type", "a3"),
    "a server frame type": (msgpack.packb({"id": "a4", "type": "pong", "client_time": 1, "server_time": 2}), "unknown_type", "a4"),
    "missing field": (msgpack.packb({"id": "a5", "type": "ping"}), "invalid", "a5"),
    "string for a number": (msgpack.packb({"id": "a6", "type": "ping", "client_time": "1"}), "invalid", "a6"),
    "bool for a number": (msgpack.packb({"id": "a7", "type": "ping", "client_time": True}), "invalid", "a7"),
    "NaN": (msgpack.packb({"id": "a8", "type": "ping", "client_time": float("nan")}), "invalid", "a8"),
    "unknown field": (msgpack.packb({"id": "a9", "type": "ping", "client_time": 1, "x": 1}), "invalid", "a9"),
    "bytes for a string": (msgpack.packb({"id": "b1", "type": "session.subscribe", "study": b"s1", "group": "g1"}), "invalid", "b1"),
    "oversized string field": (
        msgpack.packb({"id": "b2", "type": "session.subscribe", "study": "s" * 50_000, "group": "g1"}), "invalid", "b2",
    ),
    "unknown command": (
        msgpack.packb({"id": "b3", "type": "control.command", "study": "s1", "group": "g1", "command": {"name": "nuke"}}),
        "invalid", "b3",
    ),
    "id that is too long is not echoed": (msgpack.packb({"id": "i" * 65, "type": "ping", "client_time": 1}), "invalid", None),
    "id of the wrong type is not echoed": (msgpack.packb({"id": 7, "type": "nope"}), "unknown_type", None),
    "deeply nested": (b"\x81\xa4type" + b"\x91" * 5000 + b"\xc0", "malformed", None),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(BAD_FRAMES))
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_stays_up(
    server: ServerProcess, study: LiveStudy, kind: str
) -> None:
    frame, code, echoed = BAD_FRAMES[kind]
    async with connect_live(as_(server, study, "lead")) as offender:
        await offender.send_raw(frame)
        error = await offender.recv()
        assert error["type"] == "error" and error["code"] == code, (kind, error)
        assert error.get("id") == echoed, (kind, error)
        assert error["message"]
        await offender.ping()


async def test_an_oversized_frame_closes_that_connection_with_1009(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(as_(server, study, "lead")) as bystander:
        async with connect_live(as_(server, study, "ana")) as offender:
            await offender.send_raw(msgpack.packb({"type": "ping", "client_time": 1, "pad": "x" * 70_000}))
            await frames_until_close(offender.websocket)
            assert offender.websocket.close_code == 1009
        await bystander.ping()


async def test_subscribing_gives_the_state_now_and_after_every_change(server: ServerProcess, study: LiveStudy) -> None:
    s1, g1 = study.study, study.group
    async with (
        connect_live(as_(server, study, "ana")) as ana,
        connect_live(as_(server, study, "lead")) as lead,
    ):
        await lead.command(s1, g1, {"name": "segment.set", "segment": "lobby"})
        state = await ana.subscribe(s1, g1)
        assert state["state"]["segment"] == "lobby"
        ack, _ = await lead.command(s1, g1, {"name": "segment.set", "segment": "top3"})
        assert ack["type"] == "ack"
        changed, _ = await ana.recv_until("control.state")
        assert changed["state"]["segment"] == "top3" and changed["state"]["segment_since"] is not None

        ack, _ = await ana.request({"type": "session.unsubscribe", "study": s1, "group": g1})
        assert ack["type"] == "ack"
        await lead.command(s1, g1, {"name": "segment.set", "segment": "explore"})
        # Had the state gone to ana, it would have been queued before the lead's ack, so before this pong.
        _, before_pong = await ana.recv_until("pong", request_id=(await _ping_id(ana)))
        assert before_pong == []


async def _ping_id(client: LiveClient) -> str:
    request_id = client.next_id()
    await client.send({"type": "ping", "id": request_id, "client_time": 0})
    return request_id


async def test_a_session_that_is_not_yours_is_forbidden(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(as_(server, study, "ana")) as ana:
        for other_study, other_group in ((study.study, "0123456789abcdef"), ("0123456789abcdef", study.group)):
            reply, _ = await ana.request({"type": "session.subscribe", "study": other_study, "group": other_group})
            assert (reply["type"], reply["code"]) == ("error", "forbidden"), reply
        await ana.subscribe(study.study, study.group)


async def test_a_connection_subscribes_to_a_bounded_number_of_sessions(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(as_(server, study, "lead")) as lead:
        limit = lead.hello["limits"]["max_subscriptions"]
        bearer = {"Authorization": f"Bearer {study.tokens['lead']}"}
        async with httpx.AsyncClient(base_url=server.http_url, headers=bearer, timeout=30) as http:
            groups = [study.group]
            while len(groups) < limit + 1:
                created = await http.post(f"/api/studies/{study.study}/groups", json={"name": f"Group {len(groups)}"})
                assert created.status_code == 201, created.text
                groups.append(created.json()["id"])
        for group in groups[:limit]:
            await lead.subscribe(study.study, group)
        await lead.subscribe(study.study, groups[0])  # again: fine, it is already counted
        reply, _ = await lead.request({"type": "session.subscribe", "study": study.study, "group": groups[limit]})
        assert (reply["type"], reply["code"]) == ("error", "limit")


async def test_shutdown_closes_live_connections_with_1001(tmp_path_factory: pytest.TempPathFactory) -> None:
    own = ServerProcess(tmp_path_factory.mktemp("live-shutdown") / "data")
    await anyio.to_thread.run_sync(own.start)
    try:
        study = await anyio.to_thread.run_sync(make_live_study, own)
        async with connect_live(as_(own, study, "ana")) as ana:
            await ana.subscribe(study.study, study.group)
            await anyio.to_thread.run_sync(own.stop)
            frames: list[Any] = await frames_until_close(ana.websocket)
            assert ana.websocket.close_code == 1001, (frames, own.log()[-2000:])
            assert ana.websocket.close_reason == "server shutting down"
    finally:
        own.stop()


async def test_the_facilitator_brings_everyone_to_one_canvas_view_and_participants_may_not(
    server: ServerProcess, study: LiveStudy
) -> None:
    s1, g1 = study.study, study.group
    async with (
        connect_live(as_(server, study, "ana")) as ana,
        connect_live(as_(server, study, "lead")) as lead,
    ):
        await ana.subscribe(s1, g1)
        ack, _ = await lead.command(s1, g1, {"name": "view.set", "x": 250.0, "y": -75.5, "zoom": 1.5})
        assert ack["type"] == "ack"
        changed, _ = await ana.recv_until("control.state")
        view = changed["state"]["view"]
        assert (view["x"], view["y"], view["zoom"]) == (250, -75.5, 1.5) and view["at"] > 0

        refused, _ = await ana.command(s1, g1, {"name": "view.set", "x": 0.0, "y": 0.0, "zoom": 1.0})
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        for bad in ({"x": 0.0, "y": 0.0, "zoom": 0.0}, {"x": 2e6, "y": 0.0, "zoom": 1.0},
                    {"x": 0.0, "y": 0.0}, {"x": "0", "y": 0.0, "zoom": 1.0}):
            answer, _ = await lead.command(s1, g1, {"name": "view.set", **bad})
            assert (answer["type"], answer["code"]) == ("error", "invalid"), bad
