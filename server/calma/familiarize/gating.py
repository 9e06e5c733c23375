"""Which of a participant's stages are open: in order, unless the facilitator says otherwise.

A stage is open when it is the study's first, or when the participant
completed the stage before it. The facilitator can open or close any stage
for a whole group or for one person; a personal override beats the group's,
and either beats the rule. Moving back to an earlier open stage is always
allowed; nothing a participant did is lost when a stage closes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from calma.studies.model import Stage


class StageState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Reason(StrEnum):
    FIRST = "first stage"
    PREVIOUS_DONE = "previous stage completed"
    PREVIOUS_NOT_DONE = "previous stage not completed yet"
    GROUP = "opened or closed for the group by the facilitator"
    PERSON = "opened or closed for you by the facilitator"


@dataclass(frozen=True)
class StageStatus:
    stage: Stage
    state: StageState
    reason: Reason
    completed_at: float | None

    @property
    def open(self) -> bool:
        return self.state is StageState.OPEN


def stage_statuses(
    order: Sequence[Stage],
    completed: Mapping[Stage, float],
    group_overrides: Mapping[Stage, StageState],
    person_overrides: Mapping[Stage, StageState],
) -> list[StageStatus]:
    statuses = []
    for index, stage in enumerate(order):
        if stage in person_overrides:
            state, reason = person_overrides[stage], Reason.PERSON
        elif stage in group_overrides:
            state, reason = group_overrides[stage], Reason.GROUP
        elif index == 0:
            state, reason = StageState.OPEN, Reason.FIRST
        elif order[index - 1] in completed:
            state, reason = StageState.OPEN, Reason.PREVIOUS_DONE
        else:
            state, reason = StageState.CLOSED, Reason.PREVIOUS_NOT_DONE
        statuses.append(StageStatus(stage, state, reason, completed.get(stage)))
    return statuses


def is_open(statuses: Sequence[StageStatus], stage: Stage) -> bool:
    return any(status.stage is stage and status.open for status in statuses)
