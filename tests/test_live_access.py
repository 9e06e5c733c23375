"""/live knows people the way the rooms do (session cookie or ?token=), and only that way: an identity
claimed in the query string is no identity, with sandbox rooms on or off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import msgpack
import pytest
from websockets.asyncio.client import connect

from tests.helpers.live_client import LiveClient, check_server_frame, live_url
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.helpers.study_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ServerProcess(tmp_path_factory.mktemp("live-access") / "data")
    server.start()
    try:
        yield build_world(server)
    finally:
        server.stop()


@asynccontextmanager
async def connect_live(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[LiveClient]:
    """Connect to /live (with these headers, e.g. a session cookie) and read the hello frame."""
    async with connect(url, additional_headers=headers or {}, max_size=None) as websocket:
        with anyio.fail_after(10):
            data = await websocket.recv()
        assert isinstance(data, bytes)
        hello = check_server_frame(msgpack.unpackb(data, raw=False))
        assert hello["type"] == "hello", hello
        yield LiveClient(websocket, hello)


async def subscribe_reply(url: str, study: str, group: str, headers: dict[str, str] | None = None) -> str:
    """'ack' or the error code answering a subscription to `study`/`group`."""
    async with connect_live(url, headers) as client:
        reply, _ = await client.request({"type": "session.subscribe", "study": study, "group": group})
    return "ack" if reply["type"] == "ack" else str(reply["code"])


async def test_a_session_cookie_is_who_you_are_on_live(world: World) -> None:
    async with connect_live(live_url(world.server), world.participant_a.cookie_headers) as ravi:
        assert ravi.hello["principal"]["participant"] == world.ids["PA"]
        assert ravi.hello["principal"]["role"] == "participant"


@pytest.mark.parametrize(
    ("role", "group", "expected"),
    [
        ("participant A", "GA", "ack"),
        ("participant A", "GB", "forbidden"),
        ("observer A", "GA", "ack"),
        ("owner", "GB", "ack"),
        ("other facilitator", "GA", "forbidden"),
    ],
)
async def test_who_may_join_which_live_session(world: World, role: str, group: str, expected: str) -> None:
    person = world.people[role]
    url = live_url(world.server)
    assert await subscribe_reply(url, world.ids["S"], world.ids[group], person.cookie_headers) == expected


@pytest.mark.parametrize("study", ["S", "a study that does not exist"])
async def test_an_identity_claimed_in_the_query_is_refused_4401(world: World, study: str) -> None:
    claimed = world.ids.get(study, "0123456789abcdef")
    async with connect(live_url(world.server, role="facilitator", study=claimed)) as websocket:
        assert await frames_until_close(websocket) == []
        assert websocket.close_code == 4401


@pytest.fixture
def closed_sandbox(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", extra_args=["--no-sandbox-rooms"])
    process.start()
    yield process
    process.stop()


async def test_without_sandbox_rooms_live_needs_a_real_identity_too(closed_sandbox: ServerProcess) -> None:
    async with connect(live_url(closed_sandbox, role="facilitator", study="s1")) as websocket:
        assert await frames_until_close(websocket) == []
        assert websocket.close_code == 4401
