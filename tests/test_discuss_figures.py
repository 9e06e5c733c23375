"""Rank aggregation and consensus figures against small cases worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest

from calma.discuss.aggregate import BallotError, aggregate
from calma.discuss.consensus import (
    group_caveat,
    kendall_tau,
    kendalls_w,
    krippendorff_ordinal,
    likert_summary,
    positions,
    top_overlap,
)


def test_borda_and_schulze_disagree_on_the_classic_case_and_say_so() -> None:
    # 3 voters a>b>c, 2 voters b>c>a.
    # Symmetric Borda (below minus above): a = 3·(2) + 2·(−2) = 2; b = 3·0 + 2·2 = 4; c = 3·(−2) + 2·0 = −6 → b, a, c.
    # Pairwise: a beats b 3:2, a beats c 3:2, b beats c 5:0 → a is the Condorcet winner; Schulze: a, b, c.
    result = aggregate(["a", "b", "c"], [["a", "b", "c"]] * 3 + [["b", "c", "a"]] * 2, top=3)
    assert result.borda == (("b", 4), ("a", 2), ("c", -6))
    assert result.schulze_order == (("a",), ("b",), ("c",))
    assert result.disagree
    assert result.summary().startswith("Borda and Schulze disagree on the top 3. Borda: b, a, c; Schulze: a, b, c.")


def test_truncated_ballots_rank_the_left_out_below_and_the_methods_can_agree() -> None:
    # Ballots over a, b, c, d: a>b (c, d left out), a>c, b>a. Left-out candidates tie below the named ones.
    # Ballot 1: a = 3−0, b = 2−1, c = 0−2, d = 0−2. Ballot 2: a = 3, c = 1, b = −2, d = −2. Ballot 3: b = 3, a = 1, c = d = −2.
    # a = 3+3+1 = 7, b = 1−2+3 = 2, c = −2+1−2 = −3, d = −6.
    result = aggregate(["a", "b", "c", "d"], [["a", "b"], ["a", "c"], ["b", "a"]], top=2)
    assert dict(result.borda) == {"a": 7, "b": 2, "c": -3, "d": -6}
    assert result.schulze_order[:2] == (("a",), ("b",))
    assert not result.disagree and result.summary() == "Borda and Schulze agree on the top 2: a, b."


def test_ties_stay_ties_and_no_ballots_say_so() -> None:
    tied = aggregate(["a", "b"], [["a", "b"], ["b", "a"]], top=1)
    assert tied.borda_order == (("a", "b"),) and tied.schulze_order == (("a", "b"),)
    assert not tied.disagree and "a = b" in tied.summary()
    assert aggregate(["a", "b"], [], top=3).summary() == "No rankings yet."


@pytest.mark.parametrize("ballot", [["a", "a"], ["a", "z"]])
def test_a_ballot_that_cannot_be_counted_is_refused(ballot: list[str]) -> None:
    with pytest.raises(BallotError):
        aggregate(["a", "b"], [ballot], top=2)


def test_positions_put_the_left_out_together_below() -> None:
    # Items a, b, c, d; ranking b, a: b = 1, a = 2, c and d share places 3 and 4 → 3.5.
    assert positions(["b", "a"], ["a", "b", "c", "d"]).tolist() == [2.0, 1.0, 3.5, 3.5]


def test_kendall_tau_and_top_three_overlap() -> None:
    items = ["a", "b", "c", "d"]
    assert kendall_tau(["a", "b", "c", "d"], ["a", "b", "c", "d"], items) == pytest.approx(1.0)
    assert kendall_tau(["a", "b", "c", "d"], ["d", "c", "b", "a"], items) == pytest.approx(-1.0)
    # One swap (a, b) of six pairs: concordant 5, discordant 1 → tau = (5 − 1) / 6 = 2/3.
    assert kendall_tau(["a", "b", "c", "d"], ["b", "a", "c", "d"], items) == pytest.approx(2 / 3)
    assert kendall_tau([], ["a", "b"], items) is None, "a ranking that ranks nothing apart gives no tau"
    assert top_overlap(["a", "b", "c"], ["c", "d", "a"]) == pytest.approx(2 / 3)


def test_kendalls_w() -> None:
    items = ["a", "b", "c"]
    assert kendalls_w([["a", "b", "c"]] * 3, items) == pytest.approx(1.0)
    # Two opposite rankings: rank sums 4, 4, 4 → S = 0 → W = 0.
    assert kendalls_w([["a", "b", "c"], ["c", "b", "a"]], items) == pytest.approx(0.0)
    # Rankings a>b>c, a>c>b, b>a>c: rank sums a = 1+1+2 = 4, b = 2+3+1 = 6, c = 3+2+3 = 8; mean 6.
    # S = 4 + 0 + 4 = 8; W = 12·8 / (3²·(3³ − 3)) = 96 / 216 = 4/9.
    assert kendalls_w([["a", "b", "c"], ["a", "c", "b"], ["b", "a", "c"]], items) == pytest.approx(4 / 9)
    assert kendalls_w([["a", "b", "c"]], items) is None


def test_kendalls_w_corrects_for_ties() -> None:
    # Two raters over a, b, c: "a" only (b, c tie at 2.5) and a>b>c. Rank sums a = 2, b = 4.5, c = 5.5; mean 4.
    # S = 4 + 0.25 + 2.25 = 6.5. Ties: rater 1 has one pair tied: t³ − t = 6. W = 12·6.5 / (4·24 − 2·6) = 78/84.
    assert kendalls_w([["a"], ["a", "b", "c"]], ["a", "b", "c"]) == pytest.approx(78 / 84)


def test_likert_summary() -> None:
    # 1, 2, 4, 5, 5: median 4; quartiles (linear) 2 and 5; IQR 3; agreeing (4 or 5): 3 of 5.
    summary = likert_summary([1, 2, 4, 5, 5])
    assert (summary.n, summary.median, summary.q1, summary.q3, summary.iqr) == (5, 4.0, 2.0, 5.0, 3.0)
    assert summary.share_agreeing == pytest.approx(0.6)
    assert likert_summary([]).median is None


def test_krippendorffs_alpha_ordinal() -> None:
    # Two coders, two units, values (5, 1) and (1, 5). Coincidences: o(1,5) = o(5,1) = 2; n₁ = n₅ = 2, n = 4.
    # Ordinal δ(1,5) = (n₁ + … + n₅ − (n₁ + n₅)/2)² = (4 − 2)² = 4 (n₂ = n₃ = n₄ = 0).
    # D_o = (2·4 + 2·4)/4 = 4; D_e = (2·2·4 + 2·2·4)/(4·3) = 8/3; α = 1 − 4/(8/3) = −0.5.
    assert krippendorff_ordinal({"p": {"x": 5, "y": 1}, "q": {"x": 1, "y": 5}}, ["x", "y"]) == pytest.approx(-0.5)
    assert krippendorff_ordinal({"p": {"x": 5, "y": 1}, "q": {"x": 5, "y": 1}}, ["x", "y"]) == pytest.approx(1.0)
    assert krippendorff_ordinal({"p": {"x": 4, "y": 4}, "q": {"x": 4, "y": 4}}, ["x", "y"]) is None, "no variation"
    assert krippendorff_ordinal({"p": {"x": 4, "y": 2}}, ["x", "y"]) is None, "one coder"


def test_small_samples_carry_a_caveat() -> None:
    assert group_caveat(3, 6) == "Only 3 people: one change of mind moves this a lot."
    assert group_caveat(12, 2) == "Only 2 attributes: rank figures move in big steps."
    assert group_caveat(2, 3) == "Only 2 people: one change of mind moves this a lot; only 3 attributes: rank figures move in big steps."
    assert group_caveat(12, 6) is None
