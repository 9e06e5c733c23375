"""Before/after agreement figures for a Discuss session, each with a caveat where the sample is small.

- per participant: Kendall's tau-b and the top-three overlap between their
  ranking in segment 1 and their ranking in segment 5 (attributes a ranking
  leaves out tie below all it names);
- the group: Kendall's W (coefficient of concordance, corrected for ties)
  over everyone's rankings before and after;
- per definition: the Likert median, quartiles, IQR and the share agreeing
  (4 "agree" or 5 "strongly agree");
- across definitions: Krippendorff's alpha, ordinal (`krippendorff`), with
  participants as coders and definitions as units.

Pure functions: numbers in, numbers out; None where a figure is undefined
(too few rankings, no variation), never a made-up value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np
from scipy.stats import kendalltau, rankdata

AGREE_AT = 4  # on the 5-point scale: 4 agree, 5 strongly agree
SMALL_GROUP = 5  # below this many people, every group figure carries a caveat
SMALL_ITEMS = 4  # below this many attributes, rank correlations move in big steps


def positions(ranking: Sequence[str], items: Sequence[str]) -> np.ndarray:
    """Rank of each item (1 = best); items the ranking leaves out share the mean of the places below it."""
    place = {item: index + 1 for index, item in enumerate(ranking) if item in items}
    left_out = [item for item in items if item not in place]
    tail = (len(place) + 1 + len(items)) / 2 if left_out else 0.0
    return np.array([place.get(item, tail) for item in items], dtype=float)


def kendall_tau(before: Sequence[str], after: Sequence[str], items: Sequence[str]) -> float | None:
    """Kendall's tau-b between two rankings over `items` (None when either ranks nothing apart)."""
    if len(items) < 2:
        return None
    a, b = positions(before, items), positions(after, items)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return None
    tau = kendalltau(a, b).statistic
    return None if np.isnan(tau) else float(tau)


def top_overlap(before: Sequence[str], after: Sequence[str], k: int = 3) -> float:
    """Share of the first k of `before` that are also among the first k of `after`."""
    return len(set(before[:k]) & set(after[:k])) / k


def kendalls_w(rankings: Sequence[Sequence[str]], items: Sequence[str]) -> float | None:
    """Kendall's W with the tie correction; None with fewer than two rankings or two items."""
    m, n = len(rankings), len(items)
    if m < 2 or n < 2:
        return None
    ranks = np.array([positions(r, items) for r in rankings])  # m × n, ties share average ranks
    totals = ranks.sum(axis=0)
    spread = float(((totals - totals.mean()) ** 2).sum())
    ties = 0.0
    for row in ranks:
        _, counts = np.unique(row, return_counts=True)
        ties += float((counts**3 - counts).sum())
    denominator = m**2 * (n**3 - n) - m * ties
    return None if denominator <= 0 else 12 * spread / denominator


@dataclass(frozen=True)
class LikertSummary:
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    share_agreeing: float | None

    @property
    def iqr(self) -> float | None:
        return None if self.q1 is None or self.q3 is None else self.q3 - self.q1


def likert_summary(values: Sequence[int]) -> LikertSummary:
    if not values:
        return LikertSummary(0, None, None, None, None)
    data = np.array(values, dtype=float)
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    return LikertSummary(len(values), float(median), float(q1), float(q3), float((data >= AGREE_AT).mean()))


def krippendorff_ordinal(ratings: Mapping[str, Mapping[str, int]], units: Sequence[str]) -> float | None:
    """Alpha over coders (the outer keys) rating units on the ordinal scale; None when undefined."""
    coders = [coder for coder, given in ratings.items() if any(unit in given for unit in units)]
    if len(coders) < 2 or len(units) < 2:
        return None
    data = np.array([[ratings[c].get(u, np.nan) for u in units] for c in coders], dtype=float)
    values = set(data[~np.isnan(data)].tolist())
    if len(values) < 2:
        return None  # everyone gave the same value everywhere: alpha is undefined
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5]))


def group_caveat(people: int, items: int) -> str | None:
    """Words on how far a group figure can be trusted, or None."""
    notes = []
    if people < SMALL_GROUP:
        notes.append(f"only {people} {'person' if people == 1 else 'people'}: one change of mind moves this a lot")
    if items < SMALL_ITEMS:
        notes.append(f"only {items} attributes: rank figures move in big steps")
    if not notes:
        return None
    text = "; ".join(notes)
    return text[0].upper() + text[1:] + "."
