"""Reflect's operations and span anchoring on their own (pure functions over a participant's records)."""

from __future__ import annotations

from typing import Any

import pytest

from calma.reflect.anchors import AnchorError, check_span
from calma.reflect.model import ReflectRecords
from calma.reflect.ops import OPERATION, Applied, OpRefused, apply

TEXT = "Ashoka 🙏 embraced Buddhism after Kalinga — a turn towards dhamma."
TEXTS = {("baseline", "ashoka"): TEXT}


def test_spans_count_code_points_so_an_emoji_is_one_position() -> None:
    start = TEXT.index("embraced")
    assert start == 9, "'Ashoka 🙏 ' is nine code points (eleven UTF-16 units in a browser)"
    assert check_span(TEXT, start, start + 17, "embraced Buddhism").quote == "embraced Buddhism"
    assert check_span(TEXT, 7, 8, "🙏").quote == "🙏"
    with pytest.raises(AnchorError, match="code points"):
        check_span(TEXT, 11, 28, "embraced Buddhism")  # UTF-16 offsets: caught, not stored wrongly
    assert check_span(TEXT, 0, len(TEXT), TEXT).whole(TEXT)


@pytest.mark.parametrize(("start", "end", "message"), [(5, 5, "start < end"), (-1, 3, "start < end"),
                                                        (0, 999, "past the text")])
def test_a_span_outside_the_text_is_refused_with_the_reason(start: int, end: int, message: str) -> None:
    with pytest.raises(AnchorError, match=message):
        check_span(TEXT, start, end, TEXT[max(start, 0):end])


class Participant:
    """Ravi's records, changed only by operations, as the store would apply them."""

    def __init__(self) -> None:
        self.records = ReflectRecords()
        self.counter = 0

    def ids(self) -> list[str]:
        self.counter += 20
        return [f"{n:016x}" for n in range(self.counter, self.counter + 20)]

    def do(self, **op: Any) -> Applied:
        applied = apply(self.records, OPERATION.validate_python(op), "ravi", TEXTS, self.ids(), now=float(self.counter))
        merged = {r.id: r for r in [*self.records.codes, *applied.codes]}
        annotations = {r.id: r for r in [*self.records.annotations, *applied.annotations]}
        clusters = {r.id: r for r in [*self.records.clusters, *applied.clusters]}
        self.records = ReflectRecords(list(merged.values()), list(annotations.values()), list(clusters.values()),
                                      self.records.version + 1)
        return applied

    def undo(self, applied: Applied) -> None:
        for op in applied.undo:
            self.do(**op)

    def labels(self, annotation_id: str) -> list[str]:
        annotation = next(a for a in self.records.annotations if a.id == annotation_id)
        by_id = {c.id: c.label for c in self.records.codes}
        return [by_id[self.records.resolve(c)] for c in annotation.code_ids]


A1, A2, C1, C2, C3 = (f"{n:016x}" for n in (0xA1, 0xA2, 0xC1, 0xC2, 0xC3))


def annotate(ravi: Participant, annotation_id: str, start: int, end: int, *codes: str) -> Applied:
    return ravi.do(kind="annotation.create", id=annotation_id, target_kind="baseline", target_id="ashoka",
                   start=start, end=end, quote=TEXT[start:end], codes=list(codes))


def test_overlapping_spans_and_whole_message_codes_reuse_the_participants_own_labels() -> None:
    ravi = Participant()
    first = annotate(ravi, A1, 9, 26, "Religious tolerance", "positive framing")
    second = annotate(ravi, A2, 0, len(TEXT), "religious  TOLERANCE")  # the whole message, overlapping the first
    assert second.result["code_ids"] == [first.result["code_ids"][0]], "same label, same code (case and spaces aside)"
    assert len(ravi.records.live_codes()) == 2
    with pytest.raises(OpRefused, match="exists already"):
        annotate(ravi, A1, 0, 6, "again")
    with pytest.raises(OpRefused, match="no baseline elsewhere"):
        ravi.do(kind="annotation.create", id=C3, target_kind="baseline", target_id="elsewhere", start=0, end=1,
                quote="x", codes=["x"])


