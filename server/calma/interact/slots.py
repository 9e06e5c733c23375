"""Counting concurrent generations per endpoint: in this process, or across hub nodes through Redis.

`LocalSlots` counts in memory. `RedisSlots` keeps, per endpoint, a sorted
set of leases scored by their expiry on Redis's clock; taking a slot is one
Lua script (drop expired leases, count, add), so the cap holds across every
node that shares the Redis. A node renews its leases while it generates; a
node that dies loses its leases within `lease_s`. Releases are published, so
other nodes' waiters are woken at once rather than at the next poll.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Protocol

import anyio
from anyio.abc import TaskStatus

log = logging.getLogger(__name__)


class Slots(Protocol):
    """A counter of busy slots per endpoint key, with a cap given per call."""

    async def try_take(self, key: str, cap: int) -> str | None:
        """A lease id if fewer than `cap` are taken, else None."""
        ...

    async def give_back(self, key: str, lease: str) -> None: ...

    async def run(self, wake: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Background work (renewals, release notices); calls `wake` when a slot may have come free elsewhere."""
        ...


class LocalSlots:
    def __init__(self) -> None:
        self._taken: dict[str, set[str]] = {}

    async def try_take(self, key: str, cap: int) -> str | None:
        taken = self._taken.setdefault(key, set())
        if len(taken) >= cap:
            return None
        lease = secrets.token_hex(8)
        taken.add(lease)
        return lease

    async def give_back(self, key: str, lease: str) -> None:
        self._taken.get(key, set()).discard(lease)

    async def run(self, wake: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()


TAKE_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

RENEW_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for i, lease in ipairs(ARGV) do
  if i > 1 then redis.call('ZADD', KEYS[1], 'XX', now_ms + tonumber(ARGV[1]), lease) end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""


class RedisSlots:
    """Slots shared by every hub node on one Redis."""

    PREFIX = "calma:llm:slots:"
    RELEASED = "calma:llm:released"

    def __init__(self, url: str, *, lease_s: float = 30.0, poll_s: float = 1.0) -> None:
        import redis.asyncio as redis  # imported only by nodes that use Redis

        self._redis = redis.from_url(url)
        self._lease_ms = int(lease_s * 1000)
        self._renew_every_s = lease_s / 3
        self._poll_s = poll_s
        self._held: dict[str, set[str]] = {}
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._renew = self._redis.register_script(RENEW_SCRIPT)

    async def try_take(self, key: str, cap: int) -> str | None:
        lease = secrets.token_hex(8)
        taken = await self._take(keys=[self.PREFIX + key], args=[cap, self._lease_ms, lease])
        if not taken:
            return None
        self._held.setdefault(key, set()).add(lease)
        return lease

    async def give_back(self, key: str, lease: str) -> None:
        self._held.get(key, set()).discard(lease)
        await self._redis.zrem(self.PREFIX + key, lease)
        await self._redis.publish(self.RELEASED, key)

    async def run(self, wake: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.RELEASED)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew_loop)
                tg.start_soon(self._poll_loop, wake)
                task_status.started()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        wake()
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()
                await self._redis.aclose()

    async def _renew_loop(self) -> None:
        while True:
            await anyio.sleep(self._renew_every_s)
            for key, leases in list(self._held.items()):
                if leases:
                    await self._renew(keys=[self.PREFIX + key], args=[self._lease_ms, *leases])

    async def _poll_loop(self, wake: Callable[[], None]) -> None:
        """Leases of a node that died expire without a notice: look again now and then."""
        while True:
            await anyio.sleep(self._poll_s)
            wake()
