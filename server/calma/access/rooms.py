"""The authorizer for websocket rooms: study rooms by role, sandbox rooms by the server's setting.

Study rooms (`calma.studies.rooms`) admit a handshake only with a live session
cookie or `?token=` whose principal `policy.room_permission` lets in:
no credentials, or credentials that do not check out, close with 4401; a
principal that may not enter closes with 4403 (whether or not the room's study
exists, so ids do not leak). Sandbox rooms (any other name) are open to anyone
when the server has them on (`calma.access.sandbox`: by default only on loopback,
and then not through a proxy; its cap on the number of rooms applies here), else
they close with 4401 (no credentials) or 4403. `?observe=1` asks for a read-only connection anywhere; it
never grants more.

A study room connection is registered under its credential
(`calma.access.live_connections`): when that session or token is revoked, the
connection is closed with 4401 (found in its room through `attach_rooms`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.websockets import WebSocket

from calma.access import policy
from calma.access.authenticate import AuthenticationError, Authenticator
from calma.access.principal import Principal
from calma.hub.rooms import RoomManager
from calma.access.sandbox import SandboxRooms
from calma.access.tokens import TokenRejected
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.connection import Identity, Permission, set_identity
from calma.hub.permissions import OpenRooms
from calma.store import StoreError
from calma.studies.rooms import STUDY_ROOM_FORMAT, RoomKind, is_study_room, parse_study_room
from calma.studies.store import StudyStore

log = logging.getLogger(__name__)


def identity(principal: Principal) -> Identity:
    """The hub's view of a principal: a stable key, the name they are shown as, their role."""
    key = principal.participant_id if principal.participant_id is not None else principal.facilitator_id
    return Identity(f"{principal.role.value}:{key or principal.name}", principal.name, principal.role.value)


class StudyRoomAuthorizer:
    def __init__(self, store: StudyStore, authenticator: Authenticator, *, sandbox: SandboxRooms | None) -> None:
        self._store = store
        self._authenticator = authenticator
        self._sandbox = sandbox  # None: sandbox rooms are off
        self._open = OpenRooms()
        self._rooms: Callable[[], RoomManager] | None = None  # where open connections are found to close them

    def attach_rooms(self, rooms: Callable[[], RoomManager]) -> None:
        """The running server's rooms, where a revoked credential's connections are found and closed."""
        self._rooms = rooms

    async def authorize(self, websocket: WebSocket, room: str) -> Permission:
        if not is_study_room(room):
            return await self._authorize_sandbox(websocket, room)
        parsed = parse_study_room(room)
        if parsed is None:
            raise RoomClosed(CloseCode.BAD_ROOM_NAME, f"study rooms are named {STUDY_ROOM_FORMAT}")
        try:
            principal, credential = await self._principal(websocket)
            study = await self._store.study(parsed.study_id)
            group = await self._store.group(parsed.study_id, parsed.group_id) if study is not None else None
            participant = None
            if parsed.kind is RoomKind.PRIVATE and group is not None and parsed.participant_id is not None:
                participant = await self._store.participant(parsed.participant_id)
        except StoreError as exc:
            log.error("could not check room access", extra={"room": room, "error": str(exc)}, exc_info=True)
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "could not check access to this room; try again") from exc
        permission = policy.room_permission(principal, parsed, study, group, participant)
        if permission is None:
            raise RoomClosed(CloseCode.FORBIDDEN, "not allowed in this room")
        set_identity(websocket, identity(principal))  # what the room's guard checks updates against
        self._authenticator.connections.register(websocket, credential, self._closer(room))
        if websocket.query_params.get("observe") in ("1", "true"):
            return Permission.READ_ONLY
        return permission

    async def _authorize_sandbox(self, websocket: WebSocket, room: str) -> Permission:
        if self._sandbox is not None and self._sandbox.admits(websocket.headers):
            try:
                await self._sandbox.admit(room)
            except StoreError as exc:
                log.error("could not check the sandbox room cap", extra={"room": room, "error": str(exc)}, exc_info=True)
                raise RoomClosed(CloseCode.INTERNAL_ERROR, "could not check access to this room; try again") from exc
            return await self._open.authorize(websocket, room)
        await self._principal(websocket)  # no credentials: 4401; someone: 4403
        raise RoomClosed(CloseCode.FORBIDDEN, "sandbox rooms are turned off on this server")

    async def _principal(self, websocket: WebSocket) -> tuple[Principal, frozenset[str]]:
        try:
            principal, credential = await self._authenticator.websocket_credential(websocket)
        except (AuthenticationError, TokenRejected) as exc:
            raise RoomClosed(CloseCode.UNAUTHORIZED, str(exc)) from exc
        if principal is None:
            raise RoomClosed(CloseCode.UNAUTHORIZED, "sign in, or give an access token as ?token=")
        return principal, credential

    def _closer(self, room: str) -> Callable[[WebSocket, str], None]:
        """Close a websocket's connection in `room` with 4401 (nothing if it is not in the room yet or any more)."""

        def close(websocket: WebSocket, reason: str) -> None:
            loaded = None if self._rooms is None else self._rooms().get_loaded(room)
            for connection in [] if loaded is None else list(loaded.connections):
                if connection.websocket is websocket:
                    connection.close(RoomClosed(CloseCode.UNAUTHORIZED, reason))

        return close
