"""Who may do what in a room. The studies-and-access layer plugs in its own authorizer."""

from __future__ import annotations

from typing import Protocol

from starlette.websockets import WebSocket

from calma.hub.connection import Permission


class RoomAuthorizer(Protocol):
    async def authorize(self, websocket: WebSocket, room: str) -> Permission:
        """The connection's permission in `room`, or raise RoomClosed (UNAUTHORIZED / FORBIDDEN)."""
        ...


class OpenRooms:
    """The foundation's policy: anyone may write; `?observe=1` asks for a read-only connection."""

    async def authorize(self, websocket: WebSocket, room: str) -> Permission:
        if websocket.query_params.get("observe") in ("1", "true"):
            return Permission.READ_ONLY
        return Permission.READ_WRITE
