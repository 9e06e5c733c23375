"""Group commit: appends arriving within a few milliseconds share one transaction.

Owns the batching loop in front of a Store. A caller's `on_durable` callback
runs in the event loop right after the transaction commits, in id order, and
before `append` returns: that is where the hub applies and broadcasts, so
nothing is broadcast before it is durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus

from calma.observability import metrics
from calma.store.base import AppendRequest, Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    request: AppendRequest
    on_durable: Callable[[int], None]
    done: anyio.Event
    enqueued_at: float
    result: int | None = None
    error: BaseException | None = None


class GroupCommit:
    """Collects appends from every room and writes them in shared transactions."""

    def __init__(self, store: Store, *, window_s: float = 0.002, max_batch: int = 512) -> None:
        self._store = store
        self._window_s = window_s
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wakeup = anyio.Event()
        self._running = False

    async def append(self, room: str, update: bytes, on_durable: Callable[[int], None]) -> int:
        """Append durably; `on_durable(id)` runs after commit and before this returns."""
        if not self._running:
            raise StoreError("the group-commit writer is not running")
        pending = _Pending(AppendRequest(room, update), on_durable, anyio.Event(), time.perf_counter())
        self._queue.append(pending)
        self._wakeup.set()
        await pending.done.wait()
        if pending.error is not None:
            raise StoreError(f"could not persist an update for room {room!r}: {pending.error}") from pending.error
        assert pending.result is not None
        return pending.result

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop; run it in a task group for the life of the app."""
        self._running = True
        task_status.started()
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup = anyio.Event()
                if len(self._queue) < 2 and self._window_s > 0:
                    await anyio.sleep(self._window_s)  # let near-simultaneous appends join this batch
                while self._queue:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: len(batch)]
                    await self._commit(batch)
        finally:
            self._running = False
            for pending in self._queue:
                pending.error = StoreError("server shutting down")
                pending.done.set()
            self._queue.clear()

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            with anyio.CancelScope(shield=True):
                ids = await self._store.append_batch([p.request for p in batch])
        except Exception as exc:  # reported to every waiter; none of them is broadcast
            log.error("group commit of %d updates failed: %s", len(batch), exc, exc_info=True)
            for pending in batch:
                pending.error = exc
                pending.done.set()
            return
        finished = time.perf_counter()
        metrics.GROUP_COMMIT_BATCH.observe(len(batch))
        metrics.COMMIT_SECONDS.observe(finished - started)
        for pending, update_id in zip(batch, ids, strict=True):
            metrics.PERSIST_SECONDS.observe(finished - pending.enqueued_at)
            pending.result = update_id
            try:
                pending.on_durable(update_id)
            except Exception as exc:  # the update is durable; its room reports the failure to its client
                log.error("after-commit step failed for room %r: %s", pending.request.room, exc, exc_info=True)
                pending.error = exc
            pending.done.set()
