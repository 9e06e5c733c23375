"""A /live control-channel client over a real websocket, for tests.

Every frame it receives is checked against the server-frame models built from
shared_schema/control.json, so any test using it also proves the server speaks
the schema.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import anyio
import msgpack
from websockets.asyncio.client import ClientConnection, connect

from calma.live.schema import CONTROL_SCHEMA
from tests.helpers.server import ServerProcess

Frame = dict[str, Any]


def live_url(server: ServerProcess, **query: str) -> str:
    """`ws://…/live?…` (only `token` names anyone: /live takes no identity from the rest of the query)."""
    return f"{server.ws_url}/live" + (f"?{urlencode(query)}" if query else "")


def check_server_frame(frame: Any) -> Frame:
    """The frame, after asserting it is a map whose type and fields the schema allows from a server."""
    assert isinstance(frame, dict), frame
    model = CONTROL_SCHEMA.server_messages.get(frame.get("type"))  # type: ignore[arg-type]
    assert model is not None, f"not a server frame type: {frame!r}"
    model.model_validate(frame)
    return frame


@dataclass
class LiveClient:
    websocket: ClientConnection
    hello: Frame
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        return f"r{next(self._ids)}"

    async def send(self, frame: Frame) -> None:
        await self.websocket.send(msgpack.packb(frame))

    async def send_raw(self, data: bytes | str) -> None:
        await self.websocket.send(data)

    async def recv(self, timeout: float = 10.0) -> Frame:
        with anyio.fail_after(timeout):
            data = await self.websocket.recv()
        assert isinstance(data, bytes), "the control channel is binary"
        return check_server_frame(msgpack.unpackb(data, raw=False))

    async def recv_until(
        self, kind: str, request_id: str | None = None, timeout: float = 10.0
    ) -> tuple[Frame, list[Frame]]:
        """The first frame of `kind` (answering `request_id`, if given), and every frame received before it."""
        before: list[Frame] = []
        with anyio.fail_after(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame["type"] == kind and (request_id is None or frame.get("id") == request_id):
                    return frame, before
                before.append(frame)

    async def request(self, frame: Frame, timeout: float = 10.0) -> tuple[Frame, list[Frame]]:
        """Send `frame` with a fresh id; return the ack, pong or error answering it and the frames before it."""
        request_id = self.next_id()
        await self.send({**frame, "id": request_id})
        with anyio.fail_after(timeout):
            before: list[Frame] = []
            while True:
                reply = await self.recv(timeout)
                if reply.get("id") == request_id and reply["type"] in ("ack", "pong", "error"):
                    return reply, before
                before.append(reply)

    async def ping(self) -> Frame:
        reply, _ = await self.request({"type": "ping", "client_time": 1.5})
        assert reply["type"] == "pong", reply
        return reply

    async def command(self, study: str, group: str, command: Frame) -> tuple[Frame, list[Frame]]:
        return await self.request({"type": "control.command", "study": study, "group": group, "command": command})

    async def subscribe(self, study: str, group: str) -> Frame:
        """Subscribe; return the control.state that came with the ack."""
        reply, before = await self.request({"type": "session.subscribe", "study": study, "group": group})
        assert reply["type"] == "ack", reply
        states = [frame for frame in before if frame["type"] == "control.state"]
        assert states, before
        return states[-1]


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
