"""Per-connection rate limiting: a token bucket for frames, and a leaky count of refusals for persistent abuse."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # answer with a rate_limited error
    CLOSE = "close"  # persistent abuse: close the connection


@dataclass(frozen=True)
class RateLimits:
    messages_per_second: float
    burst: int
    max_rate_limited: int
    rate_limited_decay_per_second: float


class FrameRateLimiter:
    """Each frame takes a token (`burst` at most, refilled at `messages_per_second`); with none
    left it is refused. Refusals pile up in a counter that drains at `rate_limited_decay_per_second`;
    past `max_rate_limited` the connection is closed."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._tokens = float(limits.burst)
        self._refused = 0.0
        self._last = clock()

    def check(self) -> Verdict:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        limits = self._limits
        self._tokens = min(float(limits.burst), self._tokens + elapsed * limits.messages_per_second)
        self._refused = max(0.0, self._refused - elapsed * limits.rate_limited_decay_per_second)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Verdict.ACCEPT
        self._refused += 1.0
        return Verdict.CLOSE if self._refused > limits.max_rate_limited else Verdict.REFUSE

    def retry_after_ms(self) -> int:
        """How long until the next token (what a refused client is told to wait)."""
        missing = max(0.0, 1.0 - self._tokens)
        rate = self._limits.messages_per_second
        if rate <= 0:
            return 60_000
        return min(60_000, math.ceil(1000 * missing / rate))
