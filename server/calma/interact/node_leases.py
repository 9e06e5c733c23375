"""Which hub node is writing which reply, so that a crashed node's replies are marked interrupted promptly.

With `--redis`, each node holds a heartbeat key that expires `lease_s` after
its last renewal, and keeps the ids of the replies it is writing in a set of
its own. Every node sweeps now and then: a registered node whose heartbeat has
expired is dead (killed, crashed, cut off), and the replies in its set that
are still queued or streaming are marked interrupted, keeping the text that
was stored before it was shown. One sweeper per dead node (a short lock in
Redis), so each reply is marked once. A restarted node is a new node (a new
id); the old one's replies are swept like any dead node's.

Redis being unreachable must not stop chatting: registering and renewing are
then skipped (logged once); the server's start-up sweep of old unfinished
replies remains the backstop.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskStatus

log = logging.getLogger(__name__)

PREFIX = "calma:interact:"
NODES = PREFIX + "nodes"
KEEP_SETS_S = 7 * 24 * 3600  # a node's reply set outlives its heartbeat until swept (bounded, in case nobody does)

OnDead = Callable[[list[str]], Awaitable[None]]


class NodeLeases:
    """This node's heartbeat and in-flight replies in Redis, and the sweep of dead nodes' replies."""

    def __init__(self, url: str, *, lease_s: float = 15.0, node_id: str | None = None) -> None:
        import redis.asyncio as redis  # imported only by nodes that use Redis
        from redis.exceptions import RedisError

        self._redis = redis.from_url(url)
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.node_id = node_id or secrets.token_hex(8)
        self.lease_s = lease_s
        self._unreachable = False

    def _alive_key(self, node: str) -> str:
        return f"{PREFIX}node:{node}:alive"

    def _replies_key(self, node: str) -> str:
        return f"{PREFIX}node:{node}:replies"

    async def run(self, on_dead: OnDead, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Register, then renew the heartbeat and sweep dead nodes until cancelled (then leave cleanly)."""
        try:
            await self._beat()  # at start-up, a Redis that does not answer is an error
            await self._redis.sadd(NODES, self.node_id)
            task_status.started()
            while True:
                await anyio.sleep(self.lease_s / 3)
                try:
                    await self._beat()
                    await self.sweep(on_dead)
                except self._errors as exc:
                    self._lost(exc)
                except Exception:  # the store failing while marking: the node stays registered, swept again later
                    log.exception("could not mark a dead node's replies interrupted; trying again at the next sweep")
        finally:
            with anyio.CancelScope(shield=True):
                try:  # a clean stop: its own replies were marked interrupted by the service
                    await self._redis.delete(self._alive_key(self.node_id), self._replies_key(self.node_id))
                    await self._redis.srem(NODES, self.node_id)
                except self._errors as exc:
                    self._lost(exc)
                await self._redis.aclose()

    async def _beat(self) -> None:
        await self._redis.set(self._alive_key(self.node_id), b"1", px=int(self.lease_s * 1000))
        await self._redis.expire(self._replies_key(self.node_id), KEEP_SETS_S)
        self._reached()

    async def add(self, reply_id: str) -> None:
        try:
            await self._redis.sadd(self._replies_key(self.node_id), reply_id)
            await self._redis.expire(self._replies_key(self.node_id), KEEP_SETS_S)
        except self._errors as exc:
            self._lost(exc)

    async def remove(self, reply_id: str) -> None:
        try:
            await self._redis.srem(self._replies_key(self.node_id), reply_id)
        except self._errors as exc:
            self._lost(exc)

    async def sweep(self, on_dead: OnDead) -> int:
        """Hand every dead node's unfinished replies to `on_dead`, then forget the node; how many replies."""
        swept = 0
        for raw in await self._redis.smembers(NODES):
            node = _text(raw)
            if node == self.node_id or await self._redis.exists(self._alive_key(node)):
                continue
            lock = f"{PREFIX}node:{node}:sweeping"
            if not await self._redis.set(lock, self.node_id, nx=True, px=int(self.lease_s * 4000)):
                continue  # another node sweeps it
            replies = sorted(_text(r) for r in await self._redis.smembers(self._replies_key(node)))
            if replies:
                log.warning("a hub node stopped renewing its lease; its replies in flight are marked interrupted",
                            extra={"node": node, "count": len(replies)})
                await on_dead(replies)
            await self._redis.delete(self._replies_key(node))
            await self._redis.srem(NODES, node)
            swept += len(replies)
        return swept

    def _lost(self, exc: BaseException) -> None:
        if not self._unreachable:
            log.warning("Redis is unreachable: replies in flight are not registered, nor dead nodes swept, until it is back",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
        self._unreachable = True

    def _reached(self) -> None:
        if self._unreachable:
            log.info("Redis is reachable again: replies in flight are registered there again")
        self._unreachable = False


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)

