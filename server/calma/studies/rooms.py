"""How study rooms are named: `study-<studyId>.group-<groupId>.<kind>`.

Kinds: `board` (the group's shared board: server-authored, read-only for every
client), `edits` (the small participant-writable document beside it: card
moves, hint decisions, definitions being edited; every update checked by
`calma.canvas.edits_guard`), `control` (the server-authored control document;
read-only for every client) and `p-<participantId>` (one participant's private
documents). Every other room name is a *sandbox* room,
outside any study. Names stay within the hub's room-name pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

STUDY_ROOM_PREFIX = "study-"
STUDY_ROOM_FORMAT = "study-<studyId>.group-<groupId>.(board|edits|control|p-<participantId>)"
_STUDY_ROOM = re.compile(r"^study-([0-9a-f]{16})\.group-([0-9a-f]{16})\.(board|edits|control|p-([0-9a-f]{16}))$")


class RoomKind(StrEnum):
    BOARD = "board"
    EDITS = "edits"
    CONTROL = "control"
    PRIVATE = "private"


@dataclass(frozen=True)
class StudyRoom:
    study_id: str
    group_id: str
    kind: RoomKind
    participant_id: str | None = None  # set for PRIVATE rooms only

    @property
    def name(self) -> str:
        suffix = f"p-{self.participant_id}" if self.kind is RoomKind.PRIVATE else self.kind.value
        return f"study-{self.study_id}.group-{self.group_id}.{suffix}"

    @classmethod
    def board(cls, study_id: str, group_id: str) -> StudyRoom:
        return cls(study_id, group_id, RoomKind.BOARD)

    @classmethod
    def edits(cls, study_id: str, group_id: str) -> StudyRoom:
        return cls(study_id, group_id, RoomKind.EDITS)

    @classmethod
    def control(cls, study_id: str, group_id: str) -> StudyRoom:
        return cls(study_id, group_id, RoomKind.CONTROL)

    @classmethod
    def private(cls, study_id: str, group_id: str, participant_id: str) -> StudyRoom:
        return cls(study_id, group_id, RoomKind.PRIVATE, participant_id)


def is_study_room(name: str) -> bool:
    """Whether the name claims to be a study room (it may still be malformed)."""
    return name.startswith(STUDY_ROOM_PREFIX)


def parse_study_room(name: str) -> StudyRoom | None:
    """The study room a name stands for, or None if it is not a well-formed study room name."""
    match = _STUDY_ROOM.fullmatch(name)
    if match is None:
        return None
    study_id, group_id, kind, participant_id = match.groups()
    if participant_id is not None:
        return StudyRoom.private(study_id, group_id, participant_id)
    return StudyRoom(study_id, group_id, RoomKind(kind))
