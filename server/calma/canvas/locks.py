"""Whose turn it is to place cards on a board: one node at a time, across every hub node.

Placement reads the board, decides, and writes; two nodes doing that for one
board at once would each see the other's new cards as absent. On one node an
anyio lock per board is enough (`CanvasService` keeps one); with Redis,
`RedisBoardLocks` adds a lease per board (SET NX PX, released only by its
holder, renewed by expiry: a crashed node's lease runs out).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LEASE_MS = 30_000
WAIT_S = 30.0
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class BoardLocks(Protocol):
    def hold(self, room: str) -> AbstractAsyncContextManager[None]: ...

    async def aclose(self) -> None: ...


class NoBoardLocks:
    """One node: nothing beyond the service's own per-board lock."""

    @asynccontextmanager
    async def hold(self, room: str) -> AsyncIterator[None]:
        yield

    async def aclose(self) -> None:
        return None


class RedisBoardLocks:
    def __init__(self, url: str, *, prefix: str = "calma") -> None:
        self._redis = aioredis.from_url(url)
        self._prefix = prefix
        self._release = self._redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, room: str) -> AsyncIterator[None]:
        key = f"{self._prefix}:canvas-lock:{{{room}}}"
        token = uuid.uuid4().hex
        delay = 0.005
        with anyio.fail_after(WAIT_S):
            while not await self._redis.set(key, token, nx=True, px=LEASE_MS):
                await anyio.sleep(delay)  # another node is placing on this board: wait for its lease to go
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            try:
                await self._release(keys=[key], args=[token])
            except RedisError as exc:  # the placement is done; the lease runs out by itself within LEASE_MS
                log.error("could not release a canvas lock; it expires by itself", extra={"room": room, "error": str(exc)})

    async def aclose(self) -> None:
        await self._redis.aclose()
