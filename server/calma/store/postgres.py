"""The PostgreSQL store of record (for many hub nodes): psycopg 3, async, with a connection pool.

Owns the room log on PostgreSQL and the transactions the shared study SQL runs
in (`transaction`, see `calma.store.sql`). Migrations are applied at `open`
under a session advisory lock, so nodes starting together apply each one
exactly once. Driver errors become `StoreError` with where and why, never with
the password from the URL.

Outages: `watch` (in the app's task group) watches for them. A broken pooled
connection or a long wait for one makes it probe the server with a connection
of its own; if that fails, the circuit (`circuit.py`) opens: every transaction
fails at once with `StoreUnavailable` (503 with Retry-After on the API) instead
of waiting out the pool's timeout, and `watch` probes every `probe_interval_s`
until the server answers, then opens a fresh pool (the old one's connections
are dead and its own reconnection backs off for minutes) and closes the circuit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
from psycopg import AsyncConnection, IsolationLevel
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from anyio.abc import TaskStatus
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from calma.store.base import AppendRequest, RoomRecord, StoreError
from calma.store.circuit import Circuit, StoreUnavailable
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
        suspect_after_s: float = 0.5,
        probe_timeout_s: float = 2.0,
        probe_interval_s: float = 1.0,
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
        self._suspect_after_s = min(suspect_after_s, acquire_timeout_s)  # a wait this long for a connection: probe
        self._probe_timeout_s = probe_timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[Row]] | None = None
        self._circuit = Circuit("PostgreSQL", probe_interval_s=probe_interval_s)

    # -- life ------------------------------------------------------------

    async def open(self) -> None:
        await self._migrate()
        self._pool = await self._open_pool()

    async def _open_pool(self) -> AsyncConnectionPool[AsyncConnection[Row]]:
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            self._url,
            min_size=self._min,
            max_size=self._max,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": int(self._connect_timeout_s)},
            configure=_configure,
            check=self._check_connection,  # a connection broken by a server restart is replaced
            timeout=self._acquire_timeout_s,
            name=f"calma {self.location}",
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout_s)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {self.location}: {self._why(exc)}") from None
        return pool

    async def _check_connection(self, conn: AsyncConnection[Row]) -> None:
        """The pool's check of an idle connection before it hands it out; a broken one may mean an outage."""
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error as exc:
            self._circuit.suspect(f"a pooled connection was broken: {self._why(exc)}")
            raise

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # -- outages -------------------------------------------------------------

    async def watch(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch for outages until cancelled (see the module docstring). Without it, calls wait out the pool's timeout."""
        task_status.started()
        while True:
            suspicion = await self._circuit.suspicion()
            try:
                await self._probe()
            except StoreError as exc:
                self._circuit.trip()
                log.error(
                    "PostgreSQL is unreachable; requests fail at once until it answers again",
                    extra={"database": self.location, "error": str(exc), "suspicion": suspicion},
                )
                await self._reopen_when_back()
            else:  # it answers: the pool was busy, or one connection had broken; at most one probe per interval
                await anyio.sleep(self._circuit.probe_interval_s)

    async def _reopen_when_back(self) -> None:
        """Probe every interval until the server answers, then replace the pool and close the circuit."""
        old = self._pool
        if old is not None:  # its connections are dead and it would keep reconnecting with growing delays
            with anyio.CancelScope(shield=True):
                await old.close(timeout=1.0)
        while True:
            await anyio.sleep(self._circuit.probe_interval_s)
            try:
                await self._probe()
                pool = await self._open_pool()
            except StoreError:
                self._circuit.still_down()
                continue
            self._pool = pool
            down_s = self._circuit.reset()
            log.warning("PostgreSQL answers again", extra={"database": self.location, "down_s": round(down_s, 1)})
            return

    async def _probe(self) -> None:
        """Connect on a connection of our own and run `SELECT 1`; StoreError saying why not."""
        try:
            with anyio.fail_after(self._probe_timeout_s):
                conn = await AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=max(2, int(self._probe_timeout_s))
                )
                async with conn:
                    await conn.execute("SELECT 1")
        except TimeoutError:
            raise StoreError(f"no answer within {self._probe_timeout_s:g} s") from None
        except (psycopg.Error, OSError) as exc:
            raise StoreError(self._why(exc)) from None

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
        """One transaction on a pooled connection: read committed for writes, a read-only snapshot for reads.

        StoreUnavailable at once while the server is known to be down.
        """
        pool = self._pool
        if pool is None:
            raise StoreError(f"store PostgreSQL at {self.location} is not open")
        conn = await self._circuit.guarded(lambda: self._connection(pool))
        try:
            await conn.set_isolation_level(None if write else IsolationLevel.REPEATABLE_READ)
            await conn.set_read_only(None if write else True)
            async with conn.transaction():
                yield PostgresTransaction(self, conn)
        except psycopg.IntegrityError as exc:  # raised at commit (statements translate their own)
            raise IntegrityViolation(self._error(exc), unique=isinstance(exc, psycopg.errors.UniqueViolation)) from exc
        except psycopg.Error as exc:
            raise self._failure(conn, exc) from exc
        finally:
            await pool.putconn(conn)

    async def _connection(self, pool: AsyncConnectionPool[AsyncConnection[Row]]) -> AsyncConnection[Row]:
        """A connection from the pool; a wait longer than `suspect_after_s` makes `watch` probe the server."""
        try:
            try:
                return await pool.getconn(timeout=self._suspect_after_s)
            except PoolTimeout:
                self._circuit.suspect(f"no pooled connection within {self._suspect_after_s:g} s")
            return await pool.getconn(timeout=max(0.001, self._acquire_timeout_s - self._suspect_after_s))
        except PoolTimeout as exc:  # before psycopg.Error, which it is
            raise StoreUnavailable(
                f"no connection to PostgreSQL at {self.location} within {self._acquire_timeout_s:g} s", retry_after_s=1
            ) from exc
        except PoolClosed as exc:  # the circuit opened and `watch` closed the pool under this call
            raise self._circuit.unavailable() from exc

    def _failure(self, conn: AsyncConnection[Any], exc: psycopg.Error) -> StoreError:
        """The error for a failed statement: StoreUnavailable if it broke the connection (the server may be down)."""
        if conn.broken:
            self._circuit.suspect(f"a connection broke: {self._why(exc)}")
            return StoreUnavailable(self._error(exc), retry_after_s=1)
        return StoreError(self._error(exc))

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
        if isinstance(exc, psycopg.IntegrityError):
            return IntegrityViolation(self._store._error(exc), unique=isinstance(exc, psycopg.errors.UniqueViolation))
        return self._store._failure(self._conn, exc)
