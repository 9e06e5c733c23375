"""Reflect's records in SQL, for both stores of record (migration 5's tables).

An operation is applied in one write transaction: if its id was applied
before, the stored result is returned (nothing changes twice); otherwise the
participant's records are read, the operation is applied to them
(`calma.reflect.ops.apply`), the changed records are written, the
participant's version moves on by one — only if nobody else moved it
meanwhile (optimistic; the caller retries) — and the operation is kept as
history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from calma.reflect.model import Annotation, Cluster, Code, OpRecord, ReflectRecords, TargetKind
from calma.reflect.ops import Applied
from calma.store.base import StoreError
from calma.store.sql import IntegrityViolation, Row, SQLDatabase, Transaction

CODE_COLUMNS = "id, participant_id, label, merged_into, created_at, updated_at, deleted_at"
ANNOTATION_COLUMNS = (
    "id, participant_id, target_kind, target_id, span_start, span_end, quote, memo, code_ids, created_at,"
    " updated_at, deleted_at"
)
CLUSTER_COLUMNS = "id, participant_id, name, definition, code_ids, created_at, updated_at, deleted_at"


class VersionMoved(StoreError):
    """Another writer changed the participant's records first; apply the operation again."""


class SQLReflectStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def records(self, participant_id: str) -> ReflectRecords:
        async with self._db.transaction(write=False) as tx:
            return await _records(tx, participant_id)

    async def records_of_study(self, study_id: str) -> dict[str, ReflectRecords]:
        async with self._db.transaction(write=False) as tx:
            heads = await tx.all("SELECT participant_id FROM reflect_heads WHERE study_id = ?", (study_id,))
            return {row["participant_id"]: await _records(tx, row["participant_id"]) for row in heads}

    async def applied(self, op_id: str) -> OpRecord | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT op_id, participant_id, kind, payload, result, created_at FROM reflect_ops"
                               " WHERE op_id = ?", (op_id,))
        return None if row is None else _op(row)

    async def history(self, participant_id: str) -> list[OpRecord]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT op_id, participant_id, kind, payload, result, created_at FROM reflect_ops"
                                " WHERE participant_id = ? ORDER BY seq", (participant_id,))
        return [_op(row) for row in rows]

    async def apply(self, study_id: str, participant_id: str, op_id: str, kind: str, payload: dict[str, Any],
                    change: Callable[[ReflectRecords], Applied]) -> tuple[dict[str, Any], int, bool]:
        """Apply once: (the result, the participant's version after it, whether it was applied just now)."""
        async with self._db.transaction(write=True) as tx:
            row = await tx.one("SELECT participant_id, result FROM reflect_ops WHERE op_id = ?", (op_id,))
            if row is not None:
                if row["participant_id"] != participant_id:
                    raise IdTaken(f"the operation id {op_id} is taken; choose another")
                head = await tx.one("SELECT version FROM reflect_heads WHERE participant_id = ?", (participant_id,))
                return json.loads(row["result"]), int(head["version"]) if head else 0, False
            records = await _records(tx, participant_id)
            applied = change(records)  # raises OpRefused: the transaction rolls back, nothing is kept
            now = time.time()
            try:
                for code in applied.codes:
                    await _put_code(tx, study_id, code)
                for annotation in applied.annotations:
                    await _put_annotation(tx, study_id, annotation)
                for cluster in applied.clusters:
                    await _put_cluster(tx, study_id, cluster)
            except IntegrityViolation as exc:
                raise IdTaken("a record id is taken; choose another") from exc
            version = records.version + 1
            if records.version == 0:
                if await tx.execute(
                    "INSERT INTO reflect_heads (participant_id, study_id, version) VALUES (?, ?, ?)"
                    " ON CONFLICT (participant_id) DO NOTHING",
                    (participant_id, study_id, version),
                ) != 1:
                    raise VersionMoved(participant_id)  # another tab's first operation got there first
            elif await tx.execute("UPDATE reflect_heads SET version = ? WHERE participant_id = ? AND version = ?",
                                  (version, participant_id, records.version)) != 1:
                raise VersionMoved(participant_id)
            result = {**applied.result, "undo": applied.undo}
            await tx.execute(
                "INSERT INTO reflect_ops (op_id, study_id, participant_id, seq, kind, payload, result, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (op_id, study_id, participant_id, version, kind, json.dumps(payload), json.dumps(result), now),
            )
            return result, version, True

    async def settings(self, study_id: str) -> tuple[float | None, bool]:
        """(when the group's codes were released, or None; whether participants code a shared sample)."""
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT codes_released_at, share_sample FROM reflect_settings WHERE study_id = ?",
                               (study_id,))
        return (None, False) if row is None else (row["codes_released_at"], bool(row["share_sample"]))

    async def set_settings(self, study_id: str, released_at: float | None, share_sample: bool) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO reflect_settings (study_id, codes_released_at, share_sample) VALUES (?, ?, ?)"
                " ON CONFLICT (study_id) DO UPDATE SET codes_released_at = excluded.codes_released_at,"
                " share_sample = excluded.share_sample",
                (study_id, released_at, int(share_sample)),
            )

    async def sharing(self, participant_ids: list[str]) -> set[str]:
        """Who of these agreed that others may code their conversations."""
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT participant_id FROM conversation_sharing")
        wanted = set(participant_ids)
        return {row["participant_id"] for row in rows if row["participant_id"] in wanted}

    async def set_sharing(self, participant_id: str, agreed: bool) -> None:
        async with self._db.transaction(write=True) as tx:
            if agreed:
                await tx.execute("INSERT INTO conversation_sharing (participant_id, agreed_at) VALUES (?, ?)"
                                 " ON CONFLICT (participant_id) DO NOTHING", (participant_id, time.time()))
            else:
                await tx.execute("DELETE FROM conversation_sharing WHERE participant_id = ?", (participant_id,))


