"""WebSocket close codes of the room protocol (mirrors shared_schema/close_codes.json)."""

from __future__ import annotations

from enum import IntEnum


MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    FRAME_TOO_LARGE = 1009
    INTERNAL_ERROR = 1011
    MALFORMED_MESSAGE = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    BAD_ROOM_NAME = 4404
    TOO_SLOW = 4408
    DOCUMENT_TOO_LARGE = 4413
    EDIT_REFUSED = 4422
    ROOM_FULL = 4429


class RoomClosed(Exception):
    """Ends one connection with a close code and a reason the client can show."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{code.name} ({int(code)}): {reason}")
        self.code = code
        self.reason = reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore")
