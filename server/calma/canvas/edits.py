"""The group's edits document (shared_schema/board.json `edits`, version 3): what people change on a board.

Three top-level Y.Maps: `moves` (card id → {x, y, movedBy}: where someone put a
card; a card with a move is pinned), `hints` (hint id → {status, decidedBy}: the
group's decisions on the server's suggestions) and `definitions` (attribute id →
Y.Text, created by the server, edited by the group in segment 4). The limits
are read from the schema file. `problems` checks a whole document against the
schema (the guard refuses an update whose result has any); the readers skip
entries that do not fit all the same; the writers are the server's, run inside
`Room.write_as_server`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pycrdt

# A wheel carries shared_schema/ inside the package; a checkout reads the repo's.
_PACKAGED = Path(__file__).resolve().parents[1] / "_shared_schema" / "board.json"
SCHEMA_PATH = _PACKAGED if _PACKAGED.is_file() else Path(__file__).resolve().parents[3] / "shared_schema" / "board.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["edits"]

MOVES, HINTS, DEFINITIONS = "moves", "hints", "definitions"
NAMES = (MOVES, HINTS, DEFINITIONS)
_TYPES = SCHEMA["types"]
MAX_BYTES = int(SCHEMA["maxBytes"])
MAX_BYTES_PER_PERSON = int(SCHEMA["maxBytesPerPerson"])
MAX_COORDINATE = float(SCHEMA["maxCoordinate"])
MAX_NAME = int(SCHEMA["maxName"])
MAX_DEFINITION = int(_TYPES[DEFINITIONS]["value"]["maxLength"])
KEY_PATTERNS = {name: re.compile(_TYPES[name]["keyPattern"]) for name in NAMES}
MAX_ENTRIES = {name: int(_TYPES[name]["maxEntries"]) for name in NAMES}
MOVE_FIELDS = frozenset(_TYPES[MOVES]["value"]["fields"])
HINT_FIELDS = frozenset(_TYPES[HINTS]["value"]["fields"])
HINT_STATUSES = tuple(_TYPES[HINTS]["value"]["fields"]["status"]["enum"])


@dataclass(frozen=True)
class Move:
    x: float
    y: float
    moved_by: str


@dataclass(frozen=True)
class Decision:
    status: str  # open, accepted or dismissed
    decided_by: str


def _coordinate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) <= MAX_COORDINATE else None


def move_of(value: Any) -> Move | None:
    """A `moves` value as a Move, or None when it does not fit the schema exactly."""
    if not isinstance(value, dict) or set(value) != MOVE_FIELDS:
        return None
    x, y, by = _coordinate(value.get("x")), _coordinate(value.get("y")), value.get("movedBy")
    if x is None or y is None or not isinstance(by, str) or len(by) > MAX_NAME:
        return None
    return Move(x, y, by)


def decision_of(value: Any) -> Decision | None:
    """A `hints` value as a Decision, or None when it does not fit the schema exactly."""
    if not isinstance(value, dict) or set(value) != HINT_FIELDS:
        return None
    status, by = value.get("status"), value.get("decidedBy")
    if status not in HINT_STATUSES or not isinstance(by, str) or len(by) > MAX_NAME:
        return None
    return Decision(status, by)


def problems(doc: pycrdt.Doc) -> str | None:
    """What in the whole document breaks the schema (the first thing found), or None if nothing does."""
    unknown = sorted(set(doc.keys()) - set(NAMES))
    if unknown:
        return f"unknown top-level name {unknown[0][:40]!r}"
    for name in NAMES:
        entries = doc.get(name, type=pycrdt.Map)
        keys = list(entries.keys())
        if len(keys) > MAX_ENTRIES[name]:
            return f"{name}: more than {MAX_ENTRIES[name]} entries"
        for key in keys:
            if KEY_PATTERNS[name].fullmatch(key) is None:
                return f"{name}: key {key[:40]!r} does not match {KEY_PATTERNS[name].pattern}"
            value = entries.get(key)
            if name == MOVES and move_of(value) is None:
                return f"moves[{key}] must be {{x, y, movedBy}} with finite |x|, |y| <= {MAX_COORDINATE:g}"
            if name == HINTS and decision_of(value) is None:
                return f"hints[{key}] must be {{status, decidedBy}} with status one of {list(HINT_STATUSES)}"
            if name == DEFINITIONS:
                if not isinstance(value, pycrdt.Text):
                    return f"definitions[{key}] must be a Y.Text"
                if len(str(value)) > MAX_DEFINITION:
                    return f"definitions[{key}] is longer than {MAX_DEFINITION} characters"
    return None


# -- reading (skips what does not fit) --------------------------------------------------------------


T = TypeVar("T")


def _read(doc: pycrdt.Doc, name: str, parse: Callable[[Any], T | None]) -> dict[str, T]:
    """The entries of the top-level map `name` that `parse` accepts, by key; the others are skipped."""
    entries = doc.get(name, type=pycrdt.Map)
    found = {}
    for key in list(entries.keys()):
        value = parse(entries.get(key))
        if value is not None:
            found[key] = value
    return found


def _definition_of(value: Any) -> str | None:
    return str(value)[:MAX_DEFINITION] if isinstance(value, pycrdt.Text) else None


def read_moves(doc: pycrdt.Doc) -> dict[str, Move]:
    return _read(doc, MOVES, move_of)


def read_decisions(doc: pycrdt.Doc) -> dict[str, Decision]:
    return _read(doc, HINTS, decision_of)


def read_definitions(doc: pycrdt.Doc) -> dict[str, str]:
    return _read(doc, DEFINITIONS, _definition_of)


# -- writing (the server's, on the copy that Room.write_as_server hands over) -----------------------


def ensure_definition(doc: pycrdt.Doc, attribute_id: str, text: str) -> None:
    """The attribute's Y.Text, created with `text` if it has none yet."""
    definitions = doc.get(DEFINITIONS, type=pycrdt.Map)
    if not isinstance(definitions.get(attribute_id), pycrdt.Text):
        definitions[attribute_id] = pycrdt.Text(text[:MAX_DEFINITION])


def replace_definition(doc: pycrdt.Doc, attribute_id: str, text: str) -> None:
    """The attribute's text becomes `text` (a facilitator's change after the session, say)."""
    definitions = doc.get(DEFINITIONS, type=pycrdt.Map)
    current = definitions.get(attribute_id)
    if not isinstance(current, pycrdt.Text):
        definitions[attribute_id] = pycrdt.Text(text[:MAX_DEFINITION])
        return
    if str(current) != text:
        del current[0:len(current)]
        current.insert(0, text[:MAX_DEFINITION])


def forget_cards(doc: pycrdt.Doc, card_ids: list[str]) -> None:
    """Cards that left the board take their moves with them."""
    moves = doc.get(MOVES, type=pycrdt.Map)
    for key in card_ids:
        if key in moves:
            del moves[key]


def forget_hints(doc: pycrdt.Doc, hint_ids: list[str]) -> None:
    hints = doc.get(HINTS, type=pycrdt.Map)
    for key in hint_ids:
        if key in hints:
            del hints[key]
