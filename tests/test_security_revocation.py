"""Revoked means gone now: a signed-out person's open websockets close, they do not keep writing.

The attack: a room or /live connection is authenticated once, at its handshake. A facilitator
re-issues a participant's personal link (the old device was lost), or signs out everywhere after
leaving a laptop signed in; the person on the other end kept their open connections and went on
writing to the group's board and chatting. Now every authenticated websocket is registered under
the credential that let it in, and revoking that credential closes it with 4401: at once on the
node that revoked it, and within `--recheck-credentials` seconds on every other node and after
`calma admin reset-password` (each node rechecks its open connections' credentials in the store).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pycrdt
import pytest
import redis as redis_client
from pycrdt import create_sync_message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from calma.access.live_connections import RedisRevocations
from calma.access.sessions import SESSION_COOKIE
from calma.studies.rooms import StudyRoom
from tests.helpers.admin import calma_admin, create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.lead import LEAD, server_with_lead, sign_in_lead
from tests.helpers.live_client import LiveClient, connect_live, live_url
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import REPO, ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("revocation") / "data") as node:
        yield node


def new_group(lena: Person) -> tuple[str, str]:
    study = lena.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "Teachers"}, status=201)["id"]
    return study, group


def personal_link(lena: Person, study: str, group: str) -> dict[str, Any]:
    created: dict[str, Any] = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group}, status=201)
    return created


def joined_cookie(server: ServerProcess, token: str, name: str) -> dict[str, str]:
    """A participant's browser opening their link: the session cookie it gets, as headers."""
    answer = httpx.post(f"{server.http_url}/api/join", json={"token": token, "display_name": name}, timeout=30)
    assert answer.status_code == 201, answer.text
    return {"Cookie": f"{SESSION_COOKIE}={answer.cookies[SESSION_COOKIE]}"}


async def open_room(url: str, headers: dict[str, str] | None = None) -> ClientConnection:
    """A room connection the server accepted: it answered the sync step 1."""
    websocket = await connect(url, additional_headers=headers or {}, max_size=None)
    await websocket.send(create_sync_message(pycrdt.Doc()))
    with anyio.fail_after(10):
        await websocket.recv()  # raises ConnectionClosed if the room refused us
    return websocket


async def closed_with(websocket: ClientConnection, timeout: float = 10.0) -> tuple[int | None, str]:
    """Wait (bounded) until the server closes the connection; its close code and reason."""
    with anyio.fail_after(timeout):
        try:
            while True:
                await websocket.recv()
        except ConnectionClosed:
            pass
    return websocket.close_code, websocket.close_reason or ""


async def live_closed_with(live: LiveClient, timeout: float = 10.0) -> tuple[int | None, str]:
    return await closed_with(live.websocket, timeout)


async def test_reissuing_a_personal_link_closes_the_participants_open_rooms_and_live(server: ServerProcess) -> None:
    lena = sign_in_lead(server)
    study, group = new_group(lena)
    link = personal_link(lena, study, group)
    ravi = joined_cookie(server, link["token"], "Ravi")
    edits = server.room_url(StudyRoom.edits(study, group).name)
    board = server.room_url(StudyRoom.board(study, group).name)

    # Ravi's lost laptop: an edits room and /live by its session cookie, the board by the link's token.
    async with (
        await open_room(edits, ravi) as edits_room,
        await open_room(f"{board}?token={link['token']}") as board_room,
        connect_live(live_url(server), ravi) as live,
        await open_room(edits, lena.cookie_headers) as lenas_room,
    ):
        await live.ping()
        # Lena re-issues the link: whoever holds the old one is signed out, open connections too.
        lena.ok("POST", f"/api/studies/{study}/invites/{link['id']}/reissue", status=201)

        for connection in (edits_room, board_room, live.websocket):
            code, reason = await closed_with(connection)
            assert code == 4401, (code, reason)
            assert "re-issued" in reason
        # Lena's own connection is untouched.
        await lenas_room.send(create_sync_message(pycrdt.Doc()))
        with anyio.fail_after(10):
            await lenas_room.recv()

    # And the old credentials cannot open new ones.
    refused = await connect(edits, additional_headers=ravi, max_size=None)
    assert (await closed_with(refused))[0] == 4401


async def test_revoking_a_link_closes_the_connections_open_with_its_token(server: ServerProcess) -> None:
    lena = sign_in_lead(server)
    study, group = new_group(lena)
    link = personal_link(lena, study, group)
    joined_cookie(server, link["token"], "Mei")  # the link is now Mei's; her token names her
    async with (
        await open_room(f"{server.room_url(StudyRoom.edits(study, group).name)}?token={link['token']}") as room,
        connect_live(live_url(server, token=link["token"])) as live,
    ):
        await live.ping()
        lena.ok("POST", f"/api/studies/{study}/invites/{link['id']}/revoke")
        for connection in (room, live.websocket):
            code, reason = await closed_with(connection)
            assert (code, reason) == (4401, "this link was revoked")


