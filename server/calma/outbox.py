"""A websocket's outgoing frames and its sender loop, shared by board rooms and /live.

Owns ordering and backpressure. Frames go out in order from one sender loop.
Nothing is dropped: a client that falls more than `max_bytes` behind is closed
with the connection kind's "too slow" code instead, and resyncs on reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)


class Closing(Protocol):
    """Why a connection is being closed: a close code and a reason the client can show."""

    code: int
    reason: str


class Outbox:
    """Queues frames without waiting; `run()` sends them and, when asked, the close frame."""

    __slots__ = (
        "_websocket", "_frames", "_bytes", "_max_bytes", "_too_slow", "_on_sent", "_on_close", "_wakeup", "closing",
    )  # fmt: skip

    def __init__(
        self,
        websocket: WebSocket,
        *,
        max_bytes: int,
        too_slow: Callable[[], Closing],
        on_sent: Callable[[int], None] | None = None,
        on_close: Callable[[Closing], None] | None = None,
    ) -> None:
        self._websocket = websocket
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._too_slow = too_slow
        self._on_sent = on_sent
        self._on_close = on_close
        self._wakeup = asyncio.Event()
        self.closing: Closing | None = None

    def send(self, frame: bytes) -> None:
        """Queue a frame; close the connection instead if its backlog grows past the limit."""
        if self.closing is not None:
            return
        self._frames.append(frame)
        self._bytes += len(frame)
        if self._bytes > self._max_bytes:
            self.close(self._too_slow())
            return
        self._wakeup.set()

    def close(self, closing: Closing) -> None:
        """Ask the sender loop to close the connection (frames still queued are not sent)."""
        if self.closing is None:
            self.closing = closing
            self._frames.clear()
            self._bytes = 0
            self._wakeup.set()

    async def run(self) -> bool:
        """Send queued frames in order until closed; True when this side closed, False when the client had gone."""
        websocket = self._websocket
        frames = self._frames
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                sent = 0
                while frames and self.closing is None:
                    frame = frames.popleft()
                    self._bytes -= len(frame)
                    await websocket.send_bytes(frame)
                    sent += 1
                if sent and self._on_sent is not None:
                    self._on_sent(sent)
                if self.closing is not None:
                    closing = self.closing
                    if self._on_close is not None:
                        self._on_close(closing)
                    log.info("closing connection", extra={"code": int(closing.code), "reason": closing.reason})
                    await websocket.close(code=int(closing.code), reason=closing.reason)
                    return True
        except (WebSocketDisconnect, OSError) as exc:
            # The client went away while we were sending. The receive side still hands us
            # every frame the client sent before it left, then the disconnect.
            log.debug("send to a departed client failed: %s", exc)
            return False
