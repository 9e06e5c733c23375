"""Close codes and error codes of the control channel (mirrors shared_schema/control.json).

The enums are written out so code can name them; `schema_mismatches` compares
them with the schema, and tests/test_live_schema.py asserts there is none.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from calma.live.schema import ControlSchema

MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


class LiveCloseCode(IntEnum):
    GOING_AWAY = 1001
    FRAME_TOO_LARGE = 1009
    INTERNAL_ERROR = 1011
    UNAUTHORIZED = 4401
    TOO_SLOW = 4408
    RATE_LIMITED = 4429


class ErrorCode(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_TYPE = "unknown_type"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    LIMIT = "limit"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class LiveClosed(Exception):
    """Ends one /live connection with a close code and a reason the client can show."""

    def __init__(self, code: LiveCloseCode, reason: str) -> None:
        super().__init__(f"{code.name} ({int(code)}): {reason}")
        self.code = code
        self.reason = reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore")


class Refused(Exception):
    """One frame is refused with an error frame; the connection stays open."""

    def __init__(
        self, code: ErrorCode, message: str, *, request_id: str | None = None, retry_after_ms: int | None = None
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after_ms = retry_after_ms


def schema_mismatches(schema: ControlSchema) -> list[str]:
    """Differences between these enums and the schema's close and error codes (empty when in sync)."""
    problems: list[str] = []
    close_in_schema = {code: str(entry["name"]) for code, entry in schema.close_codes.items()}
    close_here = {int(code): code.name for code in LiveCloseCode}
    if close_in_schema != close_here:
        problems.append(f"close codes: schema {close_in_schema} != code {close_here}")
    errors_here = [code.value for code in ErrorCode]
    if list(schema.error_codes) != errors_here:
        problems.append(f"error codes: schema {list(schema.error_codes)} != code {errors_here}")
    return problems
