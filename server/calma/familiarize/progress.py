"""What a participant has done in Familiarize, and the facilitator's stage overrides, as the store keeps them.

Progress is keyed by item ids, so a facilitator's edits never lose it: an
answer to a practice item that was later removed stays on record (it just no
longer counts), and a check once passed stays passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from calma.familiarize.gating import StageState
from calma.studies.model import Stage


@dataclass(frozen=True)
class PracticeAnswer:
    codes: tuple[str, ...]
    at: float


@dataclass(frozen=True)
class FamiliarizeProgress:
    participant_id: str
    study_id: str
    updated_at: float
    orientation_pages_seen: int = 0
    orientation_done_at: float | None = None
    lesson_done_at: float | None = None
    practice: dict[str, PracticeAnswer] = field(default_factory=dict)
    attempts: int = 0
    best_score: float | None = None
    check_passed_at: float | None = None


@dataclass(frozen=True)
class CheckAttempt:
    id: str
    participant_id: str
    study_id: str
    answers: dict[str, list[str]]
    score: float
    passed: bool
    created_at: float


class OverrideScope(StrEnum):
    GROUP = "group"
    PARTICIPANT = "participant"


@dataclass(frozen=True)
class StageOverride:
    study_id: str
    scope: OverrideScope
    target_id: str  # a group id or a participant id
    stage: Stage
    state: StageState
    updated_at: float


class FamiliarizeStore(Protocol):
    async def familiarize_progress(self, participant_id: str) -> FamiliarizeProgress | None: ...

    async def familiarize_progress_of_study(self, study_id: str) -> list[FamiliarizeProgress]: ...

    async def save_familiarize_progress(self, progress: FamiliarizeProgress) -> None:
        """Insert or replace the participant's progress."""
        ...

    async def record_check_attempt(self, attempt: CheckAttempt, progress: FamiliarizeProgress,
                                   max_attempts: int = 0) -> bool:
        """Store an attempt and its progress, together; False (nothing stored) if passed already or out of attempts."""
        ...

    async def check_attempts(self, participant_id: str) -> list[CheckAttempt]: ...

    async def completed_stages(self, participant_id: str) -> dict[Stage, float]: ...

    async def completed_stages_of_study(self, study_id: str) -> dict[str, dict[Stage, float]]: ...

    async def complete_stage(self, participant_id: str, stage: Stage, at: float) -> float:
        """Mark a stage completed (the first time counts); when it was completed."""
        ...

    async def stage_overrides(self, study_id: str) -> list[StageOverride]: ...

    async def set_stage_override(self, study_id: str, scope: OverrideScope, target_id: str, stage: Stage,
                                 state: StageState | None, at: float) -> None:
        """Open or close a stage for a group or a participant; None removes the override."""
        ...
