"""Reading a request's JSON body and query into a model, with every check a problem of its own.

In order: the media type must be JSON (415); the declared and the actually
streamed size must stay within the limit (413, without reading further); the
bytes must be one JSON document in UTF-8 (400); it must match the model (422,
listing each field that failed).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from calma.api.problems import FieldError, Problem, invalid

M = TypeVar("M", bound=BaseModel)

JSON_MEDIA_TYPES = ("application/json",)


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES or (media_type.startswith("application/") and media_type.endswith("+json"))


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing (413) as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Problem("bad-request", "Content-Length is not a number") from None
        if size > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, model: type[M], max_bytes: int) -> M:
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        raise Problem(
            "unsupported-media-type",
            f"send the body as application/json (got {content_type or 'no Content-Type'})",
            headers={"Accept": "application/json"},
        )
    body = await read_body(request, max_bytes)
    if not body.strip():
        raise Problem("malformed-json", "the request body is empty; send a JSON object")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        json_errors = [e for e in exc.errors() if e["type"] == "json_invalid"]
        if json_errors:
            raise Problem("malformed-json", f"the request body is not valid JSON: {json_errors[0]['msg']}") from exc
        raise invalid(field_errors(exc)) from exc


def read_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc


def field_errors(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(
            field=".".join(str(part) for part in error["loc"]) or "(body)",
            message=error["msg"],
            code=error["type"],
        )
        for error in exc.errors()
    ]


def _too_large(max_bytes: int) -> Problem:
    return Problem("payload-too-large", f"the request body exceeds {max_bytes} bytes")
