"""The guard of a group's edits room: every client update is checked for what it does before it is stored.

The update is applied to a copy of the room's document, never to the document
itself (`Room.try_update`, which already refuses, with 4400, an update that
fails to integrate or leaves anything pending). It is refused (the connection
closes with EDIT_REFUSED, 4422, or DOCUMENT_TOO_LARGE, 4413, naming what was
refused) when:

- the resulting document breaks the schema (`calma.canvas.edits.problems`);
- the document would grow past `edits.MAX_BYTES`, or this person's additions
  past `edits.MAX_BYTES_PER_PERSON` (counted while the room is loaded);
- it changes what this connection may not: a move or decision for a card or
  hint that is not on the board, someone else's name in `movedBy`/`decidedBy`,
  removing a move or a decision, adding, replacing or removing a definition
  (the server creates them), editing a definition that is not an active
  attribute's, or editing any definition while the group's live session is not
  in segment 4 (`discuss`). Observers never get here (their connections are read-only).

The board and control documents are read from this node's rooms (acquired and
released here): the board says which cards, hints and attributes exist; the
control document says the segment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pycrdt

from calma.canvas import edits
from calma.canvas.board import CARDS, HINTS
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.connection import Connection
from calma.hub.guard import GuardFactory, UpdateGuard
from calma.hub.room import Room
from calma.hub.rooms import RoomManager
from calma.live.control_state import control_room_name, read_state
from calma.studies.rooms import RoomKind, StudyRoom, parse_study_room
from calma.studies.text import unstorable

ATTRIBUTES = "attributes"  # the board's map of group attributes (shared_schema/board.json)
EDITING_SEGMENT = "discuss"  # segment 4: the only one in which definitions change


def _refused(reason: str) -> RoomClosed:
    return RoomClosed(CloseCode.EDIT_REFUSED, reason)


class EditsGuard:
    """One edits room's guard (the hub calls `check` under the room's lock, so checks never overlap)."""

    def __init__(self, room: StudyRoom, rooms: Callable[[], RoomManager]) -> None:
        self._study = room.study_id
        self._group = room.group_id
        self._rooms = rooms
        self._added: dict[str, int] = {}  # identity key → bytes this person added (while the room is loaded)

    async def check(self, room: Room, connection: Connection, update: bytes) -> None:
        who = connection.identity
        if who.role not in ("participant", "facilitator"):
            raise RoomClosed(CloseCode.FORBIDDEN, "only the group and its facilitator change the board")
        before_bytes = len(room.doc.get_update())
        events: list[tuple[str, Any]] = []

        subscriptions: list[object] = []  # held while the update applies; the copy is thrown away after

        def collect_events(copy: pycrdt.Doc) -> None:
            for name in edits.NAMES:
                subscriptions.append(copy.get(name, type=pycrdt.Map).observe_deep(
                    lambda found, *_, name=name: events.extend((name, event) for event in found)))

        copy = room.try_update(update, prepare=collect_events)  # refuses what fails or leaves anything pending
        problem = edits.problems(copy)
        if problem is not None:
            raise _refused(f"refused: {problem}")
        after = len(copy.get_update())
        if after > edits.MAX_BYTES:
            raise RoomClosed(CloseCode.DOCUMENT_TOO_LARGE, f"the edits document would exceed {edits.MAX_BYTES} bytes")
        grown = self._added.get(who.key, 0) + max(0, after - before_bytes)
        if grown > edits.MAX_BYTES_PER_PERSON:
            raise RoomClosed(CloseCode.DOCUMENT_TOO_LARGE,
                             f"you have added {edits.MAX_BYTES_PER_PERSON} bytes to this board already")
        await self._allowed(connection, events)
        self._added[who.key] = grown

    async def _allowed(self, connection: Connection, events: list[tuple[str, Any]]) -> None:
        """The changes themselves: each one must be this connection's to make."""
        name_of = connection.identity.name[:edits.MAX_NAME]  # names are kept to MAX_NAME characters (clients cut them too)
        board = None
        edited: set[str] = set()
        for name, event in events:
            path = list(event.path)
            if name == edits.DEFINITIONS:
                if path:
                    for op in getattr(event, "delta", None) or []:
                        if "insert" in op and (not isinstance(op["insert"], str) or op.get("attributes")):
                            raise _refused("refused: definitions hold plain text only")
                        if "insert" in op and (problem := unstorable(op["insert"])) is not None:
                            raise _refused(f"refused: a definition {problem}"[:120])  # it is stored when rated
                    edited.add(str(path[0]))
                    continue
                raise _refused("refused: definitions are created and removed by the server only")
            if path:  # values of moves and hints are plain objects: nothing nested can change
                raise _refused(f"refused: {name} entries are replaced whole")
            for key, change in event.keys.items():
                if change.get("action") == "delete":
                    raise _refused(f"refused: {name}[{key}] may not be removed")
                value = change.get("newValue")
                by = value.get("movedBy" if name == edits.MOVES else "decidedBy") if isinstance(value, dict) else None
                reopened = name == edits.HINTS and isinstance(value, dict) and value.get("status") == "open"
                if by != name_of and not (reopened and by == ""):
                    raise _refused(f"refused: {name}[{key}] must carry your own name")
                board = board if board is not None else await self._board_keys()
                if key not in board[CARDS if name == edits.MOVES else HINTS]:
                    raise _refused(f"refused: {key} is not on the board")
        if edited:
            board = board if board is not None else await self._board_keys()
            inactive = sorted(edited - board[ATTRIBUTES])
            if inactive:
                raise _refused(f"refused: {inactive[0]} is not an active attribute")
            segment = await self._segment()
            if segment != EDITING_SEGMENT:
                raise _refused(f"refused: definitions are edited in segment 4 only; the session is in {segment!r}")

    async def _board_keys(self) -> dict[str, set[str]]:
        """Which cards, hints and active attributes the board holds now."""
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.board(self._study, self._group).name)
        try:
            doc = room.doc
            attributes = doc.get(ATTRIBUTES, type=pycrdt.Map)
            active = set()
            for key in list(attributes.keys()):
                entry = attributes.get(key)
                if isinstance(entry, pycrdt.Map) and entry.get("status") == "active":
                    active.add(key)
            return {CARDS: set(doc.get(CARDS, type=pycrdt.Map).keys()),
                    HINTS: set(doc.get(HINTS, type=pycrdt.Map).keys()), ATTRIBUTES: active}
        finally:
            rooms.release(room)

    async def _segment(self) -> str:
        rooms = self._rooms()
        room = await rooms.acquire(control_room_name(self._study, self._group))
        try:
            return str(read_state(room.doc)["segment"])
        finally:
            rooms.release(room)


def edits_guards(rooms: Callable[[], RoomManager]) -> GuardFactory:
    """The application's guard factory: every study group's edits room gets an EditsGuard."""

    def guard_for(name: str) -> UpdateGuard | None:
        parsed = parse_study_room(name)
        if parsed is None or parsed.kind is not RoomKind.EDITS:
            return None
        return EditsGuard(parsed, rooms)

    return guard_for
