"""Peer server for the fan-out benchmark: pycrdt-websocket with its SQLite store.

Stock ``pycrdt.websocket`` pieces only: an ``ASGIServer`` wrapping a
``WebsocketServer`` whose rooms persist every update through
``pycrdt.store.SQLiteYStore`` (one database file in ``--data-dir``), served by
uvicorn with its defaults. The room name is the request path, so
``ws://HOST:PORT/<room>`` and ``ws://HOST:PORT/rooms/<room>`` are two rooms.

A room is loaded from the store before any connection is served (the way
jupyter-collaboration does it), so a restart keeps the documents.

Usage: python pycrdt_ws_server.py --port 8000 --data-dir /tmp/x [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import anyio
import uvicorn
from pycrdt.store import SQLiteYStore, YDocNotFound
from pycrdt.websocket import ASGIServer, WebsocketServer, YRoom
from pycrdt.websocket.websocket_server import exception_logger

log = logging.getLogger("pycrdt_ws_peer")


class PersistentWebsocketServer(WebsocketServer):
    """A WebsocketServer whose rooms each get an SQLiteYStore, loaded before use."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(rooms_ready=False, exception_handler=exception_logger, log=log)
        self._store_class = type("BenchSQLiteYStore", (SQLiteYStore,), {"db_path": str(db_path)})
        self._loaded: dict[str, anyio.Event] = {}

    async def get_room(self, name: str) -> YRoom:
        """Create, start and load the room on first use; later callers wait for the load."""
        if name in self.rooms:
            await self._loaded[name].wait()
            return self.rooms[name]
        loaded = anyio.Event()
        self._loaded[name] = loaded
        store = self._store_class(path=name, log=log)
        room = YRoom(ready=False, ystore=store, exception_handler=exception_logger, log=log)
        self.rooms[name] = room
        try:
            await self.start_room(room)
            await store.started.wait()
            try:
                await store.apply_updates(room.ydoc)
            except YDocNotFound:
                pass
            room.ready = True
        finally:
            loaded.set()
        return room

    async def delete_room(self, *, name: str | None = None, room: YRoom | None = None) -> None:
        """Forget the load marker together with the room."""
        if name is None and room is not None:
            name = self.get_room_name(room)
        await super().delete_room(name=name)
        if name is not None:
            self._loaded.pop(name, None)


async def serve(host: str, port: int, data_dir: Path) -> None:
    """Run the websocket server and uvicorn until uvicorn exits."""
    data_dir.mkdir(parents=True, exist_ok=True)
    websocket_server = PersistentWebsocketServer(data_dir / "ystore.db")
    app = ASGIServer(websocket_server)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    async with websocket_server:
        await uvicorn.Server(config).serve()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    anyio.run(serve, args.host, args.port, args.data_dir)


if __name__ == "__main__":
    main()
