"""One client's websocket in a room: its permission, its presence ids and its outbox (calma.outbox)."""

from __future__ import annotations

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
