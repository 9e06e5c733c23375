"""Schema migrations of the store of record, numbered and applied in order, once.

Each migration is plain SQL that both SQLite and PostgreSQL accept, unless a
backend gives its own variant. A store applies every migration newer than the
highest version recorded in `schema_migrations`, each in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: str
    postgres: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="room update log and snapshots",
        sqlite="""
            CREATE TABLE room_updates (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room TEXT NOT NULL,
                data BLOB NOT NULL
            );
            CREATE INDEX room_updates_room_id ON room_updates (room, id);
            CREATE TABLE room_snapshots (
                room TEXT PRIMARY KEY,
                data BLOB NOT NULL,
                upto_id INTEGER NOT NULL,
                updated_at REAL NOT NULL
            );
        """,
        postgres="""
            CREATE TABLE room_updates (
                id BIGSERIAL PRIMARY KEY,
                room TEXT NOT NULL,
                data BYTEA NOT NULL
            );
            CREATE INDEX room_updates_room_id ON room_updates (room, id);
            CREATE TABLE room_snapshots (
                room TEXT PRIMARY KEY,
                data BYTEA NOT NULL,
                upto_id BIGINT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
        """,
    ),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version
