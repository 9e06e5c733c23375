"""The `FamiliarizeStore` in SQL, for both stores of record (migration 4's tables).

Like `studies_sql.py`: `?` placeholders, one transaction per method, JSON as
text, booleans written as Python bools. Upserts use `ON CONFLICT … DO
UPDATE`, which SQLite and PostgreSQL both speak.
"""

from __future__ import annotations

import json
from typing import Any

from calma.familiarize.gating import StageState
from calma.familiarize.progress import (
    CheckAttempt,
    FamiliarizeProgress,
    OverrideScope,
    PracticeAnswer,
    StageOverride,
)
from calma.store.sql import Row, SQLDatabase, Transaction
from calma.studies.model import Stage

PROGRESS_COLUMNS = (
    "participant_id, study_id, orientation_pages_seen, orientation_done_at, lesson_done_at, practice, attempts,"
    " best_score, check_passed_at, updated_at"
)


class SQLFamiliarizeStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def familiarize_progress(self, participant_id: str) -> FamiliarizeProgress | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {PROGRESS_COLUMNS} FROM familiarize_progress WHERE participant_id = ?",
                               (participant_id,))
        return None if row is None else _progress(row)

    async def familiarize_progress_of_study(self, study_id: str) -> list[FamiliarizeProgress]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(f"SELECT {PROGRESS_COLUMNS} FROM familiarize_progress WHERE study_id = ?", (study_id,))
        return [_progress(row) for row in rows]

    async def save_familiarize_progress(self, progress: FamiliarizeProgress) -> None:
        async with self._db.transaction(write=True) as tx:
            await _upsert(tx, progress)

    async def record_check_attempt(self, attempt: CheckAttempt, progress: FamiliarizeProgress,
                                   max_attempts: int = 0) -> bool:
        """Store an attempt and the progress it leads to, together — unless the participant passed already or
        used every attempt meanwhile (False; nothing stored). One guarded UPDATE counts the attempt, so parallel
        attempts cannot get past the limit on either backend."""
        a = attempt
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                f"INSERT INTO familiarize_progress ({PROGRESS_COLUMNS}) VALUES (?, ?, 0, NULL, NULL, ?, 0, NULL, NULL, ?)"
                " ON CONFLICT (participant_id) DO NOTHING",
                (a.participant_id, a.study_id, "{}", a.created_at),
            )
            counted = await tx.execute(
                "UPDATE familiarize_progress SET attempts = attempts + 1 WHERE participant_id = ?"
                " AND check_passed_at IS NULL AND (? = 0 OR attempts < ?)",
                (a.participant_id, max_attempts, max_attempts),
            )
            if counted != 1:
                return False
            await tx.execute(
                "INSERT INTO check_attempts (id, participant_id, study_id, answers, score, passed, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.id, a.participant_id, a.study_id, json.dumps(a.answers), a.score, a.passed, a.created_at),
            )
            await _upsert(tx, progress)
            return True

    async def check_attempts(self, participant_id: str) -> list[CheckAttempt]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                "SELECT id, participant_id, study_id, answers, score, passed, created_at FROM check_attempts"
                " WHERE participant_id = ? ORDER BY created_at, id",
                (participant_id,),
            )
        return [
            CheckAttempt(id=r["id"], participant_id=r["participant_id"], study_id=r["study_id"],
                         answers=json.loads(r["answers"]), score=r["score"], passed=bool(r["passed"]),
                         created_at=r["created_at"])
            for r in rows
        ]

    async def completed_stages(self, participant_id: str) -> dict[Stage, float]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT stage, completed_at FROM stage_completions WHERE participant_id = ?",
                                (participant_id,))
        return {Stage(r["stage"]): r["completed_at"] for r in rows}

    async def completed_stages_of_study(self, study_id: str) -> dict[str, dict[Stage, float]]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                "SELECT c.participant_id, c.stage, c.completed_at FROM stage_completions c"
                " JOIN participants p ON p.id = c.participant_id WHERE p.study_id = ?",
                (study_id,),
            )
        completed: dict[str, dict[Stage, float]] = {}
        for r in rows:
            completed.setdefault(r["participant_id"], {})[Stage(r["stage"])] = r["completed_at"]
        return completed

    async def complete_stage(self, participant_id: str, stage: Stage, at: float) -> float:
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO stage_completions (participant_id, stage, completed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (participant_id, stage) DO NOTHING",
                (participant_id, stage.value, at),
            )
            row = await tx.one("SELECT completed_at FROM stage_completions WHERE participant_id = ? AND stage = ?",
                               (participant_id, stage.value))
        assert row is not None
        return float(row["completed_at"])

    async def stage_overrides(self, study_id: str) -> list[StageOverride]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                "SELECT study_id, scope, target_id, stage, state, updated_at FROM stage_overrides WHERE study_id = ?",
                (study_id,),
            )
        return [
            StageOverride(study_id=r["study_id"], scope=OverrideScope(r["scope"]), target_id=r["target_id"],
                          stage=Stage(r["stage"]), state=StageState(r["state"]), updated_at=r["updated_at"])
            for r in rows
        ]

    async def set_stage_override(self, study_id: str, scope: OverrideScope, target_id: str, stage: Stage,
                                 state: StageState | None, at: float) -> None:
        async with self._db.transaction(write=True) as tx:
            if state is None:
                await tx.execute(
                    "DELETE FROM stage_overrides WHERE study_id = ? AND scope = ? AND target_id = ? AND stage = ?",
                    (study_id, scope.value, target_id, stage.value),
                )
                return
            await tx.execute(
                "INSERT INTO stage_overrides (study_id, scope, target_id, stage, state, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (study_id, scope, target_id, stage)"
                " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (study_id, scope.value, target_id, stage.value, state.value, at),
            )


