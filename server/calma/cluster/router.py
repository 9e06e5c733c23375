"""A small reverse proxy in front of the hub nodes, written with asyncio streams.

It reads one HTTP request head, picks a backend — by a stable hash of the room
name for `/rooms/{room}`, round-robin for every other path — writes the head to
it and then pipes bytes both ways, so websocket upgrades pass through untouched.
Requests that are not upgrades are forwarded with `Connection: close`, so that
every request on a connection is routed by itself. Oversized heads get 431,
malformed ones 400, and 502 (a problem document) when no backend answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

log = logging.getLogger("calma.cluster.router")

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0
ROOMS_PREFIX = "/rooms/"


@dataclass(frozen=True)
class Backend:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def room_of(target: str) -> str | None:
    """The room a request target names (`/rooms/{room}`, query ignored), or None."""
    path = urlsplit(target).path
    if not path.startswith(ROOMS_PREFIX):
        return None
    room = unquote(path[len(ROOMS_PREFIX) :])
    return room or None


def room_order(room: str, count: int) -> list[int]:
    """Node indexes in the order a room should try them (rendezvous hashing on the node's index).

    The first is the room's home node; it depends only on the room and the
    number of nodes, never on the process or the ports, and removing one node
    moves only the rooms that lived on it.
    """

    def weight(index: int) -> int:
        digest = hashlib.blake2b(f"{index}\x00{room}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return sorted(range(count), key=weight, reverse=True)


def node_for_room(room: str, count: int) -> int:
    return room_order(room, count)[0]


@dataclass
class RequestHead:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def is_upgrade(self) -> bool:
        return self.header("upgrade") is not None and "upgrade" in (self.header("connection") or "").lower()

    def encode(self, client: str) -> bytes:
        """The head to send to the backend: Connection: close unless an upgrade, and X-Forwarded-For."""
        lines = [f"{self.method} {self.target} {self.version}"]
        upgrade = self.is_upgrade
        for key, value in self.headers:
            lowered = key.lower()
            if lowered == "x-forwarded-for" or (lowered in ("connection", "keep-alive") and not upgrade):
                continue
            lines.append(f"{key}: {value}")
        if not upgrade:
            lines.append("Connection: close")
        lines.append(f"X-Forwarded-For: {client}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_head(raw: bytes) -> RequestHead:
    """Parse a request head (ending in CRLF CRLF); BadRequest(400) when it is not HTTP/1.x."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest(400, "undecodable request head") from exc
    lines = text[: -len("\r\n\r\n")].split("\r\n") if text.endswith("\r\n\r\n") else []
    if not lines or not lines[0]:
        raise BadRequest(400, "missing request line")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= TOKEN_CHARS:
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1") or not (target.startswith("/") or target == "*"):
        raise BadRequest(400, "malformed request line")
    headers = []
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if not sep or not key or not set(key) <= TOKEN_CHARS or any(c in value for c in "\r\n\x00"):
            raise BadRequest(400, "malformed header line")
        headers.append((key, value.strip()))
    return RequestHead(method, target, version, headers)


def problem_response(status: int, title: str, detail: str) -> bytes:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


TITLES = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}


class Router:
    """Routes connections to `backends`; `serve()` runs until cancelled."""

    def __init__(self, backends: Sequence[Backend], *, host: str = "127.0.0.1", port: int = 8000) -> None:
        if not backends:
            raise ValueError("the router needs at least one backend")
        self.backends = list(backends)
        self.host = host
        self.port = port
        self._round_robin = itertools.count()

    def candidates(self, head: RequestHead) -> list[Backend]:
        """Backends to try, in order: the room's home node first, else round-robin; the others as fallbacks."""
        room = room_of(head.target)
        count = len(self.backends)
        if room is not None:
            order = room_order(room, count)
        else:
            start = next(self._round_robin) % count
            order = [(start + i) % count for i in range(count)]
        return [self.backends[i] for i in order]

    async def serve(self, started: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(self.handle, self.host, self.port, limit=MAX_HEAD_BYTES, backlog=4096)
        log.info("router listening on http://%s:%d, %d backends", self.host, self.port, len(self.backends))
        if started is not None:
            started.set()
        async with server:
            await server.serve_forever()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = peer[0] if isinstance(peer, tuple) else "unknown"
        try:
            try:
                head = await self._read_head(reader)
            except BadRequest as exc:
                writer.write(problem_response(exc.status, TITLES[exc.status], exc.detail))
                await writer.drain()
                return
            if head is None:
                return  # the client closed before sending anything
            upstream = await self._connect(self.candidates(head))
            if upstream is None:
                writer.write(problem_response(502, TITLES[502], "no hub node answered"))
                await writer.drain()
                return
            up_reader, up_writer = upstream
            try:
                up_writer.write(head.encode(client))
                # Whatever the client sent after the head (a body, early frames) is still in `reader`.
                to_backend = asyncio.create_task(_pipe(reader, up_writer))
                to_client = asyncio.create_task(_pipe(up_reader, writer))
                try:
                    await to_client
                    # The backend is done; a client that keeps its side open gets a short grace, then is cut.
                    await asyncio.wait([to_backend], timeout=5.0)
                finally:
                    for task in (to_backend, to_client):
                        task.cancel()
                    await asyncio.gather(to_backend, to_client, return_exceptions=True)
            finally:
                up_writer.close()
        except (ConnectionError, OSError) as exc:  # either side hung up mid-stream: the proxied connection ends
            log.debug("proxied connection ended: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _read_head(self, reader: asyncio.StreamReader) -> RequestHead | None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise BadRequest(431, f"the request head exceeds {MAX_HEAD_BYTES} bytes") from exc
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise BadRequest(400, "the connection closed inside the request head") from exc
        except TimeoutError as exc:
            raise BadRequest(408, "no complete request head in time") from exc
        if len(raw) > MAX_HEAD_BYTES:
            raise BadRequest(431, f"the request head exceeds {MAX_HEAD_BYTES} bytes")
        return parse_head(raw)

    async def _connect(self, candidates: list[Backend]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for backend in candidates:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    return await asyncio.open_connection(backend.host, backend.port, limit=2**20)
            except (OSError, TimeoutError) as exc:
                log.warning("backend %s did not answer: %s", backend, exc)
        return None


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the sink (so the other direction may still finish)."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()
