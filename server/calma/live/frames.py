"""Control frames on the wire: MessagePack decoding and schema validation in, checked encoding out.

Owns turning a received binary frame into a validated client frame (or a
`Refused` with the request id when one could be read) and turning a server
frame into bytes, checked against the schema first so the server never sends
what the schema does not allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
from pydantic import BaseModel, ValidationError

from calma.live.codes import ErrorCode, Refused
from calma.live.schema import CONTROL_SCHEMA, ControlSchema

MAX_ERROR_MESSAGE = 300  # the schema's error.message maxLength
MAX_ERRORS_LISTED = 3


def decode_client_frame(data: bytes, schema: ControlSchema = CONTROL_SCHEMA) -> BaseModel:
    """The validated frame, or raise Refused (malformed, unknown_type or invalid)."""
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except ValueError as exc:  # msgpack's ExtraData, FormatError, StackError and bad UTF-8 are all ValueErrors
        raise Refused(ErrorCode.MALFORMED, f"not one MessagePack value: {exc}"[:MAX_ERROR_MESSAGE]) from exc
    if not isinstance(raw, dict):
        raise Refused(ErrorCode.MALFORMED, f"a frame is a MessagePack map, not {type(raw).__name__}")
    request_id = readable_request_id(raw, schema)
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise Refused(ErrorCode.INVALID, "a frame needs a string `type`", request_id=request_id)
    model = schema.client_messages.get(kind)
    if model is None:
        raise Refused(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown frame type {kind[:40]!r}; client frames are {', '.join(sorted(schema.client_messages))}",
            request_id=request_id,
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Refused(ErrorCode.INVALID, describe(exc), request_id=request_id) from exc


def readable_request_id(raw: Mapping[Any, Any], schema: ControlSchema = CONTROL_SCHEMA) -> str | None:
    """The frame's `id` if it is a valid request id, else None (it is not echoed)."""
    candidate = raw.get("id")
    if not isinstance(candidate, str):
        return None
    try:
        return schema.request_id.validate_python(candidate)
    except ValidationError:
        return None


def describe(error: ValidationError) -> str:
    """A short message naming the offending fields, without echoing their (possibly huge) values."""
    parts = []
    for detail in error.errors(include_input=False, include_url=False)[:MAX_ERRORS_LISTED]:
        where = ".".join(str(part) for part in detail["loc"]) or "frame"
        parts.append(f"{where}: {detail['msg']}")
    more = error.error_count() - MAX_ERRORS_LISTED
    if more > 0:
        parts.append(f"and {more} more")
    message = "; ".join(parts)
    return message if len(message) <= MAX_ERROR_MESSAGE else message[: MAX_ERROR_MESSAGE - 1] + "…"


def encode_server_frame(frame: Mapping[str, Any], schema: ControlSchema = CONTROL_SCHEMA) -> bytes:
    """Check a server frame against its schema model, then pack it; optional fields that are None are left out."""
    kind = frame["type"]
    optional = schema.optional_fields[kind]
    wire = {key: value for key, value in frame.items() if value is not None or key not in optional}
    schema.server_messages[kind].model_validate(wire)  # raises on a server bug: we never send off-schema frames
    packed: bytes = msgpack.packb(wire)
    return packed


def error_frame(refused: Refused) -> dict[str, Any]:
    return {
        "type": "error",
        "id": refused.request_id,
        "code": refused.code.value,
        "message": refused.message[:MAX_ERROR_MESSAGE],
        "retry_after_ms": refused.retry_after_ms,
    }