async def _upsert(tx: Transaction, p: FamiliarizeProgress) -> None:
    practice = {item: {"codes": list(a.codes), "at": a.at} for item, a in p.practice.items()}
    await tx.execute(
        f"INSERT INTO familiarize_progress ({PROGRESS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        # what was reached stays reached, whatever a concurrent request wrote last
        " ON CONFLICT (participant_id) DO UPDATE SET"
        " orientation_pages_seen = CASE WHEN familiarize_progress.orientation_pages_seen > excluded.orientation_pages_seen THEN familiarize_progress.orientation_pages_seen ELSE excluded.orientation_pages_seen END,"
        " orientation_done_at = COALESCE(familiarize_progress.orientation_done_at, excluded.orientation_done_at),"
        " lesson_done_at = COALESCE(familiarize_progress.lesson_done_at, excluded.lesson_done_at),"
        " practice = excluded.practice, attempts = CASE WHEN familiarize_progress.attempts > excluded.attempts THEN familiarize_progress.attempts ELSE excluded.attempts END,"
        " best_score = CASE WHEN COALESCE(familiarize_progress.best_score, 0) > COALESCE(excluded.best_score, 0) THEN COALESCE(familiarize_progress.best_score, 0) ELSE COALESCE(excluded.best_score, 0) END,"
        " check_passed_at = COALESCE(familiarize_progress.check_passed_at, excluded.check_passed_at),"
        " updated_at = excluded.updated_at",
        (p.participant_id, p.study_id, p.orientation_pages_seen, p.orientation_done_at, p.lesson_done_at,
         json.dumps(practice), p.attempts, p.best_score, p.check_passed_at, p.updated_at),
    )


def _progress(row: Row) -> FamiliarizeProgress:
    practice: dict[str, Any] = json.loads(row["practice"])
    return FamiliarizeProgress(
        participant_id=row["participant_id"], study_id=row["study_id"], updated_at=row["updated_at"],
        orientation_pages_seen=row["orientation_pages_seen"], orientation_done_at=row["orientation_done_at"],
        lesson_done_at=row["lesson_done_at"],
        practice={item: PracticeAnswer(tuple(a["codes"]), a["at"]) for item, a in practice.items()},
        attempts=row["attempts"], best_score=row["best_score"], check_passed_at=row["check_passed_at"],
    )
