"""The `calma` command line."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from calma.config import RoomLimits, Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    class HubServer(uvicorn.Server):
        """uvicorn, but room connections get 1001 "server shutting down" before uvicorn's own close."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()  # no new connections while we drain
            await app.state.drain()
            await super().shutdown(sockets)

    from calma.app import create_app
    from calma.observability.logs import configure

    configure(args.log_level)
    limits = RoomLimits(
        max_frame_bytes=args.max_frame_bytes,
        max_document_bytes=args.max_document_bytes,
        max_connections_per_room=args.max_connections_per_room,
    )
    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        static_dir=Path(args.static_dir) if args.static_dir else None,
        limits=limits,
        compact_after_updates=args.compact_after,
        log_level=args.log_level,
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # The sans-I/O implementation hands every frame that arrived before a close to the app, in order;
        # the legacy one reports the disconnect as soon as the socket drops, discarding frames it had read.
        ws="websockets-sansio",
        ws_max_size=limits.max_frame_bytes + 1024,  # bigger frames: uvicorn closes with 1009 itself
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        backlog=4096,
        timeout_graceful_shutdown=5,
    )
    HubServer(config).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calma", description="CALMA Studio: live deliberation server.")
    commands = parser.add_subparsers(dest="command", required=True)
    env = os.environ.get

    serve = commands.add_parser("serve", help="run the server on its embedded defaults (SQLite, one process)")
    serve.add_argument("--host", default=env("CALMA_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(env("CALMA_PORT", "8000")))
    serve.add_argument("--data-dir", default=env("CALMA_DATA_DIR", "calma-data"), help="where the SQLite store lives")
    serve.add_argument("--static-dir", default=env("CALMA_STATIC_DIR"), help="built client (default: client/dist)")
    defaults = RoomLimits()
    serve.add_argument("--max-frame-bytes", type=int, default=defaults.max_frame_bytes)
    serve.add_argument("--max-document-bytes", type=int, default=defaults.max_document_bytes)
    serve.add_argument("--max-connections-per-room", type=int, default=defaults.max_connections_per_room)
    serve.add_argument(
        "--compact-after", type=int, default=Settings().compact_after_updates, help="updates per room before a snapshot"
    )
    serve.add_argument("--log-level", default=env("CALMA_LOG_LEVEL", "info"), choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
