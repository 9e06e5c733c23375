"""One client's websocket in a room: who it is, its permission, its presence ids and its outbox (calma.outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from starlette.websockets import WebSocket

from calma.hub.close_codes import CloseCode, RoomClosed
from calma.observability import metrics
from calma.outbox import Closing, Outbox


def _too_slow() -> RoomClosed:
    return RoomClosed(CloseCode.TOO_SLOW, "client fell too far behind; reconnect to resync")


def _count_close(closing: Closing) -> None:
    metrics.CLOSES.labels(code=str(int(closing.code))).inc()


class Permission(Enum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"


@dataclass(frozen=True)
class Identity:
    """Who a connection acts for, as the room's authorizer found out (guards check updates against it).

    `key` is stable for one person ("participant:<id>", "facilitator:<id>", or "anonymous:" for sandbox
    rooms), `name` is what they are shown as, `role` is facilitator, participant, observer or anonymous.
    """

    key: str
    name: str
    role: str


ANONYMOUS = Identity("anonymous:", "", "anonymous")
_IDENTITY_STATE = "calma.identity"


def set_identity(websocket: WebSocket, identity: Identity) -> None:
    """The authorizer says who this websocket is (kept in the connection's ASGI scope)."""
    websocket.scope[_IDENTITY_STATE] = identity


def identity_of(websocket: WebSocket) -> Identity:
    found = websocket.scope.get(_IDENTITY_STATE)
    return found if isinstance(found, Identity) else ANONYMOUS


class Connection:
    """A websocket joined to a room."""

    __slots__ = ("websocket", "permission", "awareness_ids", "told_read_only", "outbox")

    def __init__(self, websocket: WebSocket, permission: Permission, *, max_outbox_bytes: int) -> None:
        self.websocket = websocket
        self.permission = permission
        self.awareness_ids: set[int] = set()
        self.told_read_only = False
        self.outbox = Outbox(
            websocket, max_bytes=max_outbox_bytes, too_slow=_too_slow, on_sent=metrics.MESSAGES_SENT.inc, on_close=_count_close
        )

    @property
    def identity(self) -> Identity:
        """Who this connection acts for (anonymous unless the authorizer said otherwise)."""
        return identity_of(self.websocket)

    @property
    def read_only(self) -> bool:
        return self.permission is Permission.READ_ONLY

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting (see calma.outbox)."""
        self.outbox.send(frame)

    def close(self, closed: RoomClosed) -> None:
        """Ask the sender loop to close this connection with a code and reason."""
        self.outbox.close(closed)

    async def run_sender(self) -> bool:
        """Send queued frames until closed; True when this side closed, False when the client had gone."""
        return await self.outbox.run()
