"""Deadlines for reading a request, against slow clients (slowloris): uvicorn's HTTP protocol with timers.

uvicorn times out an idle keep-alive connection, but not one that is still
sending its request: a client that opens a connection and dribbles a header
byte now and then (or sends nothing at all) holds a socket and its memory for
as long as it likes, and a few thousand such clients exhaust the server.
`deadline_protocol` builds uvicorn's own httptools protocol with three bounds:

- the request head (request line and headers, including a websocket
  handshake) must arrive within `header_timeout_s` of the connection opening
  or of the previous response ending; otherwise 408 and the connection closes;
- the head may hold at most `max_header_bytes`; otherwise 431 and close;
- the body must arrive within `body_timeout_s` of the head; otherwise the
  connection closes (the app sees the client disconnect).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadDeadlines:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_header_bytes: int = 64 * 1024


class HeadTooBig(Exception):
    """Raised inside the parser's callbacks to stop reading a head that is too big."""


def _response(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


def deadline_protocol(deadlines: ReadDeadlines) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, with the request-reading deadlines and head size bound of `deadlines`."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # only `calma serve` needs uvicorn


    class DeadlineProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._read_timer: asyncio.TimerHandle | None = None
            self._reading_head = False
            self._head_bytes = 0

        # -- the deadline ---------------------------------------------------------------

        def _arm(self, seconds: float, late: bytes | None) -> None:
            self._disarm()
            self._read_timer = self.loop.call_later(seconds, self._too_slow, late)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _too_slow(self, late: bytes | None) -> None:
            self._read_timer = None
            if self.transport.is_closing():
                return
            client = "%s:%d" % self.client if self.client else "unknown"
            log.warning("closed a client too slow to send its request", extra={"client": client})
            if late is not None:
                self.transport.write(late)
            self.transport.close()

        def _await_head(self) -> None:
            self._reading_head = True
            self._arm(deadlines.header_timeout_s,
                      _response("408 Request Timeout", "the request's headers did not arrive in time\n"))

        # -- uvicorn's protocol, with the deadline kept -------------------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _too_big(self) -> None:
            self._disarm()
            self.transport.write(_response("431 Request Header Fields Too Large",
                                           f"the request's head is over {deadlines.max_header_bytes} bytes\n"))
            self.transport.close()

        def _count_head(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > deadlines.max_header_bytes:
                if not self.transport.is_closing():
                    self._too_big()
                raise HeadTooBig  # stops the parser: httptools raises it as a parser error, answered below

        def send_400_response(self, msg: str) -> None:
            if not self.transport.is_closing():  # not after a 431 or 408 already sent
                super().send_400_response(msg)

        def data_received(self, data: bytes) -> None:
            if not self.transport.is_closing():
                super().data_received(data)

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._reading_head = False
            self._arm(deadlines.body_timeout_s, None)  # the body (if any) next; a websocket upgrade disarms below
            super().on_headers_complete()
            if self.parser.should_upgrade() and self._should_upgrade():
                self._disarm()  # the websocket protocol takes over (its pings find dead peers)

        def on_message_complete(self) -> None:
            if not self._reading_head:  # else the response ended first and the next head's deadline runs
                self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._await_head()  # the next request's head, if the keep-alive timeout does not close it first

    return DeadlineProtocol
