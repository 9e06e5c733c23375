"""Scoring the check: for every candidate code, did the participant judge rightly whether it names a value?

The score is the share of options judged rightly (picked and a value, or
left and not a value) over every item of the check; an item not answered
counts as nothing picked. Feedback names the items with a wrong judgement,
never the right answers, so that a retry is a real second try.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from calma.studies.model import CheckItem


@dataclass(frozen=True)
class CheckResult:
    score: float  # 0..1
    passed: bool
    right: int
    total: int
    items_to_revisit: tuple[str, ...]  # ids of items with at least one wrong judgement


class CheckAnswerError(ValueError):
    """The answers name an item or a code that is not part of the check."""


def score(items: Sequence[CheckItem], answers: Mapping[str, Sequence[str]], pass_mark: float) -> CheckResult:
    by_id = {item.id: item for item in items}
    for item_id, picked in answers.items():
        item = by_id.get(item_id)
        if item is None:
            raise CheckAnswerError(f"the check has no item {item_id!r}")
        unknown = set(picked) - {option.code for option in item.options}
        if unknown:
            raise CheckAnswerError(f"item {item_id!r} has no option {sorted(unknown)[0]!r}")
    right = total = 0
    revisit: list[str] = []
    for item in items:
        picked = set(answers.get(item.id, ()))
        wrong = False
        for option in item.options:
            total += 1
            if (option.code in picked) == option.is_value:
                right += 1
            else:
                wrong = True
        if wrong:
            revisit.append(item.id)
    share = right / total if total else 1.0
    return CheckResult(score=share, passed=share >= pass_mark, right=right, total=total, items_to_revisit=tuple(revisit))
