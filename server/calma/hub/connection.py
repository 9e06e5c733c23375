"""One client's websocket in a room: its permission, its outbox and its sender loop.

The outbox never drops a frame. A client that falls more than the backlog
limit behind is closed with TOO_SLOW instead; it reconnects and resyncs, so
nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from enum import Enum

from starlette.websockets import WebSocket, WebSocketDisconnect

from calma.hub.close_codes import CloseCode, RoomClosed
from calma.observability import metrics

log = logging.getLogger(__name__)


class Permission(Enum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"


class Connection:
    """A websocket joined to a room."""

    __slots__ = (
        "websocket",
        "permission",
        "awareness_ids",
        "told_read_only",
        "_outbox",
        "_outbox_bytes",
        "_max_outbox_bytes",
        "_wakeup",
        "_closing",
    )

    def __init__(self, websocket: WebSocket, permission: Permission, *, max_outbox_bytes: int) -> None:
        self.websocket = websocket
        self.permission = permission
        self.awareness_ids: set[int] = set()
        self.told_read_only = False
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._max_outbox_bytes = max_outbox_bytes
        self._wakeup = asyncio.Event()
        self._closing: RoomClosed | None = None

    @property
    def read_only(self) -> bool:
        return self.permission is Permission.READ_ONLY

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting; close the connection if its backlog is too large."""
        if self._closing is not None:
            return
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        if self._outbox_bytes > self._max_outbox_bytes:
            self.close(RoomClosed(CloseCode.TOO_SLOW, "client fell too far behind; reconnect to resync"))
            return
        self._wakeup.set()

    def close(self, closed: RoomClosed) -> None:
        """Ask the sender loop to close this connection with a code and reason."""
        if self._closing is None:
            self._closing = closed
            self._outbox.clear()
            self._outbox_bytes = 0
            self._wakeup.set()

    async def run_sender(self) -> bool:
        """Send queued frames in order until the connection is closed or the client goes away.

        Returns True when this side closed the connection, False when the client had gone.
        """
        websocket = self.websocket
        outbox = self._outbox
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                sent = 0
                while outbox and self._closing is None:
                    frame = outbox.popleft()
                    self._outbox_bytes -= len(frame)
                    await websocket.send_bytes(frame)
                    sent += 1
                metrics.MESSAGES_SENT.inc(sent)
                if self._closing is not None:
                    closed = self._closing
                    metrics.CLOSES.labels(code=str(int(closed.code))).inc()
                    log.info(
                        "closing connection", extra={"code": int(closed.code), "reason": closed.reason}
                    )
                    await websocket.close(code=int(closed.code), reason=closed.reason)
                    return True
        except (WebSocketDisconnect, OSError) as exc:
            # The client went away while we were sending. The receive side still hands us
            # every frame the client sent before it left, then the disconnect.
            log.debug("send to a departed client failed: %s", exc)
            return False
