"""Outputs' records in SQL (migration 9): the facilitator's corrected pairing of two groups' axes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from calma.store.sql import SQLDatabase


@dataclass(frozen=True)
class Pairing:
    pairs: list[tuple[str, str]]  # (axis of group A, axis of group B)
    by_name: str
    updated_at: float


class SQLOutputsStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def pairing(self, study_id: str, group_a: str, group_b: str) -> Pairing | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT pairs, by_name, updated_at FROM outputs_pairings"
                               " WHERE study_id = ? AND group_a = ? AND group_b = ?", (study_id, group_a, group_b))
        if row is None:
            return None
        pairs = row["pairs"] if not isinstance(row["pairs"], str) else json.loads(row["pairs"])
        return Pairing([(a, b) for a, b in pairs], row["by_name"], row["updated_at"])

    async def set_pairing(self, study_id: str, group_a: str, group_b: str, pairs: list[tuple[str, str]], by_name: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO outputs_pairings (study_id, group_a, group_b, pairs, by_name, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (study_id, group_a, group_b) DO UPDATE SET"
                " pairs = excluded.pairs, by_name = excluded.by_name, updated_at = excluded.updated_at",
                (study_id, group_a, group_b, json.dumps([list(p) for p in pairs]), by_name, time.time()),
            )

    async def clear_pairing(self, study_id: str, group_a: str, group_b: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("DELETE FROM outputs_pairings WHERE study_id = ? AND group_a = ? AND group_b = ?",
                             (study_id, group_a, group_b))
