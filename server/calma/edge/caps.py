"""Caps on open websocket connections, per client address and in total, checked before any route runs.

`ConnectionCaps` is ASGI middleware around the whole app. A websocket
handshake (to `/rooms/…` or `/live`) that would exceed either cap is refused
before authentication with an HTTP response instead of the upgrade: 429 with
`Retry-After` when one address holds too many, 503 when the server holds too
many in all. Servers without the ASGI denial-response extension get a close
before accept (uvicorn answers 403). HTTP requests pass through untouched:
uvicorn's `limit_concurrency` bounds those.

The client address is the one uvicorn reports: the peer, or the
`X-Forwarded-For` of a trusted proxy (uvicorn's `--forwarded-allow-ips`,
loopback by default; `calma cluster`'s router sets it).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

DENIAL_EXTENSION = "websocket.http.response"


@dataclass(frozen=True)
class CapSettings:
    """How many websocket connections may be open at once (0: no cap)."""

    per_address: int = 256
    total: int = 5000
    retry_after_s: int = 10


class ConnectionCaps:
    """ASGI middleware counting open websocket connections per client address and in total."""

    def __init__(self, app: ASGIApp, settings: CapSettings) -> None:
        self.app = app
        self.settings = settings
        self._per_address: Counter[str] = Counter()
        self._total = 0

    @property
    def open_connections(self) -> int:
        return self._total

    def open_from(self, address: str) -> int:
        return self._per_address[address]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        refusal = self._refusal(address)
        if refusal is not None:
            status, detail = refusal
            log.warning("websocket refused at the connection cap",
                        extra={"client": address, "status": status, "path": scope.get("path"), "reason": detail})
            await _refuse(scope, receive, send, status, detail, self.settings.retry_after_s)
            return
        self._per_address[address] += 1  # counted before the first await: concurrent handshakes cannot both pass
        self._total += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._total -= 1
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

    def _refusal(self, address: str) -> tuple[int, str] | None:
        caps = self.settings
        if caps.per_address and self._per_address[address] >= caps.per_address:
            return 429, (f"too many connections from your address (at most {caps.per_address} at once); "
                         "close some tabs or wait, then reconnect")
        if caps.total and self._total >= caps.total:
            return 503, f"the server holds as many connections as it allows ({caps.total}); try again shortly"
        return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str, retry_after_s: int) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client went away before its handshake was handled
    if DENIAL_EXTENSION in (scope.get("extensions") or {}):
        body = json.dumps({"status": status, "detail": detail}).encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after_s).encode()),
        ]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
        return
    close: dict[str, Any] = {"type": "websocket.close", "code": 1013, "reason": detail[:120]}
    await send(close)
