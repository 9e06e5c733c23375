"""The canvas service's own logic, in process: batching, what a pass writes, and failures reaching every caller.

The board is a real pycrdt document; the room and the embedder are small
stand-ins (the real ones are exercised end to end in test_canvas_live.py):
the embedder gives each text a fixed pseudo-random unit vector and can hold
its first call until the test lets it go.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import numpy as np
import pycrdt
import pytest

from calma.canvas.board import CardContent, CardKind, read_cards, writer_mark
from calma.canvas.service import BoardFull, CanvasService
from calma.studies.rooms import StudyRoom


STUDY, GROUP = "a" * 16, "b" * 16
ROOM = StudyRoom.board(STUDY, GROUP).name
EDITS = StudyRoom.edits(STUDY, GROUP).name


class BoardRoom:
    """A room reduced to what the service uses: a document, and writing to it as the server."""

    def __init__(self) -> None:
        self.doc = pycrdt.Doc()
        self.writes = 0
        self.byte_size = 0

    async def write_as_server(self, change: Callable[[pycrdt.Doc], None]) -> bytes:
        with self.doc.transaction():
            change(self.doc)
        self.writes += 1
        return b""


class Rooms:
    """The group's board, and its edits room (where moves would be; empty here)."""

    def __init__(self) -> None:
        self.room = BoardRoom()
        self.edits = BoardRoom()
        self.held = 0

    async def acquire(self, name: str) -> BoardRoom:
        assert name in (ROOM, EDITS)
        self.held += 1
        return self.room if name == ROOM else self.edits

    def release(self, room: BoardRoom) -> None:
        self.held -= 1


