"""The store of record's contract, run against every backend (SQLite now; PostgreSQL joins later)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from calma.store import GroupCommit, Store, StoreError
from calma.store.base import AppendRequest
from calma.store.migrations import latest_version
from calma.store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    the_store = SQLiteStore(tmp_path / "store.sqlite3")
    await the_store.open()
    yield the_store
    await the_store.close()


async def test_a_new_room_is_empty(store: Store) -> None:
    record = await store.load_room("nobody-here")
    assert record.snapshot is None and record.updates == [] and record.last_id == 0


async def test_appends_come_back_in_order_per_room(store: Store) -> None:
    ids = await store.append_batch(
        [AppendRequest("a", b"a1"), AppendRequest("b", b"b1"), AppendRequest("a", b"a2")]
    )
    assert ids == sorted(ids) and len(set(ids)) == 3
    more = await store.append_batch([AppendRequest("a", b"a3")])
    record = await store.load_room("a")
    assert [data for _, data in record.updates] == [b"a1", b"a2", b"a3"]
    assert record.last_id == more[0]
    assert [data for _, data in (await store.load_room("b")).updates] == [b"b1"]


async def test_a_snapshot_folds_only_the_updates_it_covers(store: Store) -> None:
    ids = await store.append_batch([AppendRequest("r", bytes([i])) for i in range(5)])
    folded = await store.write_snapshot("r", b"SNAP", ids[2])
    assert folded == 3
    later = await store.append_batch([AppendRequest("r", b"late")])
    record = await store.load_room("r")
    assert record.snapshot == b"SNAP" and record.snapshot_upto == ids[2]
    assert [data for _, data in record.updates] == [bytes([3]), bytes([4]), b"late"]
    assert record.last_id == later[0]


async def test_an_older_snapshot_never_replaces_a_newer_one(store: Store) -> None:
    ids = await store.append_batch([AppendRequest("r", bytes([i])) for i in range(4)])
    await store.write_snapshot("r", b"NEW", ids[3])
    await store.write_snapshot("r", b"OLD", ids[1])
    record = await store.load_room("r")
    assert record.snapshot == b"NEW" and record.updates == []


async def test_group_commit_shares_transactions_and_reports_durable_in_order(store: Store) -> None:
    calls: list[int] = []
    original = store.append_batch

    async def counting(requests: list[AppendRequest]) -> list[int]:
        calls.append(len(requests))
        return await original(requests)

    store.append_batch = counting  # type: ignore[method-assign]
    commit = GroupCommit(store, window_s=0.005)
    durable: list[tuple[str, int]] = []
    async with anyio.create_task_group() as tg:
        await tg.start(commit.run)
        async with anyio.create_task_group() as writers:
            for index in range(200):
                writers.start_soon(commit.append, "room", bytes([index % 256]), lambda i, n=index: durable.append((str(n), i)))
        tg.cancel_scope.cancel()
    assert sum(calls) == 200
    assert len(calls) < 50, f"200 concurrent appends took {len(calls)} transactions"
    assert [i for _, i in durable] == sorted(i for _, i in durable)
    assert len((await store.load_room("room")).updates) == 200


async def test_group_commit_reports_a_failed_write_to_every_waiter(tmp_path: Path) -> None:
    class FailingStore(SQLiteStore):
        async def append_batch(self, requests: list[AppendRequest]) -> list[int]:
            raise StoreError("disk full (simulated)")

    failing = FailingStore(tmp_path / "x.sqlite3")
    await failing.open()
    commit = GroupCommit(failing)
    applied: list[int] = []
    async with anyio.create_task_group() as tg:
        await tg.start(commit.run)
        with pytest.raises(StoreError, match="disk full"):
            await commit.append("room", b"\x00", applied.append)
        tg.cancel_scope.cancel()
    assert applied == [], "nothing may be applied or broadcast when the write failed"
    await failing.close()


async def test_sqlite_migrations_run_once_and_use_wal(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    for _ in range(2):
        the_store = SQLiteStore(path)
        await the_store.open()
        await the_store.close()
    with sqlite3.connect(path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, latest_version() + 1))
    assert mode == "wal"


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    the_store = SQLiteStore(tmp_path / "c.sqlite3")
    with pytest.raises(StoreError, match="not open"):
        await the_store.load_room("r")
