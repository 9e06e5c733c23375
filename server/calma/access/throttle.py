"""Throttling sign-ins: failure counters per account and per client address, with growing delays.

Every sign-in attempt is counted *before* its password is checked (so a burst
of simultaneous guesses cannot all slip past the counter), and refused while
either its account or its address is waiting out a delay. A failure restarts
the delay from its answer (checking a password takes a while); a success clears
the account's counter and takes back the one it added to the address's.

- After `free_failures` failures in a row on an account, each further attempt
  waits `base_delay_s`, then twice that, four times, ... up to `max_delay_s`.
  The cap is what bounds how long an attacker can keep the owner out: a
  refused attempt is not counted, so guessing faster does not lengthen it.
- An address gets `ADDRESS_FREE_FACTOR` times as many free failures (people
  behind one NAT share it), then the same delays. IPv6 addresses count per /64.
- Counters are forgotten after `FORGET_AFTER_S` without a failure.

The counters live behind `FailureCounters`: the store of record in a server
(`calma.store.throttle_sql`; shared by every hub node and kept across
restarts), or memory (`MemoryCounters`) where there is no store.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

import anyio

from calma.access.addresses import client_network

ADDRESS_FREE_FACTOR = 4
FORGET_AFTER_S = 3600.0


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.free_failures < 1:
            raise ValueError("free_failures must be at least 1")
        if not 0 < self.base_delay_s <= self.max_delay_s:
            raise ValueError("the delays must satisfy 0 < base_delay_s <= max_delay_s")

    def delay_s(self, failures: int, free: int) -> float:
        """How long to wait after the last of `failures` failures before the next attempt."""
        if failures < free:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failures - free, 64))


@dataclass(frozen=True)
class Counter:
    """Failures in a row on one key, and when the last one was counted."""

    failures: int
    last_at: float


class FailureCounters(Protocol):
    """Counters by opaque key; `reserve` reads and counts in one step (atomic across hub nodes)."""

    async def reserve(self, keys: list[tuple[str, int]], now: float, policy: ThrottlePolicy) -> float:
        """For each (key, free failures): 0 and each key counted once more, or, if any key is waiting, the
        seconds left (the longest) and nothing counted. Counters older than FORGET_AFTER_S count as none."""
        ...

    async def clear(self, key: str) -> None: ...

    async def take_back(self, key: str) -> None:
        """One counted attempt was not a failure after all."""
        ...

    async def restart(self, keys: list[str], now: float) -> None:
        """The delays of these keys run from `now` (a failure was just answered)."""
        ...


def wait_left(counter: Counter | None, now: float, free: int, policy: ThrottlePolicy) -> float:
    """Seconds before `counter`'s key may try again (0: now)."""
    if counter is None or now - counter.last_at >= FORGET_AFTER_S:
        return 0.0
    return max(0.0, counter.last_at + policy.delay_s(counter.failures, free) - now)


def counted(counter: Counter | None, now: float) -> Counter:
    """`counter` with one more failure at `now` (a forgotten one starts again)."""
    if counter is None or now - counter.last_at >= FORGET_AFTER_S:
        return Counter(1, now)
    return Counter(counter.failures + 1, now)


class MemoryCounters:
    """Counters in this process (a server without a store of record, tests of the API alone)."""

    def __init__(self) -> None:
        self._counters: dict[str, Counter] = {}
        self._lock = anyio.Lock()

    async def reserve(self, keys: list[tuple[str, int]], now: float, policy: ThrottlePolicy) -> float:
        async with self._lock:
            self._forget(now)
            wait = max(wait_left(self._counters.get(key), now, free, policy) for key, free in keys)
            if wait > 0:
                return wait
            for key, _ in keys:
                self._counters[key] = counted(self._counters.get(key), now)
            return 0.0

    async def clear(self, key: str) -> None:
        async with self._lock:
            self._counters.pop(key, None)

    async def take_back(self, key: str) -> None:
        async with self._lock:
            counter = self._counters.get(key)
            if counter is not None:
                self._counters[key] = Counter(max(0, counter.failures - 1), counter.last_at)

    async def restart(self, keys: list[str], now: float) -> None:
        async with self._lock:
            for key in keys:
                counter = self._counters.get(key)
                if counter is not None:
                    self._counters[key] = Counter(counter.failures, max(counter.last_at, now))

    def _forget(self, now: float) -> None:
        for key in [k for k, c in self._counters.items() if now - c.last_at >= FORGET_AFTER_S]:
            del self._counters[key]


class Throttled(Exception):
    """Too many failed sign-ins on this account or from this address; try again in `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def address_key(address: str | None) -> str:
    """The key of a client address: its network (`client_network`: an IPv6 address counts per /64), hashed."""
    return "address:" + hashlib.sha256(client_network(address).encode("utf-8")).hexdigest()


class SignInThrottle:
    """Decides whether a sign-in may be checked, and learns from how it went."""

    def __init__(self, counters: FailureCounters, policy: ThrottlePolicy) -> None:
        self.counters = counters
        self.policy = policy

    async def attempt(self, email: str, address: str | None, now: float) -> None:
        """Count an attempt on `email` from `address`, or raise Throttled (nothing counted)."""
        keys = [
            (account_key(email), self.policy.free_failures),
            (address_key(address), self.policy.free_failures * ADDRESS_FREE_FACTOR),
        ]
        wait = await self.counters.reserve(keys, now, self.policy)
        if wait > 0:
            raise Throttled(wait)

    async def failed(self, email: str, address: str | None, now: float) -> None:
        """The attempt was answered as a failure at `now`: the delays run from here."""
        await self.counters.restart([account_key(email), address_key(address)], now)

    async def succeeded(self, email: str, address: str | None) -> None:
        await self.counters.clear(account_key(email))
        await self.counters.take_back(address_key(address))
