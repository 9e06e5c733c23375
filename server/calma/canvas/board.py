"""The semantic canvas in a board room's Yjs document (shared_schema/board.json, version 3).

Three top-level Y.Maps, written by the server only (the board room is read-only
for every client): `cards` (card id → Y.Map of text, kind, authors, uses,
people, writers, x, y, placedAt), `hints` (hint id → Y.Map of kind, cards,
similarity) and `layout` (refits, refitAt, placedSinceRefit). Where people moved
cards and what they decided on hints is in the group's edits document
(`calma.canvas.edits`); readers here lay that over the board. Readers skip
entries that do not fit (boards written before version 3 held client writes);
writers are plain functions on a document, run inside `Room.write_as_server` so
that what they change is stored before anyone sees it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pycrdt

from calma.canvas.edits import Decision, Move

CARDS = "cards"
HINTS = "hints"
LAYOUT = "layout"
MAX_TEXT = 500
MAX_AUTHORS = 20
MAX_HINT_CARDS = 200
MAX_WRITERS = 500
MAX_COORDINATE = 1_000_000.0  # canvas units; positions beyond read as this bound


class CardKind(StrEnum):
    CODE = "code"  # a released Reflect code
    TOP3 = "top3"  # a Discuss segment-1 attribute
    ATTRIBUTE = "attribute"  # a final group attribute
    LABEL = "label"  # written on the canvas


class HintStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


def card_id(kind: CardKind, text: str) -> str:
    """The same words of the same kind are one card (compared case-blind, spaces collapsed)."""
    key = " ".join(text.split()).casefold()
    return "c-" + hashlib.sha256(f"{kind.value}\0{key}".encode()).hexdigest()[:16]


def writer_mark(card: str, who: str) -> str:
    """Who wrote a label, as this card alone knows them: the same person on two cards gets two unrelated marks."""
    return hashlib.sha256(f"{card}\0{who}".encode()).hexdigest()[:12]


def hint_id(kind: str, cards: Sequence[str]) -> str:
    return "h-" + hashlib.sha256("\0".join([kind, *sorted(cards)]).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CardContent:
    """What the server says about a card: everything but where it is."""

    text: str
    kind: CardKind
    authors: tuple[str, ...] = ()
    uses: int = 1
    people: int = 1
    writers: tuple[str, ...] = ()  # labels: who wrote it, as per-card hashes (counts people, names nobody)

    @property
    def id(self) -> str:
        return card_id(self.kind, self.text)


@dataclass(frozen=True)
class Card:
    id: str
    content: CardContent
    x: float
    y: float
    pinned: bool


@dataclass(frozen=True)
class Hint:
    id: str
    kind: str  # "group" or "duplicate"
    cards: tuple[str, ...]
    similarity: float
    status: HintStatus = HintStatus.OPEN


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _bounded(value: float) -> float:
    return max(-MAX_COORDINATE, min(MAX_COORDINATE, value))


def _card(key: str, entry: Any) -> Card | None:
    if not isinstance(entry, pycrdt.Map):
        return None
    text, kind = entry.get("text"), entry.get("kind")
    x, y = _number(entry.get("x")), _number(entry.get("y"))
    if not isinstance(text, str) or kind not in CardKind.__members__.values() or x is None or y is None:
        return None
    x, y = _bounded(x), _bounded(y)
    authors, writers = entry.get("authors"), entry.get("writers")
    content = CardContent(
        text=text[:MAX_TEXT], kind=CardKind(kind),
        authors=tuple(a for a in authors if isinstance(a, str))[:MAX_AUTHORS] if isinstance(authors, list) else (),
        uses=max(0, int(_number(entry.get("uses")) or 0)), people=max(0, int(_number(entry.get("people")) or 0)),
        writers=tuple(w for w in writers if isinstance(w, str))[:MAX_WRITERS] if isinstance(writers, list) else (),
    )
    return Card(key, content, x, y, entry.get("pinned") is True)  # `pinned` on the board: version 2 boards


def read_cards(doc: pycrdt.Doc, moves: dict[str, Move] | None = None) -> dict[str, Card]:
    """Every well-formed card, by id, where people moved it (`moves`, from the edits document) or else
    where the server placed it. A moved card is pinned."""
    cards = doc.get(CARDS, type=pycrdt.Map)
    moves = moves or {}
    found = {}
    for key in list(cards.keys()):
        card = _card(key, cards.get(key))
        if card is None:
            continue
        move = moves.get(key)
        found[key] = card if move is None else Card(key, card.content, _bounded(move.x), _bounded(move.y), True)
    return found


def read_hints(doc: pycrdt.Doc, decisions: dict[str, Decision] | None = None) -> dict[str, Hint]:
    """Every well-formed hint, by id, with the group's decision (from the edits document) as its status."""
    hints = doc.get(HINTS, type=pycrdt.Map)
    decisions = decisions or {}
    found = {}
    for key in list(hints.keys()):
        entry = hints.get(key)
        if not isinstance(entry, pycrdt.Map):
            continue
        cards = entry.get("cards")
        if not isinstance(cards, list):
            continue
        legacy = entry.get("status")  # version 2 boards kept decisions on the board
        decision = decisions.get(key)
        status = decision.status if decision is not None else legacy if legacy in HintStatus.__members__.values() else "open"
        found[key] = Hint(key, str(entry.get("kind")), tuple(c for c in cards if isinstance(c, str))[:MAX_HINT_CARDS],
                          _number(entry.get("similarity")) or 0.0, HintStatus(status))
    return found


