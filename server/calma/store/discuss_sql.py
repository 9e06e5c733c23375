"""Discuss's records in SQL, for both stores of record (migration 8's tables).

Entries are one row per participant and kind (`top3`, `ranking`,
`ratings`), replaced whole when resubmitted. Group attributes are rows that
never disappear: merging, splitting and removing change their status, and
every change appends a version (a snapshot of name, definition, examples and
provenance) so that the history can be read back in order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from calma.store.base import StoreError
from calma.store.sql import Row, SQLDatabase

ATTRIBUTE_COLUMNS = ("id, study_id, group_id, name, definition, examples, provenance, status, merged_into, split_from,"
                     " version, created_by, created_at, updated_at")


@dataclass(frozen=True)
class Entry:
    participant_id: str
    kind: str
    payload: dict[str, Any]
    updated_at: float


@dataclass(frozen=True)
class Attribute:
    id: str
    study_id: str
    group_id: str
    name: str
    definition: str  # as of the last version; the live text is the board's
    examples: tuple[dict[str, str], ...]
    provenance: tuple[str, ...]
    status: str  # active, merged, split or removed
    merged_into: str | None
    split_from: str | None
    version: int
    created_by: str
    created_at: float
    updated_at: float

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "definition": self.definition, "examples": list(self.examples),
                "provenance": list(self.provenance), "status": self.status, "merged_into": self.merged_into,
                "split_from": self.split_from}


@dataclass(frozen=True)
class AttributeVersion:
    attribute_id: str
    version: int
    op: str
    snapshot: dict[str, Any]
    by_name: str
    at: float


class SQLDiscussStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    # -- entries ----------------------------------------------------------------------------------

    async def put_entry(self, study_id: str, group_id: str, participant_id: str, kind: str,
                        payload: dict[str, Any]) -> Entry:
        now = time.time()
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO discuss_entries (participant_id, kind, study_id, group_id, payload, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (participant_id, kind) DO UPDATE SET"
                " payload = excluded.payload, updated_at = excluded.updated_at",
                (participant_id, kind, study_id, group_id, json.dumps(payload), now),
            )
        return Entry(participant_id, kind, payload, now)

    async def entry(self, participant_id: str, kind: str) -> Entry | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT participant_id, kind, payload, updated_at FROM discuss_entries"
                               " WHERE participant_id = ? AND kind = ?", (participant_id, kind))
        return None if row is None else _entry(row)

    async def entries(self, group_id: str, kind: str) -> list[Entry]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT participant_id, kind, payload, updated_at FROM discuss_entries"
                                " WHERE group_id = ? AND kind = ? ORDER BY updated_at, participant_id", (group_id, kind))
        return [_entry(row) for row in rows]

    # -- attributes -------------------------------------------------------------------------------

    async def attributes(self, group_id: str) -> list[Attribute]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(f"SELECT {ATTRIBUTE_COLUMNS} FROM discuss_attributes WHERE group_id = ?"
                                " ORDER BY created_at, id", (group_id,))
        return [_attribute(row) for row in rows]

    async def attribute(self, attribute_id: str) -> Attribute | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {ATTRIBUTE_COLUMNS} FROM discuss_attributes WHERE id = ?", (attribute_id,))
        return None if row is None else _attribute(row)

    async def save_attributes(self, changed: list[Attribute], op: str, by_name: str) -> None:
        """Write each attribute (new or changed; its `version` one past the stored one) and its version, together."""
        async with self._db.transaction(write=True) as tx:
            for attribute in changed:
                stored = await tx.one("SELECT version FROM discuss_attributes WHERE id = ?", (attribute.id,))
                if stored is None:
                    if attribute.version != 1:
                        raise StoreError(f"a new attribute starts at version 1, not {attribute.version}")
                    await tx.execute(f"INSERT INTO discuss_attributes ({ATTRIBUTE_COLUMNS}) VALUES"
                                     " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _values(attribute))
                else:
                    if attribute.version != stored["version"] + 1:
                        raise VersionConflict(f"attribute {attribute.id} changed meanwhile; try again")
                    changed = await tx.execute(  # only from the version read: a concurrent writer makes this 0
                        "UPDATE discuss_attributes SET name = ?, definition = ?, examples = ?, provenance = ?,"
                        " status = ?, merged_into = ?, split_from = ?, version = ?, updated_at = ? WHERE id = ?"
                        " AND version = ?",
                        (attribute.name, attribute.definition, json.dumps(list(attribute.examples)),
                         json.dumps(list(attribute.provenance)), attribute.status, attribute.merged_into,
                         attribute.split_from, attribute.version, attribute.updated_at, attribute.id,
                         attribute.version - 1),
                    )
                    if changed != 1:
                        raise VersionConflict(f"attribute {attribute.id} changed meanwhile; try again")
                await tx.execute("INSERT INTO discuss_attribute_versions (attribute_id, version, op, snapshot, by_name, at)"
                                 " VALUES (?, ?, ?, ?, ?, ?)", (attribute.id, attribute.version, op,
                                                                json.dumps(attribute.snapshot()), by_name,
                                                                attribute.updated_at))

    async def history(self, attribute_id: str) -> list[AttributeVersion]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT attribute_id, version, op, snapshot, by_name, at FROM discuss_attribute_versions"
                                " WHERE attribute_id = ? ORDER BY version", (attribute_id,))
        return [AttributeVersion(row["attribute_id"], row["version"], row["op"], _json(row["snapshot"]),
                                 row["by_name"], row["at"]) for row in rows]


class VersionConflict(StoreError):
    """Someone else changed the attribute first."""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _entry(row: Row) -> Entry:
    return Entry(row["participant_id"], row["kind"], _json(row["payload"]), row["updated_at"])


def _attribute(row: Row) -> Attribute:
    return Attribute(
        id=row["id"], study_id=row["study_id"], group_id=row["group_id"], name=row["name"],
        definition=row["definition"], examples=tuple(_json(row["examples"])),
        provenance=tuple(_json(row["provenance"])), status=row["status"], merged_into=row["merged_into"],
        split_from=row["split_from"], version=row["version"], created_by=row["created_by"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _values(a: Attribute) -> tuple[Any, ...]:
    return (a.id, a.study_id, a.group_id, a.name, a.definition, json.dumps(list(a.examples)),
            json.dumps(list(a.provenance)), a.status, a.merged_into, a.split_from, a.version, a.created_by,
            a.created_at, a.updated_at)

