"""The OpenAPI 3.1 document of the REST API, generated from the endpoint declarations and their models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaValue, models_json_schema

from calma import __version__
from calma.access.sessions import SESSION_COOKIE
from calma.api import schemas
from calma.api.endpoints import Auth, Endpoint
from calma.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES
from calma.studies.model import ID_PATTERN

API_PREFIX = "/api"
REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerToken": []}]

Mode = Literal["validation", "serialization"]
Refs = dict[tuple[Any, Mode], JsonSchemaValue]  # (model, mode) -> {"$ref": ...}, as pydantic returns it


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Mode]] = [(schemas.ProblemDetails, "serialization")]
    for endpoint in endpoints:
        if endpoint.request is not None:
            models.append((endpoint.request, "validation"))
        if endpoint.response is not None:
            models.append((endpoint.response, "serialization"))
    refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operations = paths.setdefault(API_PREFIX + endpoint.path, {})
        operations[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CALMA Studio API",
            "version": __version__,
            "description": (
                "Studies, groups, invites, participants and progress. Sign in with POST /api/session "
                "(a session cookie) or send `Authorization: Bearer <token>`. Every failure is an RFC 9457 "
                "problem (application/problem+json); its `type` is explained at that path."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "a token from `calma admin token`"},
            },
        },
        "security": SECURITY,
    }


def _operation(endpoint: Endpoint, refs: Refs) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint, refs),
    }
    if endpoint.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.request, "validation")]}},
        }
    if endpoint.auth is Auth.NONE:
        operation["security"] = []
    elif endpoint.auth is Auth.OPTIONAL:
        operation["security"] = [{}, *SECURITY]
    return operation


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": ID_PATTERN}}
        for name in endpoint.path_params
    ]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": _non_null(prop)})
    return parameters


def _non_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch of `X | None`."""
    options = [option for option in prop.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        merged = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        return {**options[0], **merged}
    return {k: v for k, v in prop.items() if k != "default"}


def _responses(endpoint: Endpoint, refs: Refs) -> dict[str, Any]:
    success: dict[str, Any] = {"description": endpoint.summary}
    if endpoint.response is not None:
        success["content"] = {"application/json": {"schema": refs[(endpoint.response, "serialization")]}}
    elif endpoint.text_media_type is not None:
        media = endpoint.text_media_type
        schema: dict[str, Any] = (
            {"type": "object"} if media == "application/json"
            else {"type": "string", "format": "binary"} if media.startswith("image/") else {"type": "string"}
        )
        success["content"] = {media: {"schema": schema}}
    if endpoint.response_headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in endpoint.response_headers.items()
        }
    responses: dict[str, Any] = {str(endpoint.status): success}
    problem_schema = refs[(schemas.ProblemDetails, "serialization")]
    for status in endpoint.problem_statuses:
        kinds = sorted(t.uri for t in PROBLEM_TYPES.values() if t.status == status)
        responses[str(status)] = {
            "description": "a problem: " + ", ".join(kinds),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_schema}},
        }
    return responses
