"""The /api application: every endpoint, the OpenAPI document, and failures as problem details."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calma.api import (
    ab,
    canvas,
    conversations,
    discuss,
    familiarize,
    groups,
    invites,
    outputs,
    participants,
    reflect,
    session,
    studies,
)
from calma.api.endpoints import ApiContext, Endpoint, routes
from calma.canvas.service import PlacingInterrupted
from calma.embeddings.model import EmbeddingUnavailable
from calma.store import StoreError
from calma.api.openapi import openapi_document
from calma.api.problems import (
    PROBLEM_TYPES,
    handle_unavailable,
    Problem,
    handle_http_exception,
    handle_internal_error,
    handle_problem,
    not_found,
)

ENDPOINTS: list[Endpoint] = [
    *session.ENDPOINTS,
    *studies.ENDPOINTS,
    *groups.ENDPOINTS,
    *invites.ENDPOINTS,
    *participants.ENDPOINTS,
    *conversations.ENDPOINTS,
    *familiarize.ENDPOINTS,
    *reflect.ENDPOINTS,
    *canvas.ENDPOINTS,
    *discuss.ENDPOINTS,
    *outputs.ENDPOINTS,
    *ab.ENDPOINTS,
]


def create_api(context: ApiContext) -> Starlette:
    """The ASGI app to mount at /api."""
    document = json.dumps(openapi_document(ENDPOINTS)).encode("utf-8")

    async def openapi_json(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def problem_type(request: Request) -> Response:
        kind = PROBLEM_TYPES.get(request.path_params["slug"])
        if kind is None:
            raise not_found("the problem type")
        body: dict[str, Any] = {
            "type": kind.uri,
            "title": kind.title,
            "status": kind.status,
            "description": kind.description,
        }
        return Response(json.dumps(body), media_type="application/json")

    app = Starlette(
        routes=[
            Route("/openapi.json", openapi_json, methods=["GET"]),
            Route("/problems/{slug}", problem_type, methods=["GET"]),
            *routes(ENDPOINTS, context),
        ],
        exception_handlers={
            Problem: handle_problem,
            HTTPException: handle_http_exception,
            # The store failing mid-request, the embedding model missing, a canvas pass cut short: 503, not 500.
            StoreError: handle_unavailable,
            EmbeddingUnavailable: handle_unavailable,
            PlacingInterrupted: handle_unavailable,
            Exception: handle_internal_error,
        },
    )
    app.router.redirect_slashes = False
    return app
