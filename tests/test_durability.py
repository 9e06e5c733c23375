"""Nothing any client received is lost: kill -9, restart, compaction under load, failed loads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest
from websockets.asyncio.client import connect

from tests.helpers.raw_client import frames_until_close, record_labels, write_labels
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


async def test_updates_survive_kill_9_and_restart(server: ServerProcess) -> None:
    url = server.room_url("durable")
    expected = {f"label-{i}" for i in range(40)}
    async with connect_doc(url) as writer, connect_doc(url) as witness:
        for text in sorted(expected):
            add_label(writer.doc, text)
        await witness.wait_for(lambda doc: set(label_texts(doc)) == expected)

    server.kill9()
    server.start()

    async with connect_doc(url) as fresh:
        assert set(label_texts(fresh.doc)) == expected


async def test_kill_9_while_updates_flow_loses_nothing_any_client_received(server: ServerProcess) -> None:
    url = server.room_url("mid-stream")
    seen_by_observers: list[set[str]] = [set(), set()]
    enough = anyio.Event()

    def check_enough() -> None:
        if len(seen_by_observers[0]) >= 60:
            enough.set()

    async def kill_when_enough() -> None:
        await enough.wait()
        await anyio.to_thread.run_sync(server.kill9)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(record_labels, url, seen_by_observers[0], check_enough)
            tg.start_soon(record_labels, url, seen_by_observers[1])
            tg.start_soon(kill_when_enough)
            for writer in ("w1", "w2", "w3"):
                tg.start_soon(write_labels, url, writer, 3_000)

    received = seen_by_observers[0] | seen_by_observers[1]
    assert len(received) >= 60
    server.start()
    async with connect_doc(url) as fresh:
        survived = set(label_texts(fresh.doc))
    missing = received - survived
    assert not missing, f"{len(missing)} labels that clients had received were lost: {sorted(missing)[:10]}"


@pytest.fixture
def eager_compactor(tmp_path: Path):
    process = ServerProcess(tmp_path / "data", extra_args=["--compact-after", "5"])
    process.start()
    yield process
    process.stop()


def _log_rows(database: Path, room: str) -> tuple[int, int]:
    with sqlite3.connect(database) as conn:
        updates = conn.execute("SELECT COUNT(*) FROM room_updates WHERE room = ?", (room,)).fetchone()[0]
        snapshots = conn.execute("SELECT COUNT(*) FROM room_snapshots WHERE room = ?", (room,)).fetchone()[0]
    return int(updates), int(snapshots)


async def test_compaction_under_concurrent_writers_loses_nothing(eager_compactor: ServerProcess) -> None:
    url = eager_compactor.room_url("compacted")
    writers = {"a": 120, "b": 120, "c": 120}
    expected = {f"{name}-{i}" for name, count in writers.items() for i in range(count)}
    async with connect_doc(url) as witness:
        async with anyio.create_task_group() as tg:
            for name, count in writers.items():
                tg.start_soon(write_labels, url, name, count)
        await witness.wait_for(lambda doc: set(label_texts(doc)) == expected, timeout=30)

    updates, snapshots = _log_rows(eager_compactor.data_dir / "calma.sqlite3", "compacted")
    assert snapshots == 1
    assert updates < len(expected), "the update log was never folded into a snapshot"

    eager_compactor.kill9()
    eager_compactor.start()
    async with connect_doc(url) as fresh:
        assert set(label_texts(fresh.doc)) == expected


async def test_a_room_that_fails_to_load_is_an_error_never_a_blank_room(server: ServerProcess) -> None:
    async with connect_doc(server.room_url("healthy")) as first, connect_doc(server.room_url("healthy")) as second:
        add_label(first.doc, "still here")
        await second.wait_for(lambda doc: label_texts(doc) == ["still here"])
    server.stop()
    with sqlite3.connect(server.data_dir / "calma.sqlite3") as conn:
        conn.execute("INSERT INTO room_updates (room, data) VALUES (?, ?)", ("broken", b"\x01\x02garbage"))
    server.start()

    async with connect(server.room_url("broken")) as websocket:
        assert await frames_until_close(websocket) == [], "a room that failed to load must send no document"
        assert websocket.close_code == 1011
        assert "could not be loaded" in (websocket.close_reason or "")

    async with connect_doc(server.room_url("healthy")) as third:
        assert label_texts(third.doc) == ["still here"]
