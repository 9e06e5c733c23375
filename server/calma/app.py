"""The ASGI application: routes, and the lifespan that owns the store and every background task."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from calma import __version__
from calma.access.authenticate import Authenticator
from calma.access.live_connections import RedisRevocations
from calma.access.live import LiveStudyEvents, StudyLiveAuthenticator, StudyProgressFeed
from calma.access.rooms import StudyRoomAuthorizer
from calma.access.sandbox import SandboxRooms, sandbox_guards, sandbox_rooms_for
from calma.access.secret import load_or_create_secret
from calma.access.tokens import TokenSigner
from calma.access.throttle import SignInThrottle, ThrottlePolicy
from calma.api.app import create_api
from calma.api.security_headers import SecurityHeaders
from calma.api.endpoints import ApiContext
from calma.config import Settings
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.endpoint import serve_room
from calma.hub.log import LocalLog, RoomLog
from calma.hub.redis_log import RedisLog
from calma.hub.permissions import RoomAuthorizer
from calma.canvas.locks import BoardLocks, NoBoardLocks, RedisBoardLocks
from calma.canvas.edits_guard import edits_guards
from calma.canvas.service import CanvasService
from calma.discuss.service import DiscussService
from calma.store.discuss_sql import SQLDiscussStore
from calma.outputs.ab import ABService
from calma.store.ab_sql import SQLABStore
from calma.store.outputs_sql import SQLOutputsStore
from calma.familiarize.progress import FamiliarizeStore
from calma.familiarize.service import StageGate
from calma.embeddings.factory import embedder_for
from calma.embeddings.model import MODEL_PACKAGE
from calma.hub.rooms import RoomManager
from calma.interact.embedded import GEMMA_NOTICE, packaged_gemma_terms
from calma.interact.models import build_pool
from calma.interact.service import InteractService
from calma.interact.node_leases import NodeLeases
from calma.edge.caps import ConnectionCaps
from starlette.middleware import Middleware
from calma.reflect.service import ReflectService
from calma.reflect.structural import StructuralDetector
from calma.store.embeddings_sql import SQLEmbeddingCache
from calma.store.reflect_sql import SQLReflectStore
from calma.store.sql import SQLDatabase
from calma.store.throttle_sql import SQLFailureCounters
from calma.live import LiveAuthenticator, LiveChannel, LiveClosed, LiveCloseCode, ReadOnlyControlRooms
from calma.observability import metrics
from calma.store import GroupCommit, Store, StoreError
from calma.store.factory import (
    conversation_store_for,
    database_of,
    familiarize_store_for,
    room_store,
    study_store_for,
    watch_store,
)
from calma.studies.store import StudyStore

log = logging.getLogger(__name__)

REPO_CLIENT_DIST = Path(__file__).resolve().parents[2] / "client" / "dist"
# A wheel carries NOTICE inside the package (pyproject's force-include); a checkout reads the repo's.
NOTICE_PATH = next(
    (p for p in (Path(__file__).resolve().parent / "NOTICE", Path(__file__).resolve().parents[2] / "NOTICE") if p.is_file()),
    Path("NOTICE"),
)

CLIENT_MISSING_PAGE = """<!doctype html><meta charset="utf-8"><title>CALMA Studio</title>
<h1>CALMA Studio</h1><p>The browser client has not been built. Run <code>npm ci --prefix client &amp;&amp;
npm run build --prefix client</code> (the README's run command does this), then reload.</p>"""


@dataclass
class Services:
    """What the lifespan starts and the routes use."""

    store: Store
    rooms: RoomManager
    interact: InteractService
    reflect: ReflectService
    canvas: CanvasService
    discuss: DiscussService
    ab: ABService
    redis: RedisLog | None = None  # with --redis: /healthz asks it whether Redis answers


async def start_interact(settings: Settings, store: Store, access: Access, tg: TaskGroup) -> InteractService:
    """The model pool and the chat service on it. Replies a stopped server left unfinished are marked interrupted."""
    shared_slots = None
    if settings.redis_url:
        from calma.interact.slots import RedisSlots  # caps on shared endpoints hold across hub nodes

        shared_slots = RedisSlots(settings.redis_url)
    pool = build_pool(settings.llm, shared_slots=shared_slots, cache_dir=settings.model_cache_dir)
    conversations = conversation_store_for(store)
    # One node: nothing can be streaming now. Many nodes: only replies too old to be alive on another node.
    horizon = time.time() - (0 if not settings.redis_url else settings.llm.pool.max_queue_wait_s + 3600)
    interrupted = await conversations.interrupt_unfinished(created_before=horizon)
    if interrupted:
        log.warning("replies left unfinished by a stop or crash were marked interrupted", extra={"count": interrupted})
    await tg.start(pool.run)
    service = InteractService(
        pool, conversations, access.studies, gate=StageGate(access.familiarize), flush_interval_s=settings.chat_flush_interval_s,
        stand_in_models=frozenset(m.name for m in settings.llm.models if m.stand_in),
        # Many nodes: replies in flight are registered under this node's lease; a dead node's are swept promptly.
        leases=NodeLeases(settings.redis_url) if settings.redis_url else None,
    )
    await tg.start(service.run)
    return service


@dataclass(frozen=True)
class Access:
    """Studies and access: the study records, who a request is, and who may enter which room."""

    studies: StudyStore
    familiarize: FamiliarizeStore
    authenticator: Authenticator
    rooms: RoomAuthorizer
    live: LiveAuthenticator
    sandbox: SandboxRooms | None = None  # rooms outside any study: their caps and sweep (None: they are off)


def study_access(settings: Settings, store: Store) -> Access:
    """The study store in the room store's database (SQLite or PostgreSQL), and the authenticators built on it.

    Reads (or, on first start, creates) the token secret, so a bad secret file stops the server here.
    """
    studies = study_store_for(store)
    authenticator = Authenticator(studies, TokenSigner(load_or_create_secret(settings.secret_path)))
    sandbox = sandbox_rooms_for(settings, store)
    return Access(
        studies=studies,
        familiarize=familiarize_store_for(store),
        authenticator=authenticator,
        rooms=StudyRoomAuthorizer(studies, authenticator, sandbox=sandbox),
        live=StudyLiveAuthenticator(studies, authenticator),  # cookie or token only, sandbox or not
        sandbox=sandbox,
    )


def api_routes(context: ApiContext) -> list[Route | Mount]:
    """The REST API at /api/..., and at /api itself (a 404 problem, not the client's 404 page)."""
    api = create_api(context)
    return [Route("/api", api), Mount("/api", app=api)]


async def start_room_log(settings: Settings, store: Store, tg: TaskGroup) -> RoomLog:
    """The rooms' update log: group commit into the store of record, or Redis streams with `--redis`."""
    if settings.redis_url:
        from calma.hub.redis_log import RedisLog  # redis-py is imported only by nodes that use it

        redis_log = RedisLog(settings.redis_url, store)
        try:
            await tg.start(redis_log.run)
        except Exception as exc:
            raise StoreError(f"cannot reach Redis at {redact_url(settings.redis_url)}: {exc}") from exc
        log.info("rooms use Redis streams", extra={"node": redis_log.node_id, "redis": redact_url(settings.redis_url)})
        return redis_log
    commit = GroupCommit(store, window_s=settings.group_commit_window_s, max_batch=settings.group_commit_max_batch)
    await tg.start(commit.run)
    return LocalLog(store, commit)


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url


def create_app(settings: Settings, *, store: Store | None = None, authorizer: RoomAuthorizer | None = None) -> Starlette:
    """Build the app; the store opens and background tasks start in its lifespan.

    Rooms are authorized by study role (`calma.access.rooms`) unless `authorizer` says otherwise.
    """
    the_store: Store = store or room_store(settings)
    database = database_of(settings).display  # never the password
    access = study_access(settings, the_store)
    the_authorizer: RoomAuthorizer = authorizer or access.rooms
    services: Services | None = None
    # Loads the model on first use (Reflect's hints; the canvas next); vectors are cached in the store.
    # In process, or through `calma embed-worker` processes over Redis with --embed-workers.
    embedder = embedder_for(settings, SQLEmbeddingCache(the_store, MODEL_PACKAGE) if isinstance(the_store, SQLDatabase) else None)

    # Placing cards on a board is one node at a time: a lease in Redis with many nodes.
    board_locks: BoardLocks = RedisBoardLocks(settings.redis_url) if settings.redis_url else NoBoardLocks()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal services
        try:
            await the_store.open()
        except StoreError as exc:
            log.error("cannot open the store of record: %s", exc, extra={"database": database})
            raise
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(watch_store, the_store)  # PostgreSQL: fail fast while the server is down
                # Open websockets whose session or link was revoked elsewhere close (calma.access.live_connections).
                await tg.start(access.authenticator.connections.run, access.authenticator.credential_live,
                               settings.recheck_credentials_s)  # fmt: skip
                if settings.redis_url:  # and at once on every node, told over Redis
                    revocations = RedisRevocations(settings.redis_url)
                    await tg.start(revocations.run, access.authenticator.connections)
                    access.authenticator.connections.relay_to(revocations)
                room_log = await start_room_log(settings, the_store, tg)
                interact = await start_interact(settings, the_store, access, tg)
                rooms = RoomManager(settings, room_log, tg, guards=sandbox_guards(access.sandbox, edits_guards(lambda: rooms)))
                if access.sandbox is not None:
                    await tg.start(access.sandbox.run, lambda: rooms)  # deletes sandbox rooms past their lifetime

                def reflect_changed(study: str, participant: str, version: int) -> None:
                    live.notify_participant(participant, {"type": "reflect.changed", "study": study, "version": version})
                    canvas.reflect_changed(study, participant)  # the group's code cards follow

                reflect = ReflectService(
                    SQLReflectStore(the_store), interact.conversations, StructuralDetector(embedder),
                    on_change=reflect_changed,
                )
                canvas = CanvasService(lambda: rooms, embedder, access.studies, lambda: reflect, board_locks=board_locks,
                                       max_board_bytes=settings.limits.max_document_bytes)
                await tg.start(canvas.run)
                discuss = DiscussService(SQLDiscussStore(the_store), access.studies, lambda: rooms, lambda: canvas,
                                         lambda: interact.conversations, lambda: reflect, embedder)
                ab = ABService(SQLABStore(the_store), lambda: interact.pool,
                               max_trials_per_participant=settings.max_ab_trials_per_participant)
                services = Services(the_store, rooms, interact, reflect, canvas, discuss, ab,
                                    redis=room_log if isinstance(room_log, RedisLog) else None)
                log.info("calma hub ready", extra={"version": __version__, "database": database})
                yield
                tg.cancel_scope.cancel()
        finally:
            services = None
            await board_locks.aclose()
            await embedder.aclose()
            await the_store.close()

    def running() -> Services:
        if services is None:
            raise RuntimeError("the app is not running (its lifespan has not started)")
        return services

    # -- control channel: /live and the server-authored control rooms (calma.live) --------------
    # Control rooms (`*.control`) are read-only for every client, whatever the room authorizer says.
    # /live knows people by session cookie or ?token= only (calma.access.live), sandbox rooms or not.
    the_authorizer = ReadOnlyControlRooms(the_authorizer)
    # Facilitators watch their studies' progress on /live (study.watch); the API tells the watchers what it writes.
    live = LiveChannel(
        lambda: running().rooms, access.live, progress=StudyProgressFeed(access.studies), chat=lambda: running().interact,
        after_command=lambda study, group, command: running().discuss.after_command(study, group, command),
    )
    # A revoked session or token closes the websockets it opened (calma.access.live_connections).
    if isinstance(access.live, StudyLiveAuthenticator):
        access.live.attach_channel(live.connection_of)
    if isinstance(access.rooms, StudyRoomAuthorizer):
        access.rooms.attach_rooms(lambda: running().rooms)
    # --------------------------------------------------------------------------------------------

    async def drain() -> None:
        """Close every room connection with 1001 "server shutting down" before the server stops."""
        # /live first: its sessions hold control rooms until its connections end.
        await live.close_everyone(LiveClosed(LiveCloseCode.GOING_AWAY, "server shutting down"), settings.drain_timeout_s)
        if services is not None:
            await services.rooms.close_everyone(
                RoomClosed(CloseCode.GOING_AWAY, "server shutting down"), timeout_s=settings.drain_timeout_s
            )

    async def room_route(websocket: WebSocket) -> None:
        await serve_room(websocket, running().rooms, the_authorizer, settings.limits)

    async def healthz(request: Request) -> Response:
        try:
            await running().store.check()
        except (StoreError, RuntimeError) as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        if (redis := running().redis) is not None:
            try:
                await redis.check()
            except StoreError:  # this node cannot relay updates to the others: out of the load balancer's rotation
                return JSONResponse({"status": "degraded", "version": __version__, "redis": "unreachable"}, status_code=503)
        # Anyone may ask: how many endpoints are healthy, never where they are (facilitators see that in the log).
        models = [
            {"model": m.model, "waiting": m.waiting, "endpoints": len(m.endpoints),
             "healthy": sum(1 for e in m.endpoints if e["healthy"] is not False)}
            for m in running().interact.pool.status()
        ]
        return JSONResponse({"status": "ok", "version": __version__, "rooms": len(running().rooms), "models": models})

    async def metrics_route(request: Request) -> Response:
        refused = metrics_refused(request, settings.metrics_token)
        if refused is not None:
            return refused
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def gemma_terms(request: Request) -> Response:
        """The Gemma Terms of Use, as the packaged model carries them (the terms require passing them on)."""
        terms = packaged_gemma_terms()
        if terms is None:
            return PlainTextResponse("the packaged Gemma model is not installed", status_code=404)
        # third-party HTML on our origin: no scripts, no requests, no access to the session
        return HTMLResponse(terms, headers={"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"})

    async def notice(request: Request) -> Response:
        return PlainTextResponse(NOTICE_PATH.read_text(encoding="utf-8") if NOTICE_PATH.is_file() else GEMMA_NOTICE)

    async def client_missing(request: Request) -> Response:
        return HTMLResponse(CLIENT_MISSING_PAGE, status_code=503)

    static_dir = settings.static_dir or REPO_CLIENT_DIST
    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_route),
        Route("/legal/gemma-terms", gemma_terms),
        Route("/legal/NOTICE", notice),
        WebSocketRoute("/rooms/{room:path}", room_route),
        live.route,  # control channel
        *api_routes(
            ApiContext(
                access.studies, access.authenticator, settings, LiveStudyEvents(live.watchers),
                interact=lambda: running().interact,
                familiarize=access.familiarize,
                reflect=lambda: running().reflect,
                canvas=lambda: running().canvas,
                discuss=lambda: running().discuss,
                outputs=lambda: SQLOutputsStore(running().store),
                ab=lambda: running().ab,
                sign_ins=sign_in_throttle(settings, the_store),
            )
        ),
    ]
    if (static_dir / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=static_dir, html=True), name="client"))
    else:
        log.warning("client not built; serving a notice at /", extra={"static_dir": str(static_dir)})
        routes.append(Route("/", client_missing))
    # Websocket connections per client address and in all, capped before any route (calma.edge.caps).
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(ConnectionCaps, settings.connection_caps)])
    app.add_middleware(SecurityHeaders)  # CSP, no framing, no sniffing, no referrer: every HTTP response
    app.state.drain = drain
    return app


