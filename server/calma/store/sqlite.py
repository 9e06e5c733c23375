"""The SQLite store of record (the embedded default): one file, WAL journal.

All statements run on one connection in a worker thread, one at a time, so the
event loop never blocks on disk. A transaction of several statements (the
study store's, through `transaction`) holds the connection until it ends, so
nothing else's statements can land inside it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio

from calma.store.base import AppendRequest, RoomRecord, StoreError
from calma.store.migrations import MIGRATIONS
from calma.store.sql import IntegrityViolation, Row

log = logging.getLogger(__name__)
T = TypeVar("T")


class SQLiteStore:
    """Store of record in a SQLite file with write-ahead logging."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"unsupported SQLite synchronous mode {synchronous!r}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = anyio.Lock()  # held for a whole call or transaction: one user of the connection at a time

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(self._open_sync, limiter=self._limiter)

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # First: with several processes opening one file (calma cluster), switching to WAL must wait for a lock
        # another process holds while it migrates, not fail with "database is locked".
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")  # the study tables declare theirs; the room log has none
        self._conn = conn
        self._migrate(conn)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at REAL NOT NULL)"
        )
        def current() -> int:
            return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

        for migration in MIGRATIONS:
            if migration.version <= current():
                continue
            conn.execute("BEGIN IMMEDIATE")  # the write lock: another process migrating the same file waits here
            try:
                if migration.version <= current():  # it did this one while we waited
                    conn.execute("COMMIT")
                    continue
                log.info("applying migration %d: %s", migration.version, migration.description)
                for statement in migration.sqlite.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, time.time()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        async with self._lock:  # after the call or transaction in progress
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)

    async def run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        """Run `func` on the store's connection in its worker thread, after any statement already queued.

        For sibling stores that share this file and connection (the study store);
        sqlite3 errors become StoreError and an open transaction is rolled back.
        """
        return await self._run(func)

    async def _run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await self._call(self._connection(), func)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is not open")
        return self._conn

    async def _call(
        self, conn: sqlite3.Connection, func: Callable[[sqlite3.Connection], T], *, rollback_on_error: bool = True
    ) -> T:
        """Run `func` in the worker thread; the caller holds the lock. sqlite3 errors become StoreError.

        On an error, an open transaction is rolled back, unless a `transaction` block owns it (it rolls back itself).
        """

        def call() -> T:
            try:
                return func(conn)
            except sqlite3.Error as exc:
                if rollback_on_error and conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise IntegrityViolation(f"SQLite error on {self.path}: {exc}", unique="UNIQUE" in str(exc)) from exc
                raise StoreError(f"SQLite error on {self.path}: {exc}") from exc

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[SQLiteTransaction]:
        """One transaction on the store's connection (see `calma.store.sql.SQLDatabase`).

        A write transaction takes the write lock up front (BEGIN IMMEDIATE) so that it never has to be
        upgraded; a read transaction sees one snapshot. Statements run one thread hop each.
        """
        async with self._lock:
            conn = self._connection()
            await self._call(conn, lambda c: c.execute("BEGIN IMMEDIATE" if write else "BEGIN"))
            try:
                yield SQLiteTransaction(self, conn)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._call(conn, _rollback)
                raise
            with anyio.CancelScope(shield=True):
                await self._call(conn, _commit)

    async def append_batch(self, requests: list[AppendRequest]) -> list[int]:
        def write(conn: sqlite3.Connection) -> list[int]:
            conn.execute("BEGIN IMMEDIATE")
            ids = [
                conn.execute("INSERT INTO room_updates (room, data) VALUES (?, ?)", (r.room, r.update)).lastrowid
                for r in requests
            ]
            conn.execute("COMMIT")
            return [int(i) for i in ids if i is not None]

        return await self._run(write)

    async def load_room(self, room: str) -> RoomRecord:
        def read(conn: sqlite3.Connection) -> RoomRecord:
            conn.execute("BEGIN")
            try:
                row = conn.execute("SELECT data, upto_id FROM room_snapshots WHERE room = ?", (room,)).fetchone()
                snapshot, upto = (bytes(row[0]), int(row[1])) if row else (None, 0)
                updates = [
                    (int(i), bytes(d))
                    for i, d in conn.execute(
                        "SELECT id, data FROM room_updates WHERE room = ? AND id > ? ORDER BY id", (room, upto)
                    )
                ]
            finally:
                conn.execute("COMMIT")
            return RoomRecord(snapshot, upto, updates)

        return await self._run(read)

    async def write_snapshot(self, room: str, snapshot: bytes, upto_id: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO room_snapshots (room, data, upto_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (room) DO UPDATE SET data = excluded.data, upto_id = excluded.upto_id,"
                " updated_at = excluded.updated_at WHERE excluded.upto_id >= room_snapshots.upto_id",
                (room, snapshot, upto_id, time.time()),
            )
            deleted = conn.execute("DELETE FROM room_updates WHERE room = ? AND id <= ?", (room, upto_id)).rowcount
            conn.execute("COMMIT")
            return int(deleted)

        return await self._run(write)

    async def check(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


class SQLiteTransaction:
    """The statements of one `SQLiteStore.transaction`, each run in the store's worker thread."""

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._statement(lambda c: int(c.execute(sql, params).rowcount))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._statement(lambda c: c.executemany(sql, rows))

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        def read(conn: sqlite3.Connection) -> Row | None:
            cursor = conn.cursor()
            cursor.row_factory = sqlite3.Row
            row: sqlite3.Row | None = cursor.execute(sql, params).fetchone()
            return row

        return await self._statement(read)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        def read(conn: sqlite3.Connection) -> list[Row]:
            cursor = conn.cursor()
            cursor.row_factory = sqlite3.Row
            return list(cursor.execute(sql, params).fetchall())

        return await self._statement(read)

    async def _statement(self, func: Callable[[sqlite3.Connection], T]) -> T:
        return await self._store._call(self._conn, func, rollback_on_error=False)  # the transaction block rolls back
