"""The server can author a document (as the control document will be): stored first, then relayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pycrdt

from calma.config import Settings
from calma.hub.log import LocalLog
from calma.hub.rooms import RoomManager
from calma.hub.trial import state_vector
from calma.store import GroupCommit
from calma.store.sqlite import SQLiteStore


@asynccontextmanager
async def running_rooms(tmp_path: Path) -> AsyncIterator[tuple[RoomManager, SQLiteStore]]:
    """A room manager on a real SQLite store, in this task (task groups cannot span fixture setup and teardown)."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    commit = GroupCommit(store)
    async with anyio.create_task_group() as tg:
        await tg.start(commit.run)
        yield RoomManager(Settings(room_idle_s=0.01), LocalLog(store, commit), tg), store
        tg.cancel_scope.cancel()
    await store.close()


async def test_a_server_write_is_stored_before_it_is_applied(tmp_path: Path) -> None:
    async with running_rooms(tmp_path) as (manager, store):
        await _server_write_story(manager, store)


async def _server_write_story(manager: RoomManager, store: SQLiteStore) -> None:
    room = await manager.acquire("control:demo")

    def set_segment(doc: pycrdt.Doc) -> None:
        doc.get("control", type=pycrdt.Map)["segment"] = "lobby"

    update = await room.write_as_server(set_segment)
    assert update
    assert room.doc.get("control", type=pycrdt.Map)["segment"] == "lobby"
    record = await store.load_room("control:demo")
    assert [data for _, data in record.updates] == [update]
    assert await room.write_as_server(lambda doc: None) == b""
    manager.release(room)


async def test_many_server_writes_share_one_client_id_so_state_vectors_stay_small(tmp_path: Path) -> None:
    # A participant raising and lowering a hand thousands of times makes as many server writes: each used to
    # add a client id to the document's state vector for good, until reconnecting clients' state vectors
    # outgrew the hub's limits.
    async with running_rooms(tmp_path) as (manager, store):
        room = await manager.acquire("control:hands")

        async def toggle(index: int) -> None:
            def change(doc: pycrdt.Doc) -> None:
                doc.get("control", type=pycrdt.Map)["hand"] = index % 2 == 0

            await room.write_as_server(change)

        async with anyio.create_task_group() as tg:  # written at once: no two may take the same clock
            for index in range(200):
                tg.start_soon(toggle, index)
        clients = state_vector(room.doc.get_state())
        assert len(clients) == 1, clients
        assert next(iter(clients.values())) == 200
        fresh = pycrdt.Doc()
        record = await store.load_room("control:hands")
        fresh.apply_update(pycrdt.merge_updates(*(data for _, data in record.updates)))
        assert state_vector(fresh.get_state()) == clients
        manager.release(room)