def test_merging_codes_and_undoing_the_merge_gives_back_exactly_what_there_was() -> None:
    ravi = Participant()
    annotate(ravi, A1, 9, 26, "tolerance")
    annotate(ravi, A2, 34, 41, "tolerant of other faiths")
    tolerance, faiths = (c.id for c in ravi.records.live_codes())
    merge = ravi.do(kind="code.merge", ids=[faiths], into=tolerance)
    assert ravi.labels(A2) == ["tolerance"] and len(ravi.records.live_codes()) == 1
    ravi.undo(merge)
    assert ravi.labels(A2) == ["tolerant of other faiths"] and len(ravi.records.live_codes()) == 2
    with pytest.raises(OpRefused, match="merge the two instead"):
        ravi.do(kind="code.rename", id=faiths, label="Tolerance")


def test_clusters_group_codes_a_code_may_be_in_two_and_every_change_can_be_undone() -> None:
    ravi = Participant()
    annotate(ravi, A1, 9, 26, "tolerance", "moral change")
    tolerance, moral = (c.id for c in ravi.records.live_codes())
    ravi.do(kind="cluster.create", id=C1, name="Religion", definition="How faith is framed", code_ids=[tolerance])
    ravi.do(kind="cluster.create", id=C2, name="Ethics", code_ids=[tolerance, moral])
    clusters = {c.id: c for c in ravi.records.clusters}
    assert tolerance in clusters[C1].code_ids and tolerance in clusters[C2].code_ids

    merge = ravi.do(kind="cluster.merge", ids=[C2], into=C1)
    clusters = {c.id: c for c in ravi.records.clusters}
    assert clusters[C1].code_ids == (tolerance, moral) and clusters[C2].deleted_at is not None
    ravi.undo(merge)
    clusters = {c.id: c for c in ravi.records.clusters}
    assert clusters[C1].code_ids == (tolerance,) and clusters[C2].deleted_at is None

    split = ravi.do(kind="cluster.split", id=C2, new_id=C3, name="Change", code_ids=[moral])
    clusters = {c.id: c for c in ravi.records.clusters}
    assert clusters[C2].code_ids == (tolerance,) and clusters[C3].code_ids == (moral,)
    ravi.undo(split)
    clusters = {c.id: c for c in ravi.records.clusters}
    assert clusters[C2].code_ids == (tolerance, moral) and clusters[C3].deleted_at is not None

    rename = ravi.do(kind="cluster.update", id=C1, name="Faith", definition="Faith as a force for peace")
    ravi.undo(rename)
    assert next(c for c in ravi.records.clusters if c.id == C1).name == "Religion"
    with pytest.raises(OpRefused, match="not in cluster"):
        ravi.do(kind="cluster.split", id=C1, new_id=f"{0xC4:016x}", name="x", code_ids=[moral])


@pytest.mark.parametrize("op", [
    {"kind": "annotation.create", "id": "not-hex", "target_kind": "baseline", "target_id": "a", "start": 0, "end": 1, "quote": "A", "codes": ["x"]},
    {"kind": "annotation.create", "id": A1, "target_kind": "board", "target_id": "a", "start": 0, "end": 1, "quote": "A", "codes": ["x"]},
    {"kind": "annotation.create", "id": A1, "target_kind": "baseline", "target_id": "a", "start": 0, "end": 1, "quote": "A", "codes": []},
    {"kind": "annotation.create", "id": A1, "target_kind": "baseline", "target_id": "a", "start": "0", "end": 1, "quote": "A", "codes": ["x"]},
    {"kind": "cluster.create", "id": C1, "name": " ", "code_ids": []},
    {"kind": "cluster.create", "id": C1, "name": "x" * 201},
    {"kind": "code.rename", "id": C1, "label": "x", "colour": "red"},
    {"kind": "teleport", "id": C1},
])
def test_malformed_operations_are_refused_by_the_schema(op: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        OPERATION.validate_python(op)


def test_undoing_an_unmerge_sends_each_code_back_where_it_was() -> None:
    ravi = Participant()
    annotate(ravi, A1, 9, 26, "tolerance", "peace")
    annotate(ravi, A2, 34, 41, "tolerant", "peaceful")
    by_label = {c.label: c.id for c in ravi.records.live_codes()}
    ravi.do(kind="code.merge", ids=[by_label["tolerant"]], into=by_label["tolerance"])
    ravi.do(kind="code.merge", ids=[by_label["peaceful"]], into=by_label["peace"])
    unmerge = ravi.do(kind="code.unmerge", ids=[by_label["tolerant"], by_label["peaceful"]])
    ravi.undo(unmerge)
    assert ravi.labels(A2) == ["tolerance", "peace"]
