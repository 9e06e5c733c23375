"""RFC 9457 problem details: every failure of the REST API, as `application/problem+json`.

A problem has a `type` (a URI under /api/problems/, which explains it), a
`title` (the same for every problem of its type), the HTTP `status`, a
`detail` written for the person reading it, and the `instance` (the request
path). Validation problems add `errors`: one entry per field that failed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from calma.access.tokens import TokenProblem
from calma.store.circuit import StoreUnavailable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "/api/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug


def _catalogue(*types: ProblemType) -> dict[str, ProblemType]:
    return {t.slug: t for t in types}


PROBLEM_TYPES: dict[str, ProblemType] = _catalogue(
    ProblemType("bad-request", 400, "Bad request", "The request cannot be understood as it is."),
    ProblemType("malformed-json", 400, "Malformed JSON", "The request body is not a JSON document."),
    ProblemType("unauthenticated", 401, "Authentication required", "Sign in, or send an access token."),
    ProblemType("bad-credentials", 401, "Wrong email or password", "No facilitator has this email and password."),
    *(
        ProblemType(f"token-{problem.value}", 401, "Token not accepted", problem.message)
        for problem in TokenProblem
    ),
    ProblemType("forbidden", 403, "Forbidden", "You may see this, but not do this."),
    ProblemType("not-found", 404, "Not found", "Nothing here that you may see."),
    ProblemType("method-not-allowed", 405, "Method not allowed", "This path does not answer this method."),
    ProblemType("conflict", 409, "Conflict", "The request conflicts with the current state of a record."),
    ProblemType("payload-too-large", 413, "Request body too large", "The request body exceeds the size limit."),
    ProblemType(
        "sign-in-throttled", 429, "Too many failed sign-ins",
        "Too many failed sign-ins on this account or from this address; wait for `Retry-After` seconds.",
    ),
    ProblemType(
        "limit-reached", 429, "Limit reached",
        "You have as many of these (in flight, or in all) as this server allows one person; the detail says which.",
    ),
    ProblemType("unsupported-media-type", 415, "Unsupported media type", "Request bodies must be JSON."),
    ProblemType("unavailable", 503, "Unavailable", "A service this request needs (a model, the store) is unavailable."),
    ProblemType("validation-failed", 422, "Validation failed", "Some fields are missing or not acceptable."),
    ProblemType("internal-error", 500, "Internal server error", "The server failed; the failure is logged."),
)


@dataclass(frozen=True)
class FieldError:
    field: str  # a JSON-pointer-like path into the body or query, e.g. "deployment_context.name"
    message: str
    code: str


class Problem(Exception):
    """Raise to answer with a problem; `slug` names its type in PROBLEM_TYPES."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if slug not in PROBLEM_TYPES:
            raise ValueError(f"unknown problem type {slug!r}")
        super().__init__(f"{slug}: {detail}")
        self.slug = slug
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    @property
    def type(self) -> ProblemType:
        return PROBLEM_TYPES[self.slug]

    def response(self, instance: str) -> Response:
        kind = self.type
        body: dict[str, object] = {
            "type": kind.uri,
            "title": kind.title,
            "status": kind.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message, "code": e.code} for e in self.errors]
        return Response(
            json.dumps(body, ensure_ascii=False),
            status_code=kind.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=self.headers,
        )


def not_found(what: str) -> Problem:
    return Problem("not-found", f"{what} does not exist, or you may not see it")


def forbidden(detail: str) -> Problem:
    return Problem("forbidden", detail)


def conflict(detail: str) -> Problem:
    return Problem("conflict", detail)


def unavailable(detail: str) -> Problem:
    return Problem("unavailable", detail)


def unauthenticated(detail: str = "sign in (POST /api/session), or send `Authorization: Bearer <token>`") -> Problem:
    return Problem("unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="calma"'})


def token_rejected(problem: TokenProblem) -> Problem:
    return Problem(
        f"token-{problem.value}", problem.message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def invalid(errors: list[FieldError]) -> Problem:
    fields = ", ".join(sorted({e.field for e in errors}))
    return Problem("validation-failed", f"invalid or missing fields: {fields}", errors=errors)


# -- Starlette exception handlers for the /api app -------------------------

_HTTP_STATUS_SLUGS = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response(request.url.path)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (route, other method), as problems."""
    assert isinstance(exc, HTTPException)
    slug = _HTTP_STATUS_SLUGS.get(exc.status_code)
    if slug is None:
        log.error("unexpected HTTP exception %d on %s: %s", exc.status_code, request.url.path, exc.detail)
        slug = "internal-error"
    if slug == "not-found":
        detail = f"no API path {request.url.path}; see /api/openapi.json"
    elif slug == "method-not-allowed":
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {(exc.headers or {}).get('Allow', '')}"
    else:
        detail = str(exc.detail)
    return Problem(slug, detail, headers=dict(exc.headers or {})).response(request.url.path)


async def handle_unavailable(request: Request, exc: Exception) -> Response:
    """A part the request needs failed for now (the store, the embedding model, an interrupted pass): 503, try again."""
    log.warning("request failed on an unavailable part", extra={"path": request.url.path, "error": str(exc)})
    # The store knows when it is worth trying again (it probes a server that is down every second or so).
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, StoreUnavailable) else {}
    return Problem("unavailable", f"{exc}; try again", headers=headers).response(request.url.path)


async def handle_internal_error(request: Request, exc: Exception) -> Response:
    """Any other exception: a 500 problem. Starlette re-raises the exception after this, so it is logged."""
    return Problem("internal-error", "the server failed to answer this request; the failure is logged").response(
        request.url.path
    )
