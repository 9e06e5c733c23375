"""Declaring endpoints once: the route, its checks and its OpenAPI operation come from one `Endpoint`.

A request goes: route (404 / 405) → authentication (401) → query and body
(415 / 413 / 400 / 422) → the handler, which looks records up and applies the
privacy rules (404 / 403 / 409).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calma.access.authenticate import AuthenticationError, Authenticator
from calma.access.principal import Principal
from calma.access.throttle import MemoryCounters, SignInThrottle, ThrottlePolicy
from calma.access.tokens import TokenRejected
from calma.api.body import read_json, read_query
from calma.api.problems import not_found, token_rejected, unauthenticated, unavailable
from calma.config import Settings
from calma.canvas.service import CanvasService
from calma.discuss.service import DiscussService
from calma.outputs.ab import ABService
from calma.store.outputs_sql import SQLOutputsStore
from calma.familiarize.progress import FamiliarizeStore
from calma.interact.service import InteractService
from calma.reflect.service import ReflectService
from calma.studies.model import Progress
from calma.studies.store import StudyStore
from calma.studies.text import unstorable

M = TypeVar("M", bound=BaseModel)


class Auth(Enum):
    NONE = "none"  # anyone; credentials are not even looked at
    OPTIONAL = "optional"  # anyone; the principal, if any, is passed on
    REQUIRED = "required"  # a live session or a valid token, or 401


class StudyEvents(Protocol):
    """Told by handlers after a change is stored, for whoever follows it live (the /live watchers)."""

    def progress_changed(self, progress: Progress) -> None:
        """A participant joined (at their first stage) or moved to another stage."""
        ...


class NoStudyEvents:
    def progress_changed(self, progress: Progress) -> None:
        pass


@dataclass(frozen=True)
class ApiContext:
    """What handlers work with."""

    store: StudyStore
    authenticator: Authenticator
    settings: Settings
    events: StudyEvents = field(default_factory=NoStudyEvents)
    interact: Callable[[], InteractService] | None = None  # None: this server offers no chat
    familiarize: FamiliarizeStore | None = None
    reflect: Callable[[], ReflectService] | None = None
    canvas: Callable[[], CanvasService] | None = None
    discuss: Callable[[], DiscussService] | None = None
    outputs: Callable[[], SQLOutputsStore] | None = None
    ab: Callable[[], ABService] | None = None
    # Failed sign-ins per account and address; a server counts them in its store of record (calma.store.throttle_sql).
    sign_ins: SignInThrottle = field(default_factory=lambda: SignInThrottle(MemoryCounters(), ThrottlePolicy()))

    def ab_service(self) -> ABService:
        if self.ab is None:
            raise unavailable("this server runs no A/B tests")
        return self.ab()

    def outputs_store(self) -> SQLOutputsStore:
        if self.outputs is None:
            raise unavailable("this server keeps no outputs")
        return self.outputs()

    def discuss_service(self) -> DiscussService:
        if self.discuss is None:
            raise unavailable("this server runs no Discuss sessions")
        return self.discuss()

    def canvas_service(self) -> CanvasService:
        if self.canvas is None:
            raise unavailable("this server has no semantic canvas")
        return self.canvas()

    def reflect_service(self) -> ReflectService:
        if self.reflect is None:
            raise unavailable("this server keeps no Reflect records")
        return self.reflect()

    def familiarize_store(self) -> FamiliarizeStore:
        if self.familiarize is None:
            raise unavailable("this server keeps no Familiarize progress")
        return self.familiarize

    def chat(self) -> InteractService:
        if self.interact is None:
            raise unavailable("this server offers no Interact stage (no models are configured)")
        return self.interact()

    def now(self) -> float:
        return self.authenticator.now()


@dataclass
class Call:
    """One request to one endpoint, after its checks passed."""

    request: Request
    api: ApiContext
    principal: Principal | None
    body: BaseModel | None
    query: BaseModel | None

    @property
    def user(self) -> Principal:
        """The principal of an endpoint with Auth.REQUIRED."""
        if self.principal is None:
            raise unauthenticated()
        return self.principal

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def body_as(self, model: type[M]) -> M:
        assert isinstance(self.body, model), f"{self.request.url.path} declared no {model.__name__} body"
        return self.body

    def query_as(self, model: type[M]) -> M:
        assert isinstance(self.query, model), f"{self.request.url.path} declared no {model.__name__} query"
        return self.query


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under /api, e.g. "/studies/{study_id}"
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None  # None: no content
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: Auth = Auth.REQUIRED
    problems: tuple[int, ...] = ()  # beyond those the declaration implies
    response_headers: dict[str, str] = field(default_factory=dict)  # name → description
    text_media_type: str | None = None  # a text response (e.g. "text/csv") instead of JSON

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def problem_statuses(self) -> list[int]:
        statuses = set(self.problems)
        if self.auth is Auth.REQUIRED:
            statuses.add(401)
        if self.request is not None:
            statuses.update((400, 413, 415, 422))
        if self.query is not None:
            statuses.add(422)
        if self.path_params:
            statuses.add(404)
        return sorted(statuses)


def json_reply(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def routes(endpoints: list[Endpoint], api: ApiContext) -> list[Route]:
    """One route per path, dispatching on the method (so 405 answers list every allowed method)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        methods = by_path.setdefault(endpoint.path, {})
        if endpoint.method in methods:
            raise ValueError(f"{endpoint.method} {endpoint.path} is declared twice")
        methods[endpoint.method] = endpoint
    return [Route(path, _dispatcher(methods, api), methods=list(methods)) for path, methods in by_path.items()]


def _dispatcher(methods: dict[str, Endpoint], api: ApiContext) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await _serve(methods[method], request, api)

    return dispatch


async def _serve(endpoint: Endpoint, request: Request, api: ApiContext) -> Response:
    principal = None
    if endpoint.auth is not Auth.NONE:
        principal = await _authenticate(request, api.authenticator)
        if principal is None and endpoint.auth is Auth.REQUIRED:
            raise unauthenticated()
    for name, value in request.path_params.items():  # no record has an id the store cannot even hold
        if unstorable(str(value)) is not None:
            raise not_found(f"the {name.removesuffix('_id').replace('_', ' ')} {str(value)!r}")
    query = read_query(request, endpoint.query) if endpoint.query is not None else None
    body = None
    if endpoint.request is not None:
        body = await read_json(request, endpoint.request, api.settings.api_max_body_bytes)
    response = await endpoint.handler(Call(request, api, principal, body, query))
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _authenticate(request: Request, authenticator: Authenticator) -> Principal | None:
    try:
        return await authenticator.http(request)
    except TokenRejected as exc:
        raise token_rejected(exc.problem) from exc
    except AuthenticationError as exc:
        raise unauthenticated(str(exc)) from exc
