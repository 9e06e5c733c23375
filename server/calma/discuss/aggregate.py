"""The group's ranking from everyone's: Borda and Schulze side by side, and whether they disagree.

Ballots rank some of the candidates (a top three of the group's attributes,
say); a candidate a ballot leaves out ranks below every one it names, tied
with the others left out. Borda is the symmetric Borda score (for each
ballot: candidates ranked below minus candidates ranked above), Schulze is
pref_voting's beat path method; the Schulze order ranks candidates by how
many others they beat on the strongest paths (ties kept as ties). Both come
from pref_voting, computed on the same profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pref_voting.margin_based_methods import beat_path_defeat
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import symmetric_borda_scores


@dataclass(frozen=True)
class Aggregate:
    candidates: tuple[str, ...]
    ballots: int
    borda: tuple[tuple[str, int], ...]  # (candidate, score), best first
    borda_order: tuple[tuple[str, ...], ...]  # tiers: candidates tied on score share one
    schulze_order: tuple[tuple[str, ...], ...]  # tiers of the Schulze relation, best first
    top: int  # how many places the ballots fill (3 or 5): the methods are compared on these

    @property
    def borda_top(self) -> tuple[str, ...]:
        return _top(self.borda_order, self.top)

    @property
    def schulze_top(self) -> tuple[str, ...]:
        return _top(self.schulze_order, self.top)

    @property
    def disagree(self) -> bool:
        """The two methods put different candidates, or the same in a different order, in the top places."""
        return self.borda_order[: len(_tiers_upto(self.borda_order, self.top))] != \
            self.schulze_order[: len(_tiers_upto(self.schulze_order, self.top))]

    def summary(self) -> str:
        """In words, for the facilitator and the group."""
        if self.ballots == 0:
            return "No rankings yet."
        if not self.disagree:
            return f"Borda and Schulze agree on the top {self.top}: {_words(self.borda_order, self.top)}."
        return (f"Borda and Schulze disagree on the top {self.top}. Borda: {_words(self.borda_order, self.top)}; "
                f"Schulze: {_words(self.schulze_order, self.top)}. Worth discussing before settling on one.")


class BallotError(ValueError):
    """A ballot that cannot be counted (it names a candidate twice, or one that is not standing)."""


def aggregate(candidates: Sequence[str], ballots: Sequence[Sequence[str]], *, top: int) -> Aggregate:
    """Aggregate ballots (each a ranking, best first, of some candidates) over `candidates`."""
    standing = tuple(candidates)
    known = set(standing)
    for ballot in ballots:
        if len(set(ballot)) != len(ballot) or not set(ballot) <= known:
            raise BallotError(f"a ballot must rank distinct candidates among {sorted(known)}: {list(ballot)}")
    if not standing:
        return Aggregate((), len(ballots), (), (), (), top)
    if not ballots:
        tier = (tuple(sorted(standing)),)
        return Aggregate(standing, 0, tuple((c, 0) for c in sorted(standing)), tier, tier, top)
    profile = ProfileWithTies([{c: place for place, c in enumerate(ballot, start=1)} for ballot in ballots],
                              candidates=list(standing))
    profile.use_extended_strict_preference()  # a candidate left out ranks below every named one
    scores = symmetric_borda_scores(profile)
    borda = tuple(sorted(((c, int(scores[c])) for c in standing), key=lambda item: (-item[1], item[0])))
    borda_order = _tiers({c: s for c, s in borda})
    defeats = beat_path_defeat(profile)
    beaten = {c: sum(1 for _ in defeats.successors(c)) for c in standing}
    return Aggregate(standing, len(ballots), borda, borda_order, _tiers(beaten), top)


def _tiers(score: dict[str, int]) -> tuple[tuple[str, ...], ...]:
    values = sorted(set(score.values()), reverse=True)
    return tuple(tuple(sorted(c for c, s in score.items() if s == value)) for value in values)


def _tiers_upto(order: tuple[tuple[str, ...], ...], places: int) -> tuple[tuple[str, ...], ...]:
    """The tiers that hold the first `places` places (a tie across the cut comes whole)."""
    taken, tiers = 0, []
    for tier in order:
        if taken >= places:
            break
        tiers.append(tier)
        taken += len(tier)
    return tuple(tiers)


def _top(order: tuple[tuple[str, ...], ...], places: int) -> tuple[str, ...]:
    return tuple(c for tier in _tiers_upto(order, places) for c in tier)


def _words(order: tuple[tuple[str, ...], ...], places: int) -> str:
    return ", ".join(" = ".join(tier) for tier in _tiers_upto(order, places))
