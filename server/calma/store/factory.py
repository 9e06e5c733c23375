"""Which store of record a node uses: SQLite (the embedded default) or PostgreSQL, chosen by URL.

`Settings.database_url` (`calma serve --database`, `CALMA_DATABASE_URL`) names
the database; without it, the SQLite file in the data dir. Both backends carry
the room log (`Store`) and the study records (`StudyStore`, the shared SQL of
`studies_sql.py`) in one database. Stores are built here and opened by their
owner (the app's lifespan, or `open_study_store` for `calma admin`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, runtime_checkable

import anyio
from anyio.abc import TaskStatus

from calma.config import Settings
from calma.familiarize.progress import FamiliarizeStore
from calma.interact.conversations import ConversationStore
from calma.store.base import Store
from calma.store.familiarize_sql import SQLFamiliarizeStore
from calma.store.interact_sql import SQLConversationStore
from calma.store.sql import SQLDatabase
from calma.store.sqlite import SQLiteStore
from calma.store.studies_sql import SQLStudyStore
from calma.store.urls import DatabaseUrl, parse_database_url
from calma.studies.store import StudyStore


def database_of(settings: Settings) -> DatabaseUrl:
    """The database the settings name (DatabaseUrlError if the URL is unusable)."""
    if settings.database_url:
        return parse_database_url(settings.database_url)
    return DatabaseUrl("sqlite", f"sqlite://{settings.database_path.resolve()}", settings.database_path)


def room_store(settings: Settings) -> Store:
    """The room-log store of record the settings name, not yet opened."""
    database = database_of(settings)
    if database.sqlite_path is not None:
        return SQLiteStore(database.sqlite_path, synchronous=settings.sqlite_synchronous)
    from calma.store.postgres import PostgresStore  # psycopg is imported only by nodes that use it

    return PostgresStore(database.url)


@runtime_checkable
class WatchedStore(Protocol):
    """A store with background work of its own while it is open (PostgreSQL: watching for outages)."""

    async def watch(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None: ...


async def watch_store(store: Store, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """The store's background work until cancelled, in the app's task group; nothing for SQLite."""
    if isinstance(store, WatchedStore):
        await store.watch(task_status=task_status)
    else:
        task_status.started()


def study_store_for(store: Store) -> StudyStore:
    """The study records, in the same database (and connection or pool) as the room store."""
    if not isinstance(store, SQLDatabase):
        raise TypeError(f"the study records need a SQL store of record (SQLite or PostgreSQL), not {type(store).__name__}")
    return SQLStudyStore(store)


def conversation_store_for(store: Store) -> ConversationStore:
    """Interact's conversations and messages, in the same database as the room store."""
    if not isinstance(store, SQLDatabase):
        raise TypeError(f"conversations need a SQL store of record (SQLite or PostgreSQL), not {type(store).__name__}")
    return SQLConversationStore(store)


def familiarize_store_for(store: Store) -> FamiliarizeStore:
    """Familiarize progress, check attempts and stage gating, in the same database as the room store."""
    if not isinstance(store, SQLDatabase):
        raise TypeError(f"Familiarize needs a SQL store of record (SQLite or PostgreSQL), not {type(store).__name__}")
    return SQLFamiliarizeStore(store)


def build_stores(settings: Settings) -> tuple[Store, StudyStore]:
    """The room store and the study store on it, not yet opened (opening the room store opens both)."""
    store = room_store(settings)
    return store, study_store_for(store)


@asynccontextmanager
async def open_study_store(settings: Settings) -> AsyncIterator[StudyStore]:
    """The study store of the settings' database, migrated to the latest schema, closed afterwards."""
    store, studies = build_stores(settings)
    await store.open()
    try:
        yield studies
    finally:
        await store.close()
