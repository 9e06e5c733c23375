"""The PostgreSQL store of record (for many hub nodes): psycopg 3, async, with a connection pool.

Owns the room log on PostgreSQL and the transactions the shared study SQL runs
in (`transaction`, see `calma.store.sql`). Migrations are applied at `open`
under a session advisory lock, so nodes starting together apply each one
exactly once. Driver errors become `StoreError` with where and why, never with
the password from the URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection, IsolationLevel
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from calma.store.base import AppendRequest, RoomRecord, StoreError
from calma.store.migrations import MIGRATIONS
from calma.store.sql import IntegrityViolation, Row, qmark_to_format
from calma.store.urls import parse_database_url, scrub

log = logging.getLogger(__name__)

# pg_advisory_lock key held while migrating: "calma" in ASCII, as a bigint.
MIGRATION_LOCK_KEY = int.from_bytes(b"calma", "big")

SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
    " applied_at DOUBLE PRECISION NOT NULL)"
)


class PostgresStore:
    """Store of record in a PostgreSQL database, through a pool of psycopg connections."""

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout_s: float = 10.0,
        acquire_timeout_s: float = 10.0,
    ) -> None:
        database = parse_database_url(url)
        if database.backend != "postgresql":
            raise StoreError(f"not a PostgreSQL URL: {database.display}")
        self._url = url
        self._password = database.password
        self.location = database.location  # HOST:PORT/DB, for messages and logs
        self._min = min_connections
        self._max = max_connections
        self._connect_timeout_s = connect_timeout_s
        self._acquire_timeout_s = acquire_timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[Row]] | None = None

    # -- life ------------------------------------------------------------

    async def open(self) -> None:
        await self._migrate()
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            self._url,
            min_size=self._min,
            max_size=self._max,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": int(self._connect_timeout_s)},
            configure=_configure,
            check=AsyncConnectionPool.check_connection,  # a connection broken by a server restart is replaced
            timeout=self._acquire_timeout_s,
            name=f"calma {self.location}",
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout_s)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {self.location}: {self._why(exc)}") from None
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _migrate(self) -> None:
        """Apply every migration newer than the database's, each in its own transaction, once across nodes."""
        try:
            conn = await AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=int(self._connect_timeout_s)
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.location}: {self._why(exc)}") from None
        try:
            async with conn:
                # Session-level: held across the migrations' own transactions; released on unlock or disconnect.
                await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
                await conn.execute(SCHEMA_MIGRATIONS)
                cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                row = await cursor.fetchone()
                current = int(row[0]) if row else 0
                for migration in MIGRATIONS:
                    if migration.version <= current:
                        continue
                    log.info("applying migration %d: %s", migration.version, migration.description)
                    async with conn.transaction():
                        for statement in migration.postgres.split(";"):
                            if statement.strip():
                                await conn.execute(statement)  # type: ignore[arg-type]  # our own DDL
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
                            (migration.version, migration.description, time.time()),
                        )
                await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        except psycopg.Error as exc:
            raise StoreError(f"migrating PostgreSQL at {self.location} failed: {self._why(exc)}") from None

    # -- transactions (calma.store.sql.SQLDatabase) ------------------------

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[PostgresTransaction]:
        """One transaction on a pooled connection: read committed for writes, a read-only snapshot for reads."""
        pool = self._pool
        if pool is None:
            raise StoreError(f"store PostgreSQL at {self.location} is not open")
        try:
            async with pool.connection() as conn:
                await conn.set_isolation_level(None if write else IsolationLevel.REPEATABLE_READ)
                await conn.set_read_only(None if write else True)
                async with conn.transaction():
                    yield PostgresTransaction(self, conn)
        except PoolTimeout as exc:  # before psycopg.Error, which it is
            raise StoreError(f"no connection to PostgreSQL at {self.location}: {self._why(exc)}") from exc
        except psycopg.IntegrityError as exc:  # raised at commit (statements translate their own)
            raise IntegrityViolation(self._error(exc), unique=isinstance(exc, psycopg.errors.UniqueViolation)) from exc
        except psycopg.Error as exc:
            raise StoreError(self._error(exc)) from exc

    # -- the room log (calma.store.base.Store) -----------------------------

    async def append_batch(self, requests: list[AppendRequest]) -> list[int]:
        if not requests:
            return []
        async with self.transaction(write=True) as tx:
            return await tx.insert_returning_ids(
                "INSERT INTO room_updates (room, data) VALUES (%s, %s) RETURNING id",
                [(r.room, r.update) for r in requests],
            )

    async def load_room(self, room: str) -> RoomRecord:
        async with self.transaction(write=False) as tx:  # one snapshot: a compaction cannot fall between the reads
            row = await tx.one("SELECT data, upto_id FROM room_snapshots WHERE room = ?", (room,))
            snapshot, upto = (bytes(row["data"]), int(row["upto_id"])) if row else (None, 0)
            rows = await tx.all("SELECT id, data FROM room_updates WHERE room = ? AND id > ? ORDER BY id", (room, upto))
        return RoomRecord(snapshot, upto, [(int(r["id"]), bytes(r["data"])) for r in rows])

    async def write_snapshot(self, room: str, snapshot: bytes, upto_id: int) -> int:
        async with self.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO room_snapshots (room, data, upto_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (room) DO UPDATE SET data = excluded.data, upto_id = excluded.upto_id,"
                " updated_at = excluded.updated_at WHERE excluded.upto_id >= room_snapshots.upto_id",
                (room, snapshot, upto_id, time.time()),
            )
            return await tx.execute("DELETE FROM room_updates WHERE room = ? AND id <= ?", (room, upto_id))

    async def check(self) -> None:
        async with self.transaction(write=False) as tx:
            await tx.one("SELECT 1 AS ok")

    # -- messages ----------------------------------------------------------

    def _why(self, exc: BaseException) -> str:
        return scrub(str(exc), self._password) or type(exc).__name__

    def _error(self, exc: BaseException) -> str:
        return f"PostgreSQL error on {self.location}: {self._why(exc)}"


async def _configure(conn: AsyncConnection[Any]) -> None:
    """Every pooled connection hands JSONB back as JSON text, as SQLite does (the shared SQL decodes it)."""
    conn.adapters.register_loader("jsonb", TextLoader)


class PostgresTransaction:
    """The statements of one `PostgresStore.transaction`; shared `?` query text is rewritten to `%s`."""

    def __init__(self, store: PostgresStore, conn: AsyncConnection[Row]) -> None:
        self._store = store
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cursor = await self._conn.execute(qmark_to_format(sql), params)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(qmark_to_format(sql), rows)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            cursor = await self._conn.execute(qmark_to_format(sql), params)  # type: ignore[arg-type]
            return await cursor.fetchone()
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            cursor = await self._conn.execute(qmark_to_format(sql), params)  # type: ignore[arg-type]
            return await cursor.fetchall()
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def insert_returning_ids(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Run an `INSERT ... RETURNING id` per row in one pipeline (one round trip); the ids in row order."""
        ids: list[int] = []
        try:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(sql, rows, returning=True)  # type: ignore[arg-type]
                while True:
                    row = await cursor.fetchone()
                    assert row is not None
                    ids.append(int(row["id"]))
                    if not cursor.nextset():
                        break
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        return ids

    def _translate(self, exc: psycopg.Error) -> StoreError:
        message = self._store._error(exc)
        if isinstance(exc, psycopg.IntegrityError):
            return IntegrityViolation(message, unique=isinstance(exc, psycopg.errors.UniqueViolation))
        return StoreError(message)
