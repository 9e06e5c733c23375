"""The wire contract in shared_schema/ is the one the server speaks."""

from __future__ import annotations

import json

import pycrdt

from calma.canvas.board import CARDS, HINTS, LAYOUT, CardContent, CardKind, Hint, count_layout, hint_id, put_card, sync_hints
from calma.config import ROOM_NAME_PATTERN
from calma.hub.close_codes import CloseCode
from calma.hub.protocol import AwarenessEntry, ProtocolError, decode, decode_awareness, encode_awareness
from tests.helpers.server import REPO

SCHEMA = REPO / "shared_schema"


def test_close_codes_match_the_schema() -> None:
    codes = json.loads((SCHEMA / "close_codes.json").read_text())["codes"]
    assert {int(code): entry["name"] for code, entry in codes.items()} == {int(c): c.name for c in CloseCode}


def test_the_room_name_pattern_is_documented() -> None:
    codes = json.loads((SCHEMA / "close_codes.json").read_text())["codes"]
    assert ROOM_NAME_PATTERN in codes["4404"]["reason"]
    assert ROOM_NAME_PATTERN in (SCHEMA / "room-protocol.md").read_text()


def test_board_types_are_declared() -> None:
    board = json.loads((SCHEMA / "board.json").read_text())
    assert board["types"]["labels"]["kind"] == "Y.Array"
    assert set(board["types"]["labels"]["items"]["fields"]) == {"id", "text", "author", "createdAt"}


def test_the_server_writes_canvas_cards_and_hints_with_exactly_the_schema_fields() -> None:
    board = json.loads((SCHEMA / "board.json").read_text())
    doc = pycrdt.Doc()
    content = CardContent("fair to everyone", CardKind.LABEL, ("Ana",))
    put_card(doc, content, 1.5, -2.0, now_ms=1)
    sync_hints(doc, [Hint(hint_id("group", ["c-1", "c-2"]), "group", ("c-1", "c-2"), 0.8)])
    count_layout(doc, placed=1, refitted=True, now_ms=1)
    card = doc.get(CARDS, type=pycrdt.Map)[content.id]
    assert set(card.keys()) == set(board["types"][CARDS]["items"]["fields"])
    assert board["types"][CARDS]["items"]["fields"]["kind"]["enum"] == [kind.value for kind in CardKind]
    hint = next(iter(doc.get(HINTS, type=pycrdt.Map).values()))
    assert set(hint.keys()) == set(board["types"][HINTS]["items"]["fields"])
    assert set(doc.get(LAYOUT, type=pycrdt.Map).keys()) == set(board["types"][LAYOUT]["fields"])


def test_awareness_round_trips() -> None:
    entries = [AwarenessEntry(7, 3, '{"user":{"name":"Ana"}}'), AwarenessEntry(2**40, 0, "null")]
    frame = encode_awareness(entries)
    message = decode(frame)
    assert decode_awareness(message.update) == entries  # type: ignore[union-attr]


def test_decoding_refuses_what_is_not_one_message() -> None:
    for frame in (b"", b"\x00", b"\x00\x00\x05ab", b"\x03\x00", b"\x80"):
        try:
            decode(frame)
        except ProtocolError:
            continue
        raise AssertionError(f"{frame!r} decoded")
