"""The ASGI application: routes, and the lifespan that owns the store and every background task."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from calma import __version__
from calma.config import Settings
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.endpoint import serve_room
from calma.hub.permissions import OpenRooms, RoomAuthorizer
from calma.hub.rooms import RoomManager
from calma.observability import metrics
from calma.store import GroupCommit, Store, StoreError
from calma.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)

REPO_CLIENT_DIST = Path(__file__).resolve().parents[2] / "client" / "dist"

CLIENT_MISSING_PAGE = """<!doctype html><meta charset="utf-8"><title>CALMA Studio</title>
<h1>CALMA Studio</h1><p>The browser client has not been built. Run <code>npm ci --prefix client &amp;&amp;
npm run build --prefix client</code> (the README's run command does this), then reload.</p>"""


@dataclass
class Services:
    """What the lifespan starts and the routes use."""

    store: Store
    rooms: RoomManager


def create_app(settings: Settings, *, store: Store | None = None, authorizer: RoomAuthorizer | None = None) -> Starlette:
    """Build the app; the store opens and background tasks start in its lifespan."""
    the_store: Store = store or SQLiteStore(settings.database_path, synchronous=settings.sqlite_synchronous)
    the_authorizer: RoomAuthorizer = authorizer or OpenRooms()
    services: Services | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal services
        await the_store.open()
        try:
            commit = GroupCommit(
                the_store, window_s=settings.group_commit_window_s, max_batch=settings.group_commit_max_batch
            )
            async with anyio.create_task_group() as tg:
                await tg.start(commit.run)
                services = Services(the_store, RoomManager(settings, the_store, commit, tg))
                log.info("calma hub ready", extra={"version": __version__, "database": str(settings.database_path)})
                yield
                tg.cancel_scope.cancel()
        finally:
            services = None
            await the_store.close()

    def running() -> Services:
        if services is None:
            raise RuntimeError("the app is not running (its lifespan has not started)")
        return services

    async def drain() -> None:
        """Close every room connection with 1001 "server shutting down" before the server stops."""
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
        return JSONResponse({"status": "ok", "version": __version__, "rooms": len(running().rooms)})

    async def metrics_route(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def client_missing(request: Request) -> Response:
        return HTMLResponse(CLIENT_MISSING_PAGE, status_code=503)

    static_dir = settings.static_dir or REPO_CLIENT_DIST
    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_route),
        WebSocketRoute("/rooms/{room:path}", room_route),
    ]
    if (static_dir / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=static_dir, html=True), name="client"))
    else:
        log.warning("client not built; serving a notice at /", extra={"static_dir": str(static_dir)})
        routes.append(Route("/", client_missing))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.drain = drain
    return app
