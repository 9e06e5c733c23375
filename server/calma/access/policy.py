"""The privacy rules: who may see and change which records and rooms.

- A facilitator sees and changes only the studies they own (and, with a token
  limited to one study, only that one).
- A participant sees their study, their own group, their own record and
  progress, and the study's shared content; nothing of other groups, other
  participants or other studies.
- An observer sees their study and group and writes nothing.

What a principal may not see does not exist for them (the API answers 404);
what they may see but not change is forbidden (403).
"""

from __future__ import annotations

from calma.access.principal import Principal
from calma.hub.connection import Permission
from calma.studies.model import Group, Participant, Stage, Study
from calma.studies.rooms import RoomKind, StudyRoom


def may_create_studies(principal: Principal) -> bool:
    return principal.is_facilitator and principal.study_id is None


def sees_study(principal: Principal, study: Study) -> bool:
    if principal.is_facilitator:
        return study.owner_id == principal.facilitator_id and principal.study_id in (None, study.id)
    return principal.study_id == study.id


def manages_study(principal: Principal, study: Study) -> bool:
    return principal.is_facilitator and sees_study(principal, study)


def sees_group(principal: Principal, study: Study, group: Group) -> bool:
    if group.study_id != study.id or not sees_study(principal, study):
        return False
    return principal.is_facilitator or principal.group_id == group.id


def sees_participant(principal: Principal, study: Study, participant: Participant) -> bool:
    if participant.study_id != study.id or not sees_study(principal, study):
        return False
    return principal.is_facilitator or principal.participant_id == participant.id


def may_move_to(principal: Principal, study: Study, current: Stage, target: Stage) -> bool:
    """Facilitators move anyone to any stage of the study; participants themselves, to a stage of the study
    that is open for them (`calma.familiarize.gating`, checked by the caller with the participant's records)."""
    if target not in study.content.stage_order:
        return False
    return principal.is_facilitator or principal.is_participant


def room_permission(
    principal: Principal,
    room: StudyRoom,
    study: Study | None,
    group: Group | None,
    participant: Participant | None,
) -> Permission | None:
    """The permission in a study room, or None if the principal may not enter it.

    `study`, `group` and `participant` are the records the room name refers to
    (None where they do not exist). The control document and the board are
    read-only for every client, the facilitator included: only the server writes
    them (`Room.write_as_server`). What people change on a board (card moves,
    hint decisions, definitions) goes to the group's `edits` room, writable by
    the facilitator and the group's participants, each update checked by its guard.
    """
    if study is None or group is None or group.study_id != study.id or not sees_study(principal, study):
        return None
    if room.kind is RoomKind.PRIVATE:
        if participant is None or participant.group_id != group.id or participant.study_id != study.id:
            return None
    server_authored = room.kind in (RoomKind.CONTROL, RoomKind.BOARD)
    writable = Permission.READ_ONLY if server_authored else Permission.READ_WRITE
    if principal.is_facilitator:
        return writable
    if principal.group_id != group.id:
        return None
    if principal.is_observer:
        return None if room.kind is RoomKind.PRIVATE else Permission.READ_ONLY
    if room.kind is RoomKind.PRIVATE and (participant is None or participant.id != principal.participant_id):
        return None
    return writable
