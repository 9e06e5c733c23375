"""A/B tests among participants: two arms (a model and a system prompt each), blind trials, choices along the derived axes.

A participant's prompt goes to both arms; the two replies come back in a
random order, with nothing saying which arm wrote which. The participant
chooses, per axis, the better reply (or a tie); only then is the order
revealed. Results: per axis, arm A's wins, B's wins and ties, A's win rate
among decided choices with a Wilson 95 % interval; the preference dataset is
the decided choices as (prompt, chosen, rejected) pairs.

Floods: one participant has at most one trial being answered at a time (per
hub node) and at most `max_trials_per_participant` trials per test; the
prompt is counted against the pool's token budget for both arms before either
is queued.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup

from calma.interact.backend import BackendError, GenerationRequest, RequestRejected, Sampling, Speaker, Turn
from calma.interact.pool import ModelPool
from calma.store.ab_sql import ABTest, SQLABStore, Trial
from calma.studies.model import Participant, Study, new_id

Z95 = 1.959963984540054


class ABRefused(Exception):
    """The request does not fit the test; `kind` is `conflict`, `invalid`, `not-found`, `limit` or `unavailable`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Arm:
    model: str
    system_prompt: str


def wilson(wins: int, n: int) -> tuple[float, float] | None:
    """The Wilson score interval (95 %) for a proportion; None without observations."""
    if n == 0:
        return None
    p = wins / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def tally(trials: list[Trial], axes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for axis in axes:
        outcomes = [t.winner(axis) for t in trials if t.choices is not None]
        a, b, ties = outcomes.count("a"), outcomes.count("b"), outcomes.count("tie")
        interval = wilson(a, a + b)
        rows.append({"axis": axis, "a_wins": a, "b_wins": b, "ties": ties, "decided": a + b,
                     "a_win_rate": a / (a + b) if a + b else None,
                     "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None})
    return rows


class ABService:
    def __init__(self, store: SQLABStore, pool: Callable[[], ModelPool], *, max_tokens: int = 256,
                 max_trials_per_participant: int = 100) -> None:
        self.store = store
        self._pool = pool
        self._max_tokens = max_tokens
        self.max_trials_per_participant = max_trials_per_participant
        self._answering: set[str] = set()  # participants with a trial being answered on this node

    def models(self) -> list[str]:
        return self._pool().models

    async def create(self, study: Study, group_id: str, name: str, a: Arm, b: Arm, axes: list[str]) -> ABTest:
        for arm in (a, b):
            if arm.model not in self.models():
                raise ABRefused("invalid", f"no model {arm.model!r} on this server; there are: {', '.join(self.models())}")
        if a == b:
            raise ABRefused("invalid", "the two arms are the same: change the model or the system prompt of one")
        test = ABTest(new_id(), study.id, group_id, " ".join(name.split()),
                      {"a": {"model": a.model, "system_prompt": a.system_prompt},
                       "b": {"model": b.model, "system_prompt": b.system_prompt}}, list(axes), True, time.time())
        await self.store.create(test)
        return test

    async def trial(self, test: ABTest, participant: Participant, prompt: str, sampling: Sampling) -> Trial:
        """Both arms answer the prompt (at the same time); the replies are stored in a random order."""
        if not test.open:
            raise ABRefused("conflict", "this A/B test is closed")
        if participant.id in self._answering:
            raise ABRefused("limit", "a trial of yours is still being answered; wait for it, then start the next")
        self._answering.add(participant.id)  # before the first await: two requests at once cannot both pass
        try:
            return await self._trial(test, participant, prompt, sampling)
        finally:
            self._answering.discard(participant.id)

    async def _trial(self, test: ABTest, participant: Participant, prompt: str, sampling: Sampling) -> Trial:
        done = sum(1 for t in await self.store.trials_of(test.id) if t.participant_id == participant.id)
        if done >= self.max_trials_per_participant:
            raise ABRefused("limit", f"you have run {done} trials in this test, as many as one person may "
                                     f"({self.max_trials_per_participant}); thank you")
        pool = self._pool()
        try:
            for arm in ("a", "b"):
                settings = test.arms[arm]
                await pool.check_prompt(settings["model"], GenerationRequest(
                    settings["system_prompt"], (Turn(Speaker.USER, prompt),), sampling))
        except RequestRejected as exc:
            raise ABRefused("limit", exc.public) from exc
        except BackendError as exc:
            raise ABRefused("unavailable", f"{exc.public}; try again in a moment") from exc
        replies: dict[str, str] = {}
        failures: list[BackendError] = []

        async def answer(arm: str, tg: TaskGroup) -> None:
            pieces: list[str] = []

            async def keep(piece: str) -> None:
                pieces.append(piece)

            settings = test.arms[arm]
            request = GenerationRequest(settings["system_prompt"], (Turn(Speaker.USER, prompt),), sampling)
            try:
                await pool.generate(settings["model"], participant.id, request, keep)
            except BackendError as exc:  # the other arm is of no use now
                failures.append(exc)
                tg.cancel_scope.cancel()
                return
            replies[arm] = "".join(pieces).strip()

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer, "a", tg)
            tg.start_soon(answer, "b", tg)
        if failures:
            failure = failures[0]
            if isinstance(failure, RequestRejected):
                raise ABRefused("limit", failure.public) from failure
            raise ABRefused("unavailable", f"{failure.public}; try again in a moment") from failure
        trial = Trial(new_id(), test.id, participant.id, prompt, replies["a"], replies["b"],
                      secrets.choice(("left", "right")), None, time.time(), None)
        await self.store.add_trial(trial)
        return trial

    async def choose(self, test: ABTest, trial: Trial, participant: Participant, choices: dict[str, str]) -> Trial:
        if trial.test_id != test.id or trial.participant_id != participant.id:
            raise ABRefused("not-found", "the trial")
        if set(choices) != set(test.axes):
            raise ABRefused("invalid", f"choose along every axis of the test ({len(test.axes)})")
        if not await self.store.choose(trial.id, choices):
            raise ABRefused("conflict", "you chose on this trial already")
        chosen = await self.store.trial(trial.id)
        assert chosen is not None
        return chosen

    async def preferences(self, test: ABTest, axis_names: dict[str, str]) -> list[dict[str, Any]]:
        """The decided choices as preference pairs: one record per trial and axis."""
        records = []
        for trial in await self.store.trials_of(test.id):
            for axis in test.axes:
                winner = trial.winner(axis)
                if winner not in ("a", "b"):
                    continue
                chosen, rejected = (trial.reply_a, trial.reply_b) if winner == "a" else (trial.reply_b, trial.reply_a)
                records.append({"prompt": trial.prompt, "chosen": chosen, "rejected": rejected,
                                "axis": axis_names.get(axis, axis), "chosen_arm": winner, "test": test.name,
                                "trial": trial.id})
        return records
