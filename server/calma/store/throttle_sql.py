"""Sign-in failure counters in SQL (migration 11), shared by every hub node on the same store of record.

`reserve` locks each counter's row first (an upsert: a row lock in
PostgreSQL, the single writer in SQLite), then reads and counts, all in one
transaction, so simultaneous attempts on the same account or address are
counted one after the other, on one node or many.
"""

from __future__ import annotations

from calma.access.throttle import FORGET_AFTER_S, Counter, ThrottlePolicy, counted, wait_left
from calma.store.sql import SQLDatabase

PURGE_EVERY_S = 60.0


class SQLFailureCounters:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database
        self._purged_at = float("-inf")

    async def reserve(self, keys: list[tuple[str, int]], now: float, policy: ThrottlePolicy) -> float:
        await self._purge(now)
        ordered = sorted(keys)  # one lock order for everyone
        async with self._db.transaction(write=True) as tx:
            for key, _ in ordered:
                await tx.execute(
                    "INSERT INTO sign_in_failures (counter_key, failures, last_at) VALUES (?, 0, ?)"
                    " ON CONFLICT (counter_key) DO UPDATE SET failures = sign_in_failures.failures",
                    (key, now),
                )
            counters: dict[str, Counter] = {}
            for key, _ in ordered:
                row = await tx.one("SELECT failures, last_at FROM sign_in_failures WHERE counter_key = ?", (key,))
                assert row is not None, "the row was upserted in this transaction"
                counters[key] = Counter(int(row["failures"]), float(row["last_at"]))
            wait = max(wait_left(counters[key], now, free, policy) for key, free in ordered)
            if wait > 0:
                return wait
            for key, _ in ordered:
                after = counted(counters[key], now)
                await tx.execute(
                    "UPDATE sign_in_failures SET failures = ?, last_at = ? WHERE counter_key = ?",
                    (after.failures, after.last_at, key),
                )
        return 0.0

    async def clear(self, key: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("DELETE FROM sign_in_failures WHERE counter_key = ?", (key,))

    async def take_back(self, key: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "UPDATE sign_in_failures SET failures = failures - 1 WHERE counter_key = ? AND failures > 0", (key,)
            )

    async def restart(self, keys: list[str], now: float) -> None:
        async with self._db.transaction(write=True) as tx:
            for key in sorted(keys):
                await tx.execute(
                    "UPDATE sign_in_failures SET last_at = ? WHERE counter_key = ? AND last_at < ?", (now, key, now)
                )

    async def _purge(self, now: float) -> None:
        """Delete counters forgotten long ago, at most once a minute per node (a separate, short transaction)."""
        if now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        async with self._db.transaction(write=True) as tx:
            await tx.execute("DELETE FROM sign_in_failures WHERE last_at < ?", (now - FORGET_AFTER_S,))