def sign_in_throttle(settings: Settings, store: Store) -> SignInThrottle:
    """Failed sign-ins counted in the store of record: shared by every hub node, kept across restarts."""
    if not isinstance(store, SQLDatabase):
        raise TypeError(f"sign-in counters need a SQL store of record, not {type(store).__name__}")
    policy = ThrottlePolicy(settings.sign_in_free_failures, settings.sign_in_base_delay_s, settings.sign_in_max_delay_s)
    return SignInThrottle(SQLFailureCounters(store), policy)


def is_loopback(host: str | None) -> bool:
    """Whether a client address is on this host's loopback (anything not an IP address, e.g. a unix socket's peer, is not)."""
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_refused(request: Request, token: str | None) -> Response | None:
    """None if this request may read /metrics (a loopback client, or the metrics token as a bearer token).

    The client address is the one uvicorn reports: behind a reverse proxy on this host that sets
    X-Forwarded-For (uvicorn trusts it from 127.0.0.1), the proxy's client, not the proxy.
    """
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if token is not None and scheme.lower() == "bearer":
        if hmac.compare_digest(credentials.strip().encode("utf-8"), token.encode("utf-8")):
            return None
        return PlainTextResponse(
            "wrong metrics token", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics", error="invalid_token"'}
        )
    if is_loopback(None if request.client is None else request.client.host):
        return None
    if token is None:
        return PlainTextResponse("/metrics is served to loopback clients only on this server", status_code=403)
    return PlainTextResponse(
        "/metrics needs `Authorization: Bearer <metrics token>`", status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )
