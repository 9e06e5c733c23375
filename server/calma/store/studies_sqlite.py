"""The SQLite `StudyStore`: the shared SQL study store (`studies_sql.py`) on the `SQLiteStore`.

Study records live in the same file as the room log and go through the same
connection and worker thread (`SQLiteStore.transaction`), so room updates and
study records never contend for the file.
"""

from __future__ import annotations

from calma.store.sqlite import SQLiteStore
from calma.store.studies_sql import SQLStudyStore


class SQLiteStudyStore(SQLStudyStore):
    """Studies, people, invites, sessions and progress in the SQLite store of record."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
