"""The store of record's contract, run against every backend (SQLite and PostgreSQL), and each one's own duties."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psycopg
import pytest

from calma.config import Settings
from calma.store import GroupCommit, Store, StoreError
from calma.store.base import AppendRequest
from calma.store.factory import database_of, room_store
from calma.store.migrations import latest_version
from calma.store.postgres import MIGRATION_LOCK_KEY, PostgresStore
from calma.store.sqlite import SQLiteStore
from calma.store.urls import DatabaseUrlError, parse_database_url, redact_url
from tests.helpers.server import free_port


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An open store on a fresh database, once per backend (the `database_url` fixture)."""
    the_store = room_store(Settings(database_url=database_url))
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


async def test_a_closed_store_says_so(database_url: str) -> None:
    the_store = room_store(Settings(database_url=database_url))
    with pytest.raises(StoreError, match="not open"):
        await the_store.load_room("r")
    await the_store.open()
    await the_store.close()
    with pytest.raises(StoreError, match="not open"):
        await the_store.append_batch([AppendRequest("r", b"x")])


async def test_snapshots_and_appends_racing_lose_nothing(store: Store) -> None:
    """Compaction while appends keep coming: every update is in the snapshot it folded into or still in the log."""
    appended: list[int] = []

    async def append(n: int) -> None:
        for i in range(n):
            appended.extend(await store.append_batch([AppendRequest("race", f"u{i}".encode())]))

    async def compact() -> None:
        for _ in range(10):
            record = await store.load_room("race")
            if record.updates:
                await store.write_snapshot("race", b"S%d" % record.last_id, record.last_id)
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(append, 60)
        tg.start_soon(compact)
    record = await store.load_room("race")
    assert all(i > record.snapshot_upto for i, _ in record.updates)
    assert {i for i in appended if i > record.snapshot_upto} == {i for i, _ in record.updates}


# -- PostgreSQL: migrations under concurrency, connection errors, URLs ----------------------------


async def test_postgres_migrations_run_once_when_nodes_start_together(postgres_url: str) -> None:
    nodes = [PostgresStore(postgres_url) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for node in nodes:
            tg.start_soon(node.open)
    try:
        ids = await nodes[0].append_batch([AppendRequest("r", b"x")])
        assert [d for _, d in (await nodes[3].load_room("r")).updates] == [b"x"] and len(ids) == 1
    finally:
        for node in nodes:
            await node.close()
    again = PostgresStore(postgres_url)  # a restart applies nothing
    await again.open()
    await again.close()
    with psycopg.connect(postgres_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s", (MIGRATION_LOCK_KEY & 0xFFFFFFFF,)
        ).fetchone()
    assert versions == list(range(1, latest_version() + 1))
    assert held == (0,), "the migration lock must be released"


async def test_postgres_connection_errors_say_where_and_never_the_password(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens there
    nowhere = PostgresStore(f"postgresql://calma:hunter2-secret@127.0.0.1:{port}/calma", connect_timeout_s=3)
    with pytest.raises(StoreError) as refused:
        await nowhere.open()
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}/calma" in str(refused.value)
    assert "refused" in str(refused.value).lower()
    missing_db = postgres_url.rsplit("/", 1)[0].replace("postgresql://postgres@", "postgresql://postgres:hunter2-secret@")
    missing = PostgresStore(f"{missing_db}/no_such_database_here")
    with pytest.raises(StoreError, match="no_such_database_here.*does not exist") as absent:
        await missing.open()
    for message in (str(refused.value), str(absent.value), caplog.text):
        assert "hunter2" not in message


def test_database_urls_name_the_backend_and_hide_passwords() -> None:
    assert parse_database_url("sqlite:///var/lib/calma/c.sqlite3").sqlite_path == Path("/var/lib/calma/c.sqlite3")
    assert parse_database_url("sqlite:////var/lib/calma/c.sqlite3").sqlite_path == Path("/var/lib/calma/c.sqlite3")
    assert parse_database_url("sqlite:data/c.sqlite3").sqlite_path == Path("data/c.sqlite3")
    pg = parse_database_url("postgresql://calma:s3cret@db.internal:6543/calma?sslmode=require")
    assert pg.backend == "postgresql" and pg.location == "db.internal:6543/calma"
    assert "s3cret" not in pg.display and pg.display.startswith("postgresql://calma:***@db.internal:6543/calma")
    assert parse_database_url("postgres://calma@db/calma").location == "db:5432/calma"
    assert redact_url("postgresql://u@h/d?password=s3cret&sslmode=require") == "postgresql://u@h/d?password=***&sslmode=require"
    for bad in ("mysql://root:s3cret@h/d", "sqlite://host/x", "postgresql://u:s3cret@h:notaport/d"):
        with pytest.raises(DatabaseUrlError) as refused:
            parse_database_url(bad)
        assert "s3cret" not in str(refused.value)
    assert database_of(Settings(data_dir=Path("/d"))).sqlite_path == Path("/d/calma.sqlite3")
