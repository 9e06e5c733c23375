"""Reflect's records: what a participant coded, and how they grouped their codes.

Records are never erased: a deletion sets `deleted_at` (so undo can restore
it), and merging codes points the merged ones at the code they went into
(`merged_into`), so that undoing a merge gives back exactly what there was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TargetKind(StrEnum):
    MESSAGE = "message"  # a model reply in a conversation
    BASELINE = "baseline"  # an item of the study's baseline set


@dataclass(frozen=True)
class Code:
    id: str
    participant_id: str
    label: str
    created_at: float
    updated_at: float
    merged_into: str | None = None
    deleted_at: float | None = None


@dataclass(frozen=True)
class Annotation:
    id: str
    participant_id: str
    target_kind: TargetKind
    target_id: str
    start: int
    end: int
    quote: str
    memo: str
    code_ids: tuple[str, ...]
    created_at: float
    updated_at: float
    deleted_at: float | None = None


@dataclass(frozen=True)
class Cluster:
    id: str
    participant_id: str
    name: str
    definition: str
    code_ids: tuple[str, ...]
    created_at: float
    updated_at: float
    deleted_at: float | None = None


@dataclass(frozen=True)
class ReflectRecords:
    """Everything of one participant's (deleted records included; callers filter)."""

    codes: list[Code] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    version: int = 0  # operations applied so far

    def live_codes(self) -> list[Code]:
        return [c for c in self.codes if c.deleted_at is None and c.merged_into is None]

    def resolve(self, code_id: str) -> str:
        """The code a (possibly merged) code stands for now."""
        by_id = {c.id: c for c in self.codes}
        seen: set[str] = set()
        while code_id in by_id and by_id[code_id].merged_into and code_id not in seen:
            seen.add(code_id)
            code_id = by_id[code_id].merged_into  # type: ignore[assignment]
        return code_id


@dataclass(frozen=True)
class OpRecord:
    """One applied operation: the history."""

    op_id: str
    participant_id: str
    kind: str
    payload: dict[str, object]
    result: dict[str, object]
    created_at: float
