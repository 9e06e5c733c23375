"""One /live websocket: its principal, subscriptions, outbox and sender loop.

Like a room connection, the outbox never drops a frame: a client that falls
more than `max_outbox_bytes` behind is closed with TOO_SLOW instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from calma.live import metrics
from calma.live.codes import LiveClosed, LiveCloseCode
from calma.live.frames import encode_server_frame
from calma.live.principal import Principal
from calma.outbox import Closing, Outbox

if TYPE_CHECKING:
    from calma.live.sessions import LiveSession

SessionKey = tuple[str, str]  # (study, group)


def _too_slow() -> LiveClosed:
    return LiveClosed(LiveCloseCode.TOO_SLOW, "client fell too far behind; reconnect to resync")


def _count_close(closing: Closing) -> None:
    metrics.CLOSES.labels(code=str(int(closing.code))).inc()


class LiveConnection:
    """A websocket on /live, after it was authenticated."""

    def __init__(self, websocket: WebSocket, principal: Principal, *, max_outbox_bytes: int) -> None:
        self.websocket = websocket
        self.principal = principal
        self.subscriptions: dict[SessionKey, LiveSession] = {}
        self.watching: set[str] = set()  # studies whose progress this connection follows
        self.outbox = Outbox(websocket, max_bytes=max_outbox_bytes, too_slow=_too_slow, on_close=_count_close)

    def send(self, frame: Mapping[str, Any]) -> None:
        """Check, encode and queue a server frame."""
        self.send_encoded(encode_server_frame(frame))

    def send_encoded(self, data: bytes) -> None:
        """Queue an encoded frame without waiting (see calma.outbox)."""
        self.outbox.send(data)

    def close(self, closed: LiveClosed) -> None:
        """Ask the sender loop to close this connection with a code and reason (queued frames are dropped)."""
        self.outbox.close(closed)

    async def run_sender(self) -> bool:
        """Send queued frames in order until closed; True when this side closed, False when the client had gone."""
        return await self.outbox.run()
