"""What the shared SQL code (the study records) needs from a backend: transactions of plain statements.

Both stores of record implement `SQLDatabase` (`SQLiteStore`, `PostgresStore`),
so the study store's queries and row mapping are written once
(`studies_sql.py`) and run unchanged on either. Query text is written with
`?` placeholders (SQLite's own style); the PostgreSQL backend rewrites them to
psycopg's `%s` once per distinct query (`qmark_to_format`). Backends agree on
what comes back, too: rows are mappings by column name, JSON columns come back
as JSON text, booleans as values `bool()` understands, times as floats.

Must not import a driver: each backend translates its driver's errors into
`IntegrityViolation` (a constraint said no) or `StoreError` (anything else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from calma.store.base import StoreError

Row = Mapping[str, Any]


class IntegrityViolation(StoreError):
    """A constraint refused a write; `unique` says whether it was a uniqueness constraint."""

    def __init__(self, message: str, *, unique: bool) -> None:
        super().__init__(message)
        self.unique = unique


class Transaction(Protocol):
    """Statements inside one transaction of a backend; `?` placeholders, positional parameters."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or None."""
        ...

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


@runtime_checkable
class SQLDatabase(Protocol):
    def transaction(self, *, write: bool) -> AbstractAsyncContextManager[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises.

        `write=False` promises only reads and gets one consistent snapshot for all of them.
        """
        ...


@lru_cache(maxsize=1024)
def qmark_to_format(sql: str) -> str:
    """`?` placeholders to psycopg's `%s`. Shared query text never holds a literal `?` or `%`."""
    if "%" in sql:
        raise ValueError(f"shared SQL must not contain '%': {sql!r}")
    return sql.replace("?", "%s")