async def _records(tx: Transaction, participant_id: str) -> ReflectRecords:
    head = await tx.one("SELECT version FROM reflect_heads WHERE participant_id = ?", (participant_id,))
    codes = await tx.all(f"SELECT {CODE_COLUMNS} FROM reflect_codes WHERE participant_id = ? ORDER BY created_at, id",
                         (participant_id,))
    annotations = await tx.all(
        f"SELECT {ANNOTATION_COLUMNS} FROM reflect_annotations WHERE participant_id = ? ORDER BY created_at, id",
        (participant_id,),
    )
    clusters = await tx.all(
        f"SELECT {CLUSTER_COLUMNS} FROM reflect_clusters WHERE participant_id = ? ORDER BY created_at, id",
        (participant_id,),
    )
    return ReflectRecords(
        codes=[Code(**{k: r[k] for k in CODE_COLUMNS.split(", ")}) for r in codes],
        annotations=[
            Annotation(id=r["id"], participant_id=r["participant_id"], target_kind=TargetKind(r["target_kind"]),
                       target_id=r["target_id"], start=r["span_start"], end=r["span_end"], quote=r["quote"],
                       memo=r["memo"], code_ids=tuple(json.loads(r["code_ids"])), created_at=r["created_at"],
                       updated_at=r["updated_at"], deleted_at=r["deleted_at"])
            for r in annotations
        ],
        clusters=[
            Cluster(id=r["id"], participant_id=r["participant_id"], name=r["name"], definition=r["definition"],
                    code_ids=tuple(json.loads(r["code_ids"])), created_at=r["created_at"], updated_at=r["updated_at"],
                    deleted_at=r["deleted_at"])
            for r in clusters
        ],
        version=int(head["version"]) if head else 0,
    )


class IdTaken(StoreError):
    """A record id the client chose belongs to someone else's record."""


def _one(changed: int, record_id: str) -> None:
    if changed != 1:  # the upsert's WHERE refused: the id is someone else's
        raise IdTaken(f"the id {record_id} is taken; choose another")


async def _put_code(tx: Transaction, study_id: str, c: Code) -> None:
    changed = await tx.execute(
        f"INSERT INTO reflect_codes (study_id, {CODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET label = excluded.label, merged_into = excluded.merged_into,"
        " updated_at = excluded.updated_at, deleted_at = excluded.deleted_at"
        " WHERE reflect_codes.participant_id = excluded.participant_id",
        (study_id, c.id, c.participant_id, c.label, c.merged_into, c.created_at, c.updated_at, c.deleted_at),
    )
    _one(changed, c.id)


async def _put_annotation(tx: Transaction, study_id: str, a: Annotation) -> None:
    changed = await tx.execute(
        f"INSERT INTO reflect_annotations (study_id, {ANNOTATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET memo = excluded.memo, code_ids = excluded.code_ids,"
        " updated_at = excluded.updated_at, deleted_at = excluded.deleted_at"
        " WHERE reflect_annotations.participant_id = excluded.participant_id",
        (study_id, a.id, a.participant_id, a.target_kind.value, a.target_id, a.start, a.end, a.quote, a.memo,
         json.dumps(list(a.code_ids)), a.created_at, a.updated_at, a.deleted_at),
    )
    _one(changed, a.id)


async def _put_cluster(tx: Transaction, study_id: str, c: Cluster) -> None:
    changed = await tx.execute(
        f"INSERT INTO reflect_clusters (study_id, {CLUSTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition,"
        " code_ids = excluded.code_ids, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at"
        " WHERE reflect_clusters.participant_id = excluded.participant_id",
        (study_id, c.id, c.participant_id, c.name, c.definition, json.dumps(list(c.code_ids)), c.created_at,
         c.updated_at, c.deleted_at),
    )
    _one(changed, c.id)


def _op(row: Row) -> OpRecord:
    return OpRecord(op_id=row["op_id"], participant_id=row["participant_id"], kind=row["kind"],
                    payload=json.loads(row["payload"]), result=json.loads(row["result"]), created_at=row["created_at"])
