"""The control state machine: commands to document changes, as pure functions on a pycrdt document."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest

from calma.live.codes import ErrorCode, Refused
from calma.live.control_state import (
    CONTROL_MAP,
    DEFAULTS,
    MAX_DURATION_MS,
    MAX_QUEUE,
    apply_command,
    control_room_name,
    read_state,
    remaining_ms,
    timer_status,
)

T0 = 1_750_000_000_000  # a server time, in ms
MINUTE = 60_000


def run(doc: pycrdt.Doc, name: str, now: int = T0, actor: str | None = None, **fields: Any) -> dict[str, Any]:
    """Apply command `name` with `fields`, sent at server time `now` by participant `actor`."""
    return apply_command(doc, {"name": name, **fields}, participant=actor, now_ms=now)


def refused(doc: pycrdt.Doc, name: str, now: int = T0, actor: str | None = None, **fields: Any) -> Refused:
    before = doc.get_update()
    with pytest.raises(Refused) as caught:
        run(doc, name, now, actor, **fields)
    assert doc.get_update() == before, "a refused command changes nothing"
    return caught.value


def timer(doc: pycrdt.Doc, name: str = "segment") -> dict[str, Any]:
    return read_state(doc)["timers"][name]


def test_an_empty_document_reads_as_the_defaults() -> None:
    assert read_state(pycrdt.Doc()) == DEFAULTS
    assert control_room_name("a1", "b2") == "study-a1.group-b2.control"


def test_entries_that_do_not_fit_the_schema_read_as_their_defaults() -> None:
    doc = pycrdt.Doc()
    control = doc.get(CONTROL_MAP, type=pycrdt.Map)
    control["segment"] = "party"
    control["queue"] = ["ok", "not an id!"]
    control["timers"] = {"segment": {"duration_ms": 5.0, "started_at": None, "paused_remaining_ms": None}}
    state = read_state(doc)
    assert state["segment"] == "lobby"
    assert state["queue"] == []
    assert state["timers"] == {"segment": {"duration_ms": 5, "started_at": None, "paused_remaining_ms": None}}


def test_segments_move_forwards_and_back_and_remember_when() -> None:
    doc = pycrdt.Doc()
    assert run(doc, "segment.set", segment="top3") == {"segment": "top3", "segment_since": T0}
    run(doc, "segment.set", T0 + MINUTE, segment="explore")
    run(doc, "segment.set", T0 + 2 * MINUTE, segment="top3")
    assert read_state(doc)["segment"] == "top3"
    assert read_state(doc)["segment_since"] == T0 + 2 * MINUTE
    assert run(doc, "segment.set", T0 + 3 * MINUTE, segment="top3") == {}, "setting the same segment changes nothing"


def test_a_timer_runs_pauses_resumes_and_ends_on_server_time() -> None:
    doc = pycrdt.Doc()
    run(doc, "timer.start", T0, timer="segment", duration_ms=10 * MINUTE)
    assert timer_status(timer(doc)) == "running"
    assert remaining_ms(timer(doc), T0 + 4 * MINUTE) == 6 * MINUTE

    run(doc, "timer.pause", T0 + 4 * MINUTE, timer="segment")
    assert timer(doc) == {"duration_ms": 10 * MINUTE, "started_at": None, "paused_remaining_ms": 6 * MINUTE}
    assert remaining_ms(timer(doc), T0 + 60 * MINUTE) == 6 * MINUTE, "a paused timer does not run"

    run(doc, "timer.start", T0 + 20 * MINUTE, timer="segment")
    resumed = timer(doc)
    assert resumed["started_at"] + resumed["duration_ms"] == T0 + 26 * MINUTE, "ends 6 minutes after resuming"
    assert remaining_ms(resumed, T0 + 30 * MINUTE) == 0, "never negative"


def test_timer_commands_that_do_not_fit_its_state_are_conflicts() -> None:
    doc = pycrdt.Doc()
    assert refused(doc, "timer.start", timer="segment").code is ErrorCode.CONFLICT, "a new timer needs a duration"
    assert refused(doc, "timer.pause", timer="segment").code is ErrorCode.CONFLICT
    assert refused(doc, "timer.extend", timer="segment", by_ms=MINUTE).code is ErrorCode.CONFLICT
    run(doc, "timer.start", timer="segment", duration_ms=MINUTE)
    assert "already running" in refused(doc, "timer.start", timer="segment").message
    run(doc, "timer.pause", T0 + 1000, timer="segment")
    assert refused(doc, "timer.pause", timer="segment").code is ErrorCode.CONFLICT
    assert "resumes" in refused(doc, "timer.start", timer="segment", duration_ms=5 * MINUTE).message


def test_extending_adds_time_in_every_state() -> None:
    doc = pycrdt.Doc()
    run(doc, "timer.reset", timer="idle", duration_ms=MINUTE)
    run(doc, "timer.extend", timer="idle", by_ms=MINUTE)
    assert timer(doc, "idle") == {"duration_ms": 2 * MINUTE, "started_at": None, "paused_remaining_ms": None}

    run(doc, "timer.start", T0, timer="running", duration_ms=5 * MINUTE)
    run(doc, "timer.extend", T0 + MINUTE, timer="running", by_ms=2 * MINUTE)
    assert remaining_ms(timer(doc, "running"), T0 + MINUTE) == 6 * MINUTE

    run(doc, "timer.start", T0, timer="paused", duration_ms=5 * MINUTE)
    run(doc, "timer.pause", T0 + MINUTE, timer="paused")
    run(doc, "timer.extend", T0 + 2 * MINUTE, timer="paused", by_ms=MINUTE)
    assert timer(doc, "paused")["paused_remaining_ms"] == 5 * MINUTE


def test_an_expired_timer_extended_ends_that_long_from_now() -> None:
    doc = pycrdt.Doc()
    run(doc, "timer.start", T0, timer="segment", duration_ms=MINUTE)
    run(doc, "timer.extend", T0 + 10 * MINUTE, timer="segment", by_ms=2 * MINUTE)
    assert remaining_ms(timer(doc), T0 + 10 * MINUTE) == 2 * MINUTE


def test_a_timer_never_runs_longer_than_a_day() -> None:
    doc = pycrdt.Doc()
    run(doc, "timer.start", timer="segment", duration_ms=MAX_DURATION_MS)
    assert "longer than" in refused(doc, "timer.extend", timer="segment", by_ms=1).message


def test_reset_makes_a_timer_idle_with_its_full_or_a_new_length() -> None:
    doc = pycrdt.Doc()
    run(doc, "timer.start", T0, timer="segment", duration_ms=MINUTE)
    run(doc, "timer.extend", T0, timer="segment", by_ms=MINUTE)
    run(doc, "timer.reset", T0 + 30_000, timer="segment")
    assert timer(doc) == {"duration_ms": 2 * MINUTE, "started_at": None, "paused_remaining_ms": None}
    run(doc, "timer.reset", T0 + 30_000, timer="segment", duration_ms=3 * MINUTE)
    assert remaining_ms(timer(doc), T0 + 99 * MINUTE) == 3 * MINUTE


def test_a_session_has_a_bounded_number_of_timers() -> None:
    doc = pycrdt.Doc()
    for index in range(16):
        run(doc, "timer.reset", timer=f"t{index}", duration_ms=MINUTE)
    assert refused(doc, "timer.reset", timer="one-more", duration_ms=MINUTE).code is ErrorCode.LIMIT
    run(doc, "timer.reset", timer="t3", duration_ms=2 * MINUTE)  # existing timers still change


def test_a_reveal_happens_once() -> None:
    doc = pycrdt.Doc()
    assert run(doc, "reveal", T0, what="top3") == {"reveals": {"top3": T0}}
    assert run(doc, "reveal", T0 + MINUTE, what="top3") == {}
    assert read_state(doc)["reveals"] == {"top3": T0}


def test_hands_queue_in_order_and_the_spotlight_takes_one_out() -> None:
    doc = pycrdt.Doc()
    run(doc, "hand.raise", actor="ana")
    run(doc, "hand.raise", actor="bo")
    run(doc, "hand.raise", actor="ana")  # already there: no change
    run(doc, "hand.raise", actor="cy")
    assert read_state(doc)["queue"] == ["ana", "bo", "cy"]
    run(doc, "speaker.set", T0 + MINUTE, participant="bo")
    state = read_state(doc)
    assert (state["speaker"], state["speaker_since"], state["queue"]) == ("bo", T0 + MINUTE, ["ana", "cy"])
    run(doc, "hand.lower", actor="cy")
    run(doc, "speaker.set", participant=None)
    state = read_state(doc)
    assert (state["speaker"], state["speaker_since"], state["queue"]) == (None, None, ["ana"])


def test_hands_need_a_participant_and_the_queue_is_bounded() -> None:
    doc = pycrdt.Doc()
    assert refused(doc, "hand.raise", actor=None).code is ErrorCode.FORBIDDEN
    for index in range(MAX_QUEUE):
        run(doc, "hand.raise", actor=f"p{index}")
    assert refused(doc, "hand.raise", actor="late").code is ErrorCode.LIMIT


def test_only_changed_entries_are_written() -> None:
    doc = pycrdt.Doc()
    run(doc, "segment.set", segment="top3")
    written: list[set[str]] = []
    control = doc.get(CONTROL_MAP, type=pycrdt.Map)
    subscription = control.observe(lambda event: written.append(set(event.keys)))
    run(doc, "speaker.set", participant="ana")
    control.unobserve(subscription)
    assert written == [{"speaker", "speaker_since"}]


def test_bringing_everyone_to_a_view_records_where_and_when_every_time() -> None:
    doc = pycrdt.Doc()
    assert read_state(doc)["view"] is None
    run(doc, "view.set", x=120.5, y=-40.0, zoom=0.8)
    assert read_state(doc)["view"] == {"x": 120.5, "y": -40, "zoom": 0.8, "at": T0}
    changes = run(doc, "view.set", now=T0 + 5_000, x=120.5, y=-40.0, zoom=0.8)
    assert changes["view"]["at"] == T0 + 5_000, "the same view again still moves everyone (they may have wandered off)"
