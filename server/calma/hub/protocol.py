"""The y-websocket wire format: strict decoding and encoding of one frame.

Owns lib0 varUint framing and the message kinds of the standard protocol
(sync step 1 / step 2 / update, awareness, auth, query-awareness). Decoding is
strict: truncated input, overlong integers and trailing bytes are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class ProtocolError(ValueError):
    """The frame is not a well-formed y-websocket message."""


@dataclass(frozen=True, slots=True)
class SyncMessage:
    kind: SyncType
    payload: bytes  # a state vector (STEP1) or an update (STEP2, UPDATE)


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    update: bytes


@dataclass(frozen=True, slots=True)
class QueryAwarenessMessage:
    pass


@dataclass(frozen=True, slots=True)
class AuthMessage:
    reason: str


Message = SyncMessage | AwarenessMessage | QueryAwarenessMessage | AuthMessage


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text; "null" means the client left


class Reader:
    """Reads lib0-encoded values from a bytes buffer, refusing to run past its end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def var_uint(self) -> int:
        value = 0
        shift = 0
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ProtocolError("truncated varUint")
            byte = data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ProtocolError("varUint longer than 64 bits")

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolError(f"length {length} runs past the end of the frame")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def var_string(self) -> str:
        raw = self.var_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not valid UTF-8") from exc

    def done(self) -> bool:
        return self.pos == len(self.data)

    def expect_end(self) -> None:
        if not self.done():
            raise ProtocolError(f"{len(self.data) - self.pos} trailing bytes after the message")


def var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def var_bytes(value: bytes) -> bytes:
    return var_uint(len(value)) + value


def decode(frame: bytes) -> Message:
    """Decode one frame into a message, or raise ProtocolError."""
    reader = Reader(frame)
    kind = reader.var_uint()
    message: Message
    if kind == MessageType.SYNC:
        sub = reader.var_uint()
        if sub not in (SyncType.STEP1, SyncType.STEP2, SyncType.UPDATE):
            raise ProtocolError(f"unknown sync message type {sub}")
        message = SyncMessage(SyncType(sub), reader.var_bytes())
    elif kind == MessageType.AWARENESS:
        message = AwarenessMessage(reader.var_bytes())
    elif kind == MessageType.QUERY_AWARENESS:
        message = QueryAwarenessMessage()
    elif kind == MessageType.AUTH:
        reader.var_uint()
        message = AuthMessage(reader.var_string())
    else:
        raise ProtocolError(f"unknown message type {kind}")
    reader.expect_end()
    return message


def decode_awareness(update: bytes) -> list[AwarenessEntry]:
    """Decode an awareness update into its entries, or raise ProtocolError."""
    reader = Reader(update)
    count = reader.var_uint()
    if count > 10_000:
        raise ProtocolError(f"awareness update claims {count} entries")
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        entries.append(AwarenessEntry(client_id, clock, reader.var_string()))
    reader.expect_end()
    return entries


def encode_awareness_update(entries: list[AwarenessEntry]) -> bytes:
    """Encode entries as an awareness update (the payload of an awareness message)."""
    parts = [var_uint(len(entries))]
    for entry in entries:
        parts.append(var_uint(entry.client_id))
        parts.append(var_uint(entry.clock))
        parts.append(var_bytes(entry.state.encode("utf-8")))
    return b"".join(parts)


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    """Encode entries as one awareness message frame."""
    return bytes([MessageType.AWARENESS]) + var_bytes(encode_awareness_update(entries))


def encode_sync(kind: SyncType, payload: bytes) -> bytes:
    return bytes([MessageType.SYNC, kind]) + var_bytes(payload)


def encode_auth_denied(reason: str) -> bytes:
    return bytes([MessageType.AUTH, 0]) + var_bytes(reason.encode("utf-8"))