async def test_sign_out_everywhere_closes_the_other_devices_live(server: ServerProcess) -> None:
    desktop = sign_in_lead(server, "Lena's desktop")
    laptop = sign_in_lead(server, "Lena's laptop (left signed in at a conference)")
    study, group = new_group(desktop)
    async with (
        connect_live(live_url(server), laptop.cookie_headers) as laptop_live,
        connect_live(live_url(server), desktop.cookie_headers) as desktop_live,
        await open_room(server.room_url(StudyRoom.board(study, group).name), laptop.cookie_headers) as laptop_board,
    ):
        await laptop_live.ping()
        ended = desktop.ok("POST", "/api/session/revoke-all")
        assert ended["sessions_ended"] >= 2
        for connection in (laptop_live.websocket, laptop_board, desktop_live.websocket):
            code, reason = await closed_with(connection)
            assert (code, reason) == (4401, "signed out everywhere")


async def test_signing_out_closes_this_browsers_connections_only(server: ServerProcess) -> None:
    desktop = sign_in_lead(server, "Lena's desktop")
    laptop = sign_in_lead(server, "Lena's laptop")
    async with (
        connect_live(live_url(server), laptop.cookie_headers) as laptop_live,
        connect_live(live_url(server), desktop.cookie_headers) as desktop_live,
    ):
        assert laptop.request("DELETE", "/api/session").status_code == 204
        assert await live_closed_with(laptop_live) == (4401, "signed out")
        await desktop_live.ping()  # the other browser stays signed in and connected


async def test_a_password_reset_by_the_operator_closes_the_facilitators_open_connections(tmp_path: Path) -> None:
    # `calma admin reset-password` is another process: the server learns of it on its next recheck of the
    # credentials its open websockets were let in with (here every 0.3 s; 30 s by default). The same
    # recheck closes connections whose credential was revoked on another node.
    node = ServerProcess(tmp_path / "data", extra_args=["--recheck-credentials", "0.3"])
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        stolen_laptop = sign_in_lead(node, "the laptop that was stolen")
        async with connect_live(live_url(node), stolen_laptop.cookie_headers) as live:
            await live.ping()
            calma_admin(node.data_dir, "reset-password", "--email", LEAD[0], "--password-stdin",
                        stdin="a brand new long password\n")  # fmt: skip
            assert await live_closed_with(live) == (4401, "signed out")
    finally:
        node.stop()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_bad_recheck_interval_stops_the_server_with_a_message(tmp_path: Path, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calma", "serve", "--data-dir", str(tmp_path), "--port", "0", "--recheck-credentials", value],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--recheck-credentials must be a positive number of seconds" in result.stderr


async def test_with_redis_signing_out_everywhere_closes_the_other_nodes_connections_at_once(tmp_path: Path) -> None:
    # Two nodes behind a load balancer: Lena's laptop is connected to node B, she signs out everywhere
    # on node A. Node B hears it over Redis and closes the laptop's /live at once (its recheck interval
    # here is an hour, so only the notice can do it).
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    nodes: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            node = ServerProcess(tmp_path / "data", extra_args=["--redis", redis.url, "--recheck-credentials", "3600"])
            node.log_path = tmp_path / f"node-{name}.log"
            node.start()
            nodes.append(node)
        node_a, node_b = nodes
        create_facilitator(node_a.data_dir, *LEAD)
        desktop = sign_in_lead(node_a, "Lena's desktop")
        laptop = sign_in_lead(node_a, "Lena's laptop")
        async with connect_live(live_url(node_b), laptop.cookie_headers) as laptop_live:
            await laptop_live.ping()
            # Whoever can write to Redis can already do anything; still, junk on the channel is ignored.
            with redis_client.Redis(port=redis.port) as junk:
                for notice in (b"not json", b"x" * 100_000, b'{"keys": 5, "reason": "x"}', b"[]"):
                    junk.publish(RedisRevocations.CHANNEL, notice)
            with anyio.fail_after(10):
                while node_b.log().count("ignored a malformed revocation notice") < 4:
                    await anyio.sleep(0.05)  # polling the node's log for a condition, bounded
            await laptop_live.ping()  # still connected, node B still serving
            desktop.ok("POST", "/api/session/revoke-all")
            assert await live_closed_with(laptop_live) == (4401, "signed out everywhere")
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
