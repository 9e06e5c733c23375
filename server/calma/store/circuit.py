"""The circuit breaker of a networked store: once its server is known to be down, fail at once.

Owns the store's up/down state and nothing else: no connections, no probing
(the store probes, and says what it found with `suspect`, `trip` and `reset`).
While the circuit is open every call fails at once with `StoreUnavailable`,
which says when to try again; calls already waiting for a connection when it
opens are cut short with the same error instead of waiting out their timeout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from calma.store.base import StoreError

T = TypeVar("T")


class StoreUnavailable(StoreError):
    """The store cannot answer now (its server is down or the connection was lost); try again after a while."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Circuit:
    """Closed (calls go through) or open (calls fail at once); `suspicions` wake whoever probes the server."""

    def __init__(self, what: str, *, probe_interval_s: float) -> None:
        self._what = what  # e.g. "PostgreSQL", for messages that anyone may read (the logs say where and why)
        self.probe_interval_s = probe_interval_s
        self._down_since: float | None = None
        self._next_probe_at = 0.0
        self._waiting: set[anyio.CancelScope] = set()
        self._suspected = anyio.Event()
        self._suspicion = ""

    @property
    def is_open(self) -> bool:
        return self._down_since is not None

    # -- calls ---------------------------------------------------------------

    def check(self) -> None:
        """Raise StoreUnavailable if the circuit is open."""
        if self._down_since is not None:
            raise self.unavailable()

    async def guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` (e.g. waiting for a pooled connection), cut short with StoreUnavailable if the circuit opens."""
        self.check()
        with anyio.CancelScope() as scope:
            self._waiting.add(scope)
            try:
                return await call()
            finally:
                self._waiting.discard(scope)
        raise self.unavailable()  # only reached when `trip` cancelled the scope

    def unavailable(self) -> StoreUnavailable:
        """The error for a call while the circuit is open: what is down and for how long, never its address."""
        since = self._down_since or time.monotonic()
        retry_after = max(1, math.ceil(self._next_probe_at - time.monotonic()))
        return StoreUnavailable(
            f"{self._what} has been unreachable for {time.monotonic() - since:.0f} s;"
            f" the server checks again every {self.probe_interval_s:g} s",
            retry_after_s=retry_after,
        )

    # -- what the prober learns ----------------------------------------------------

    def suspect(self, why: str) -> None:
        """A call met a sign that the server may be down (a broken connection, a long wait): probe soon."""
        if self._down_since is None:
            self._suspicion = why
            self._suspected.set()

    async def suspicion(self) -> str:
        """Wait for the next suspicion; what raised it."""
        await self._suspected.wait()
        self._suspected = anyio.Event()
        return self._suspicion

    def trip(self) -> None:
        """The server does not answer: open the circuit and cut short every call waiting for it."""
        if self._down_since is None:
            self._down_since = time.monotonic()
        self.still_down()
        for scope in self._waiting:
            scope.cancel()

    def still_down(self) -> None:
        """A probe failed (again); the next one is due in `probe_interval_s`."""
        self._next_probe_at = time.monotonic() + self.probe_interval_s

    def reset(self) -> float:
        """The server answers again: close the circuit; how long it was open, in seconds."""
        since, self._down_since = self._down_since, None
        self._suspected = anyio.Event()  # suspicions raised while it was down are answered
        return 0.0 if since is None else time.monotonic() - since
