"""Counting concurrent generations per endpoint: in this process, or across hub nodes through Redis.

`LocalSlots` counts in memory. `RedisSlots` keeps, per endpoint, a sorted
set of leases scored by their expiry on Redis's clock; taking a slot is one
Lua script (drop expired leases, count, add), so the cap holds across every
node that shares the Redis. A node renews its leases while it generates; a
node that dies loses its leases within `lease_s`. Releases are published, so
other nodes' waiters are woken at once rather than at the next poll.

Redis going away (a restart, a network cut) must not take the node down:
while it is unreachable no slot can be taken (generations wait in their
queue), a lease that cannot be given back expires on its own, and the node
reconnects and listens for releases again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

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
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return 1  -- run again after a dropped reply: this lease was taken by the first run
end
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

    def __init__(self, url: str, *, lease_s: float = 30.0, poll_s: float = 1.0, reconnect_s: float = 0.5) -> None:
        import redis.asyncio as redis  # imported only by nodes that use Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        # A command that meets a dropped connection (Redis restarted) reconnects and runs again; each
        # command here may run twice (taking is idempotent per lease id, the rest are by nature).
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=8)
        self._redis = redis.from_url(url, retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError])
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._lease_ms = int(lease_s * 1000)
        self._renew_every_s = lease_s / 3
        self._poll_s = poll_s
        self._reconnect_s = reconnect_s
        self._held: dict[str, set[str]] = {}
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._renew = self._redis.register_script(RENEW_SCRIPT)
        self._unreachable = False

    async def try_take(self, key: str, cap: int) -> str | None:
        """A lease, or None if the endpoint is at its cap or Redis cannot be reached (the waiter waits)."""
        lease = secrets.token_hex(8)
        try:
            taken = await self._take(keys=[self.PREFIX + key], args=[cap, self._lease_ms, lease])
        except self._errors as exc:
            self._lost(exc, "no model slot can be taken until it is back")
            return None
        self._reached()
        if not taken:
            return None
        self._held.setdefault(key, set()).add(lease)
        return lease

    async def give_back(self, key: str, lease: str) -> None:
        self._held.get(key, set()).discard(lease)
        try:
            await self._redis.zrem(self.PREFIX + key, lease)
            await self._redis.publish(self.RELEASED, key)
        except self._errors as exc:
            self._lost(exc, "a model slot could not be given back; its lease expires on its own")

    async def run(self, wake: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.RELEASED)  # at startup, a Redis that does not answer is an error
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew_loop)
                tg.start_soon(self._poll_loop, wake)
                task_status.started()
                while True:
                    try:
                        async for message in pubsub.listen():
                            if message.get("type") == "message":
                                wake()
                    except self._errors as exc:
                        self._lost(exc, "release notices are missed until it is back")
                    with anyio.CancelScope(shield=True):
                        await pubsub.aclose()
                    pubsub = await self._subscribe_again()
                    wake()  # releases may have been missed meanwhile
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()
                await self._redis.aclose()

    async def _subscribe_again(self) -> Any:
        while True:
            await anyio.sleep(self._reconnect_s)  # back off between attempts while Redis is away
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.RELEASED)
            except self._errors as exc:
                self._lost(exc, "release notices are missed until it is back")
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()
                continue
            self._reached()
            return pubsub

    async def _renew_loop(self) -> None:
        while True:
            await anyio.sleep(self._renew_every_s)
            for key, leases in list(self._held.items()):
                if leases:
                    try:
                        await self._renew(keys=[self.PREFIX + key], args=[self._lease_ms, *leases])
                    except self._errors as exc:
                        self._lost(exc, "model slot leases cannot be renewed until it is back")

    async def _poll_loop(self, wake: Callable[[], None]) -> None:
        """Leases of a node that died expire without a notice: look again now and then."""
        while True:
            await anyio.sleep(self._poll_s)
            wake()

    def _lost(self, exc: BaseException, consequence: str) -> None:
        if not self._unreachable:
            log.warning(f"Redis is unreachable: {consequence}", extra={"error": f"{type(exc).__name__}: {exc}"})
        self._unreachable = True

    def _reached(self) -> None:
        if self._unreachable:
            log.info("Redis is reachable again: model slots are counted there again")
        self._unreachable = False
