"""Live sessions on this node: each holds its control room loaded and tells subscribers of every change.

A session exists while anyone holds it (a subscriber, or a command being
carried out); it holds the hub room `study-<study>.group-<group>.control`
through `RoomManager.acquire`/`release`. Whenever the room's document
changes, however it changed, subscribers get one `control.state` frame: the
document observer only marks the session dirty (a pycrdt document cannot be
read inside its own observer) and the state is read and sent right after.
Commands on one session run one at a time, so each sees the last one's effect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from calma.hub.room import Room
from calma.hub.rooms import RoomManager
from calma.live import metrics
from calma.live.connection import LiveConnection, SessionKey
from calma.live.control_state import control_room_name, read_state
from calma.live.frames import encode_server_frame


def server_time_ms() -> int:
    return int(time.time() * 1000)


class LiveSession:
    """One live session (study + group) on this node: its control room, subscribers and command lock."""

    def __init__(self, key: SessionKey, rooms: RoomManager, room: Room, clock: Callable[[], int]) -> None:
        self.key = key
        self.rooms = rooms
        self.room = room
        self.subscribers: set[LiveConnection] = set()
        self.commands = anyio.Lock()
        self.holders = 0
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._dirty = False
        self._subscription = room.doc.observe(self._on_change)

    def _on_change(self, _event: Any) -> None:
        if not self._dirty:
            self._dirty = True
            self._loop.call_soon(self.publish_if_changed)

    def publish_if_changed(self) -> None:
        """Send the state to every subscriber if the document changed since the last send."""
        if self._dirty:
            self._dirty = False
            frame = self.state_frame_bytes()
            for connection in list(self.subscribers):
                connection.send_encoded(frame)

    def state_frame(self) -> dict[str, Any]:
        study, group = self.key
        return {
            "type": "control.state",
            "study": study,
            "group": group,
            "state": read_state(self.room.doc),
            "server_time": self._clock(),
        }

    def state_frame_bytes(self) -> bytes:
        return encode_server_frame(self.state_frame())

    def stop_observing(self) -> None:
        self.room.doc.unobserve(self._subscription)


class LiveSessions:
    """The sessions this node serves, created on first hold and dropped on last release."""

    def __init__(self, rooms: Callable[[], RoomManager], clock: Callable[[], int] = server_time_ms) -> None:
        self._rooms = rooms
        self._clock = clock
        self._sessions: dict[SessionKey, LiveSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    async def hold(self, key: SessionKey) -> LiveSession:
        """The session, its control room loaded (raises RoomClosed if it cannot be); `release` it after."""
        rooms = self._rooms()
        room = await rooms.acquire(control_room_name(*key))
        session = self._sessions.get(key)
        if session is None or session.room is not room:
            session = LiveSession(key, rooms, room, self._clock)
            self._sessions[key] = session
            metrics.SESSIONS.inc()
        session.holders += 1
        return session

    def release(self, session: LiveSession) -> None:
        session.holders -= 1
        if session.holders == 0:
            session.stop_observing()
            if self._sessions.get(session.key) is session:
                del self._sessions[session.key]
                metrics.SESSIONS.dec()
        session.rooms.release(session.room)

    @asynccontextmanager
    async def held(self, key: SessionKey) -> AsyncIterator[LiveSession]:
        session = await self.hold(key)
        try:
            yield session
        finally:
            self.release(session)

    def get(self, key: SessionKey) -> LiveSession | None:
        return self._sessions.get(key)
