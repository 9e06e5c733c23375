"""The limits a /live connection is held to; the defaults are the schema's `limits`."""

from __future__ import annotations

from dataclasses import dataclass, field

from calma.live.rate_limit import RateLimits
from calma.live.schema import CONTROL_SCHEMA

_DEFAULTS = CONTROL_SCHEMA.limits


@dataclass(frozen=True)
class LiveLimits:
    max_frame_bytes: int = int(_DEFAULTS["max_frame_bytes"])
    messages_per_second: float = float(_DEFAULTS["messages_per_second"])
    burst: int = int(_DEFAULTS["burst"])
    max_rate_limited: int = int(_DEFAULTS["max_rate_limited"])
    rate_limited_decay_per_second: float = float(_DEFAULTS["rate_limited_decay_per_second"])
    max_subscriptions: int = int(_DEFAULTS["max_subscriptions"])
    max_outbox_bytes: int = int(_DEFAULTS["max_outbox_bytes"])
    path: str = field(default=str(CONTROL_SCHEMA.document["endpoint"]))

    @property
    def rate(self) -> RateLimits:
        return RateLimits(
            self.messages_per_second, self.burst, self.max_rate_limited, self.rate_limited_decay_per_second
        )

    def as_frame(self) -> dict[str, int | float]:
        """What the hello frame tells the client."""
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "messages_per_second": self.messages_per_second,
            "burst": self.burst,
            "max_subscriptions": self.max_subscriptions,
        }
