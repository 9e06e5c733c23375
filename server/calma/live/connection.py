"""One /live websocket: its principal, subscriptions, outbox and sender loop.

Like a room connection, the outbox never drops a frame: a client that falls
more than `max_outbox_bytes` behind is closed with TOO_SLOW instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from calma.live import metrics
from calma.live.codes import LiveClosed, LiveCloseCode
from calma.live.frames import encode_server_frame
from calma.live.principal import Principal

if TYPE_CHECKING:
    from calma.live.sessions import LiveSession

log = logging.getLogger(__name__)

SessionKey = tuple[str, str]  # (study, group)


class LiveConnection:
    """A websocket on /live, after it was authenticated."""

    def __init__(self, websocket: WebSocket, principal: Principal, *, max_outbox_bytes: int) -> None:
        self.websocket = websocket
        self.principal = principal
        self.subscriptions: dict[SessionKey, LiveSession] = {}
        self.watching: set[str] = set()  # studies whose progress this connection follows
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._max_outbox_bytes = max_outbox_bytes
        self._wakeup = asyncio.Event()
        self._closing: LiveClosed | None = None

    def send(self, frame: Mapping[str, Any]) -> None:
        """Check, encode and queue a server frame."""
        self.send_encoded(encode_server_frame(frame))

    def send_encoded(self, data: bytes) -> None:
        """Queue an encoded frame without waiting; close the connection if its backlog is too large."""
        if self._closing is not None:
            return
        self._outbox.append(data)
        self._outbox_bytes += len(data)
        if self._outbox_bytes > self._max_outbox_bytes:
            self.close(LiveClosed(LiveCloseCode.TOO_SLOW, "client fell too far behind; reconnect to resync"))
            return
        self._wakeup.set()

    def close(self, closed: LiveClosed) -> None:
        """Ask the sender loop to close this connection with a code and reason (queued frames are dropped)."""
        if self._closing is None:
            self._closing = closed
            self._outbox.clear()
            self._outbox_bytes = 0
            self._wakeup.set()

    async def run_sender(self) -> bool:
        """Send queued frames in order until closed; True when this side closed, False when the client had gone."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._outbox and self._closing is None:
                    data = self._outbox.popleft()
                    self._outbox_bytes -= len(data)
                    await self.websocket.send_bytes(data)
                if self._closing is not None:
                    closed = self._closing
                    metrics.CLOSES.labels(code=str(int(closed.code))).inc()
                    log.info("closing /live connection", extra={"code": int(closed.code), "reason": closed.reason})
                    await self.websocket.close(code=int(closed.code), reason=closed.reason)
                    return True
        except (WebSocketDisconnect, OSError) as exc:
            log.debug("send to a departed /live client failed: %s", exc)
            return False
