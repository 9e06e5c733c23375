"""A/B tests in SQL (migration 10): the tests a facilitator sets up, and each blind trial a participant runs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from calma.store.sql import Row, SQLDatabase


@dataclass(frozen=True)
class ABTest:
    id: str
    study_id: str
    group_id: str
    name: str
    arms: dict[str, dict[str, str]]  # "a" and "b": {model, system_prompt}
    axes: list[str]  # attribute ids participants judge along
    open: bool
    created_at: float


@dataclass(frozen=True)
class Trial:
    id: str
    test_id: str
    participant_id: str
    prompt: str
    reply_a: str
    reply_b: str
    a_side: str  # where arm A's reply is shown: "left" or "right"
    choices: dict[str, str] | None  # axis id → "left", "right" or "tie" (once chosen)
    created_at: float
    chosen_at: float | None

    def winner(self, axis: str) -> str | None:
        """"a", "b" or "tie" for a chosen axis; None if not chosen."""
        side = (self.choices or {}).get(axis)
        if side is None or side == "tie":
            return side
        return "a" if side == self.a_side else "b"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class SQLABStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def create(self, test: ABTest) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("INSERT INTO ab_tests (id, study_id, group_id, name, arms, axes, open, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (test.id, test.study_id, test.group_id, test.name, json.dumps(test.arms),
                              json.dumps(test.axes), int(test.open), test.created_at))

    async def set_open(self, test_id: str, open_: bool) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("UPDATE ab_tests SET open = ? WHERE id = ?", (int(open_), test_id))

    async def test(self, test_id: str) -> ABTest | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT * FROM ab_tests WHERE id = ?", (test_id,))
        return None if row is None else _test(row)

    async def tests_of(self, group_id: str) -> list[ABTest]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT * FROM ab_tests WHERE group_id = ? ORDER BY created_at, id", (group_id,))
        return [_test(row) for row in rows]

    async def add_trial(self, trial: Trial) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("INSERT INTO ab_trials (id, test_id, participant_id, prompt, reply_a, reply_b, a_side, choices,"
                             " created_at, chosen_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
                             (trial.id, trial.test_id, trial.participant_id, trial.prompt, trial.reply_a, trial.reply_b,
                              trial.a_side, trial.created_at))

    async def trial(self, trial_id: str) -> Trial | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT * FROM ab_trials WHERE id = ?", (trial_id,))
        return None if row is None else _trial(row)

    async def choose(self, trial_id: str, choices: dict[str, str]) -> bool:
        """Record the choices once; False if the trial had them already."""
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute("UPDATE ab_trials SET choices = ?, chosen_at = ? WHERE id = ? AND choices IS NULL",
                                       (json.dumps(choices), time.time(), trial_id))
        return changed == 1

    async def trials_of(self, test_id: str) -> list[Trial]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all("SELECT * FROM ab_trials WHERE test_id = ? ORDER BY created_at, id", (test_id,))
        return [_trial(row) for row in rows]


def _test(row: Row) -> ABTest:
    return ABTest(row["id"], row["study_id"], row["group_id"], row["name"], _json(row["arms"]), _json(row["axes"]),
                  bool(row["open"]), row["created_at"])


def _trial(row: Row) -> Trial:
    choices = row["choices"]
    return Trial(row["id"], row["test_id"], row["participant_id"], row["prompt"], row["reply_a"], row["reply_b"],
                 row["a_side"], None if choices is None else _json(choices), row["created_at"], row["chosen_at"])
