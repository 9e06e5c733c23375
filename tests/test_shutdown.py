"""A clean shutdown tells every client why, with 1001, and keeps what they wrote."""

from __future__ import annotations

import anyio
from websockets.asyncio.client import connect

from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


async def test_shutdown_closes_connections_with_1001_and_keeps_the_board(server: ServerProcess) -> None:
    url = server.room_url("closing-time")
    async with connect_doc(url) as writer, connect_doc(url) as witness:
        add_label(writer.doc, "written before shutdown")
        await witness.wait_for(lambda doc: "written before shutdown" in label_texts(doc))
    async with connect(url) as listener:
        await listener.recv()  # the server's sync step 1: we are in the room
        await anyio.to_thread.run_sync(server.stop)
        await frames_until_close(listener)
        assert listener.close_code == 1001
        assert listener.close_reason == "server shutting down"
    server.start()
    async with connect_doc(url) as fresh:
        assert label_texts(fresh.doc) == ["written before shutdown"]
