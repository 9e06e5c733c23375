"""Familiarize's rules over its store: what a participant sees, what each step records, when the stage is done.

The stage is complete once the participant has seen every orientation page,
read the lesson, coded every practice item and passed the check (parts the
study leaves empty count as done). Completion is recorded once and kept, so
that a facilitator's later edits never take it away. `StageGate` answers
which stages are open for a participant (see `gating`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from calma.familiarize import markdown
from calma.familiarize.check import CheckResult, score
from calma.familiarize.gating import StageState, StageStatus, is_open, stage_statuses
from calma.familiarize.progress import (
    CheckAttempt,
    FamiliarizeProgress,
    FamiliarizeStore,
    OverrideScope,
    PracticeAnswer,
    StageOverride,
)
from calma.studies.model import Stage, Study, new_id


class StepRefused(Exception):
    """A Familiarize step is not possible now; the message says why (answered as 409)."""


@dataclass(frozen=True)
class Pages:
    orientation: list[str]
    lesson: list[str]


def pages_of(study: Study) -> Pages:
    return Pages(markdown.pages(study.content.orientation), markdown.pages(study.content.familiarize.lesson))


def blank_progress(study: Study, participant_id: str) -> FamiliarizeProgress:
    return FamiliarizeProgress(participant_id=participant_id, study_id=study.id, updated_at=time.time())


def is_complete(study: Study, progress: FamiliarizeProgress) -> bool:
    content = study.content.familiarize
    pages = pages_of(study)
    return (
        (not pages.orientation or progress.orientation_done_at is not None)
        and (not pages.lesson or progress.lesson_done_at is not None)
        and all(item.id in progress.practice for item in content.practice)
        and (not content.check or progress.check_passed_at is not None)
    )


class StageGate:
    """Which stages are open for whom: completions, group and personal overrides, and the rule."""

    def __init__(self, store: FamiliarizeStore) -> None:
        self.store = store

    async def statuses(self, study: Study, participant_id: str, group_id: str) -> list[StageStatus]:
        overrides = await self.store.stage_overrides(study.id)
        completed = await self.store.completed_stages(participant_id)
        return _statuses(study, overrides, completed, participant_id, group_id)

    async def is_open(self, study: Study, participant_id: str, group_id: str, stage: Stage) -> bool:
        return is_open(await self.statuses(study, participant_id, group_id), stage)

    async def statuses_of_study(self, study: Study, groups: Mapping[str, str]) -> dict[str, list[StageStatus]]:
        """Every participant's stages (`groups`: participant id → group id), read in two queries."""
        overrides = await self.store.stage_overrides(study.id)
        completed = await self.store.completed_stages_of_study(study.id)
        return {
            participant_id: _statuses(study, overrides, completed.get(participant_id, {}), participant_id, group_id)
            for participant_id, group_id in groups.items()
        }


def _statuses(study: Study, overrides: Sequence[StageOverride], completed: Mapping[Stage, float],
              participant_id: str, group_id: str) -> list[StageStatus]:
    """One participant's stages from the study's overrides (theirs and their group's) and their completions."""
    group = {o.stage: o.state for o in overrides if o.scope is OverrideScope.GROUP and o.target_id == group_id}
    person = {o.stage: o.state for o in overrides if o.scope is OverrideScope.PARTICIPANT and o.target_id == participant_id}
    return stage_statuses(study.content.stage_order, completed, group, person)


class Familiarize:
    """The participant's steps through Familiarize, each stored before it is answered."""

    def __init__(self, store: FamiliarizeStore) -> None:
        self.store = store

    async def progress(self, study: Study, participant_id: str) -> FamiliarizeProgress:
        return await self.store.familiarize_progress(participant_id) or blank_progress(study, participant_id)

    async def saw_orientation(self, study: Study, participant_id: str, pages_seen: int) -> FamiliarizeProgress:
        total = len(pages_of(study).orientation)
        if pages_seen > total:
            raise StepRefused(f"the orientation has {total} pages, not {pages_seen}")
        progress = await self.progress(study, participant_id)
        now = time.time()
        progress = replace(
            progress,
            orientation_pages_seen=max(progress.orientation_pages_seen, pages_seen),
            orientation_done_at=progress.orientation_done_at or (now if pages_seen >= total else None),
            updated_at=now,
        )
        return await self._save(study, progress)

    async def read_lesson(self, study: Study, participant_id: str) -> FamiliarizeProgress:
        progress = await self.progress(study, participant_id)
        now = time.time()
        progress = replace(progress, lesson_done_at=progress.lesson_done_at or now, updated_at=now)
        return await self._save(study, progress)

    async def code_practice(self, study: Study, participant_id: str, item_id: str,
                            codes: Sequence[str]) -> FamiliarizeProgress:
        """Store the participant's codes for a practice item (their first answer stays: it is what they saw)."""
        if not any(item.id == item_id for item in study.content.familiarize.practice):
            raise LookupError(item_id)
        progress = await self.progress(study, participant_id)
        if item_id in progress.practice:
            return progress  # answered before: the example codes are already shown, a second answer would be primed
        now = time.time()
        practice = {**progress.practice, item_id: PracticeAnswer(tuple(codes), now)}
        return await self._save(study, replace(progress, practice=practice, updated_at=now))

    async def take_check(self, study: Study, participant_id: str,
                         answers: Mapping[str, Sequence[str]]) -> tuple[CheckResult, FamiliarizeProgress]:
        content = study.content.familiarize
        if not content.check:
            raise StepRefused("this study has no check")
        progress = await self.progress(study, participant_id)
        if progress.check_passed_at is not None:
            raise StepRefused("you have passed the check already")
        if content.max_attempts and progress.attempts >= content.max_attempts:
            raise StepRefused(
                f"you have used all {content.max_attempts} attempts; ask your facilitator to open Interact for you"
            )
        result = score(content.check, answers, content.pass_mark)
        now = time.time()
        attempt = CheckAttempt(new_id(), participant_id, study.id, {k: list(v) for k, v in answers.items()},
                               result.score, result.passed, now)
        progress = replace(
            progress,
            attempts=progress.attempts + 1,
            best_score=max(result.score, progress.best_score or 0.0),
            check_passed_at=now if result.passed else None,
            updated_at=now,
        )
        if not await self.store.record_check_attempt(attempt, progress, content.max_attempts):
            raise StepRefused("you have passed the check already, or used all your attempts")
        await self._complete_if_done(study, progress)
        return result, progress

    async def _save(self, study: Study, progress: FamiliarizeProgress) -> FamiliarizeProgress:
        await self.store.save_familiarize_progress(progress)
        await self._complete_if_done(study, progress)
        return progress

    async def _complete_if_done(self, study: Study, progress: FamiliarizeProgress) -> None:
        if is_complete(study, progress):
            await self.store.complete_stage(progress.participant_id, Stage.FAMILIARIZE, progress.updated_at)


def override_state(value: str) -> StageState | None:
    return None if value == "default" else StageState(value)
