"""Control rooms are read-only for every client, whatever the hub's room authorizer would allow.

Wraps any `RoomAuthorizer`: the inner one still decides who may enter (and
may refuse); in a control room the answer is always `Permission.READ_ONLY`, so
the hub drops a client's updates there (and tells it once, with an auth
message). Only `Room.write_as_server` changes a control document.
"""

from __future__ import annotations

from starlette.websockets import WebSocket

from calma.hub.connection import Permission
from calma.hub.permissions import RoomAuthorizer
from calma.live.control_state import control_room_name

CONTROL_ROOM_SUFFIX = control_room_name("S", "G").removeprefix("study-S.group-G")  # ".control"


def is_control_room(room: str) -> bool:
    """Every room named like a control room (`*.control`) is one, so no such room is ever client-writable."""
    return room.endswith(CONTROL_ROOM_SUFFIX)


class ReadOnlyControlRooms:
    """A `RoomAuthorizer`: `inner`'s decision, narrowed to read-only in control rooms."""

    def __init__(self, inner: RoomAuthorizer) -> None:
        self._inner = inner

    async def authorize(self, websocket: WebSocket, room: str) -> Permission:
        permission = await self._inner.authorize(websocket, room)
        return Permission.READ_ONLY if is_control_room(room) else permission