def layout_counter(doc: pycrdt.Doc, name: str) -> int:
    value = _number(doc.get(LAYOUT, type=pycrdt.Map).get(name))
    return int(value) if value is not None else 0


# -- writing (on the copy that Room.write_as_server hands over) ------------------------------------


def put_card(doc: pycrdt.Doc, content: CardContent, x: float, y: float, now_ms: int) -> None:
    """A new card, placed at (x, y) — or, if the card is there by now (another node placed it meanwhile), an update."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"refusing to place {content.id} at a non-finite position ({x}, {y})")
    if isinstance(doc.get(CARDS, type=pycrdt.Map).get(content.id), pycrdt.Map):
        update_card(doc, content)
        return
    doc.get(CARDS, type=pycrdt.Map)[content.id] = pycrdt.Map({
        "text": content.text[:MAX_TEXT], "kind": content.kind.value, "authors": list(content.authors[:MAX_AUTHORS]),
        "uses": content.uses, "people": content.people, "writers": list(content.writers[:MAX_WRITERS]),
        "x": round(_bounded(x), 2), "y": round(_bounded(y), 2), "placedAt": now_ms,
    })


def update_card(doc: pycrdt.Doc, content: CardContent) -> None:
    """Refresh what the server says of an existing card (its position is left alone)."""
    entry = doc.get(CARDS, type=pycrdt.Map).get(content.id)
    if not isinstance(entry, pycrdt.Map):
        return
    wanted = {"text": content.text[:MAX_TEXT], "authors": list(content.authors[:MAX_AUTHORS]),
              "uses": content.uses, "people": content.people, "writers": list(content.writers[:MAX_WRITERS])}
    for key, value in wanted.items():
        if entry.get(key) != value:
            entry[key] = value


def remove_cards(doc: pycrdt.Doc, ids: list[str]) -> None:
    cards = doc.get(CARDS, type=pycrdt.Map)
    for key in ids:
        if key in cards:
            del cards[key]


def move_cards(doc: pycrdt.Doc, positions: dict[str, tuple[float, float]]) -> None:
    """New positions from a refit (cards a person moved are not in `positions`)."""
    cards = doc.get(CARDS, type=pycrdt.Map)
    for key, (x, y) in positions.items():
        entry = cards.get(key)
        if isinstance(entry, pycrdt.Map) and math.isfinite(x) and math.isfinite(y):
            entry["x"], entry["y"] = round(_bounded(x), 2), round(_bounded(y), 2)


def sync_hints(doc: pycrdt.Doc, wanted: list[Hint], decisions: dict[str, Decision] | None = None) -> None:
    """Open hints become exactly `wanted`; hints the group decided (`decisions`, from the edits document) stay."""
    hints = doc.get(HINTS, type=pycrdt.Map)
    existing = read_hints(doc, decisions)
    wanted_ids = {hint.id for hint in wanted}
    for key, hint in existing.items():
        if hint.status is HintStatus.OPEN and key not in wanted_ids:
            del hints[key]
    for hint in wanted:
        if hint.id in existing:
            continue
        hints[hint.id] = pycrdt.Map({
            "kind": hint.kind, "cards": list(hint.cards[:MAX_HINT_CARDS]), "similarity": round(hint.similarity, 4),
        })


def count_layout(doc: pycrdt.Doc, *, placed: int, refitted: bool, now_ms: int) -> None:
    layout = doc.get(LAYOUT, type=pycrdt.Map)
    if refitted:
        layout["refits"] = layout_counter(doc, "refits") + 1
        layout["refitAt"] = now_ms
        layout["placedSinceRefit"] = 0
    elif placed:
        layout["placedSinceRefit"] = layout_counter(doc, "placedSinceRefit") + placed