class HeldEmbedder:
    """Fixed vectors per text; `hold` makes the next call wait until `let_go` is set."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.hold = False
        self.let_go = anyio.Event()
        self.failure: Exception | None = None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.hold:
            self.hold = False
            await self.let_go.wait()
        if self.failure is not None:
            raise self.failure
        rows = []
        for text in texts:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            vector = np.random.default_rng(seed).normal(size=16)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)


def service(rooms: Rooms, embedder: HeldEmbedder) -> CanvasService:
    return CanvasService(lambda: rooms, embedder, studies=None, reflect=lambda: None)  # type: ignore[arg-type]


def label(text: str, *authors: str) -> CardContent:
    return CardContent(text, CardKind.LABEL, authors)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until `condition` holds (fails after 5 s)."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.lowlevel.checkpoint()


async def test_labels_that_arrive_while_a_pass_runs_are_placed_together_in_the_next_pass() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = service(rooms, embedder)
    embedder.hold = True
    results: dict[str, Any] = {}

    async def write(text: str) -> None:
        results[text] = await canvas.place(STUDY, GROUP, [label(text)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, "first")
        await wait_until(lambda: len(embedder.calls) == 1)
        for index in range(19):
            tg.start_soon(write, f"label {index}")
        await wait_until(lambda: len(canvas._pending.get(ROOM, [])) == 19)
        embedder.let_go.set()
    assert len(embedder.calls) == 2 and rooms.room.writes == 2, "one pass for the first, one for the 19 that waited"
    assert len(read_cards(rooms.room.doc)) == 20 and len(results) == 20
    assert results.pop("first") == {label("first").id: (0.0, 0.0)}, "alone on the board, at the centre (then refitted)"
    for text, placed in results.items():
        card = read_cards(rooms.room.doc)[label(text).id]
        assert placed == {card.id: (pytest.approx(card.x, abs=0.01), pytest.approx(card.y, abs=0.01))}
    assert rooms.held == 0, "every room acquired was released"


async def test_a_failed_pass_fails_every_request_in_it_and_the_next_pass_works() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = service(rooms, embedder)
    await canvas.place(STUDY, GROUP, [label("already there")])
    embedder.hold, embedder.failure = True, RuntimeError("the model fell over")
    errors: list[str] = []

    async def write(text: str) -> None:
        try:
            await canvas.place(STUDY, GROUP, [label(text)])
        except RuntimeError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, "one")
        await wait_until(lambda: len(embedder.calls) == 2)
        tg.start_soon(write, "two")
        tg.start_soon(write, "three")
        await wait_until(lambda: len(canvas._pending.get(ROOM, [])) == 2)
        embedder.let_go.set()
    assert errors == ["the model fell over"] * 3
    assert set(read_cards(rooms.room.doc)) == {label("already there").id}, "a failed pass writes nothing"
    embedder.failure = None
    await canvas.place(STUDY, GROUP, [label("four")])
    assert len(read_cards(rooms.room.doc)) == 2 and rooms.held == 0


async def test_codes_replace_codes_labels_accumulate_and_anonymity_strips_every_author() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = service(rooms, embedder)
    codes = [CardContent(text, CardKind.CODE, ("Ravi",), 2, 1) for text in ("curious", "kind", "fair", "brief")]
    await canvas.place(STUDY, GROUP, codes, replace_kind=CardKind.CODE)
    await canvas.place(STUDY, GROUP, [label("patient", "Mei")], accumulate=True)
    await canvas.place(STUDY, GROUP, [label("Patient", "Ravi")], accumulate=True)
    cards = read_cards(rooms.room.doc)
    patient = cards[label("patient").id].content
    assert (patient.text, patient.uses, patient.people, patient.authors) == ("patient", 2, 2, ("Mei", "Ravi"))

    kept = cards[codes[0].id]
    await canvas.place(STUDY, GROUP, [CardContent("curious", CardKind.CODE, ("Ravi", "Mei"), 3, 2)],
                       replace_kind=CardKind.CODE)
    cards = read_cards(rooms.room.doc)
    assert set(cards) == {codes[0].id, label("patient").id}, "codes nobody uses any more leave; labels stay"
    assert (cards[codes[0].id].x, cards[codes[0].id].y) == (kept.x, kept.y), "a card that stays keeps its place"
    assert cards[codes[0].id].content.uses == 3

    await canvas.place(STUDY, GROUP, [CardContent("curious", CardKind.CODE, (), 3, 2)], replace_kind=CardKind.CODE,
                       anonymous=True)
    assert all(card.content.authors == () for card in read_cards(rooms.room.doc).values())


async def test_nothing_new_writes_nothing() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = service(rooms, embedder)
    await canvas.place(STUDY, GROUP, [label("calm")])
    await canvas.place(STUDY, GROUP, [label("calm")])
    assert rooms.room.writes == 1


async def test_a_label_written_again_counts_a_use_and_a_person_only_once_per_person() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = service(rooms, embedder)
    key = label("patient").id

    def by(who: str) -> CardContent:
        return CardContent("patient", CardKind.LABEL, (), writers=(writer_mark(key, who),))

    for who in ("ravi", "mei", "ravi", "ravi"):
        await canvas.place(STUDY, GROUP, [by(who)], accumulate=True)
    card = read_cards(rooms.room.doc)[key].content
    assert (card.uses, card.people, card.authors) == (4, 2, ())
    assert writer_mark(key, "ravi") != writer_mark(label("kind").id, "ravi"), "marks do not link a person across cards"


async def test_a_board_near_what_a_newcomer_can_receive_takes_no_more_labels_but_the_servers_cards() -> None:
    rooms, embedder = Rooms(), HeldEmbedder()
    canvas = CanvasService(lambda: rooms, embedder, studies=None, reflect=lambda: None,  # type: ignore[arg-type]
                           max_board_bytes=1000)
    await canvas.place(STUDY, GROUP, [label("first")])
    rooms.room.byte_size = 800  # past three quarters of the limit
    with pytest.raises(BoardFull, match="the board is full"):
        await canvas.place(STUDY, GROUP, [label("one too many")])
    await canvas.place(STUDY, GROUP, [CardContent("a released code", CardKind.CODE)], replace_kind=CardKind.CODE)
    assert {card.content.text for card in read_cards(rooms.room.doc).values()} == {"first", "a released code"}
    assert rooms.held == 0
