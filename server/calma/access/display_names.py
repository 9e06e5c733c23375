"""Display names people choose when they join: normalised, and told apart within their group.

Owns `claim_name`: the name as it is stored (`calma.studies.text.display_name`)
and the rule that no two participants of a group have names that look alike
(one `name_skeleton`): "Ana", "ana", "Ána", "Аna" (Cyrillic А) and "Ana​" (a
zero-width space) are one name on a screen, so the second is refused with
`NameTaken` and the person picks another, rather than being renamed behind
their back. Within one process the check and the creation of the participant
are one step per group (a lock); nodes of a cluster share no lock, so two
look-alike joins on two nodes in the same instant can both pass.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from calma.studies.store import StudyStore
from calma.studies.text import display_name, name_skeleton

MAX_DISPLAY_NAME = 80

_group_locks: weakref.WeakValueDictionary[tuple[str, str], anyio.Lock] = weakref.WeakValueDictionary()


class NameTaken(Exception):
    """Someone in the group already goes by this name, or by one that looks the same."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"someone in this group already goes by “{name}” or a name that looks the same;"
            " choose another (add an initial or your family name, for example)"
        )
        self.name = name


def normalized(chosen: str) -> str:
    """The name as stored and shown (ValueError if nothing usable is left)."""
    return display_name(chosen, MAX_DISPLAY_NAME)


@asynccontextmanager
async def claim_name(
    store: StudyStore, study_id: str, group_id: str, chosen: str, *, holder_invite: str | None = None
) -> AsyncIterator[str]:
    """Yield the normalised name while no other join of this group (in this process) can claim a look-alike;
    create the participant inside. NameTaken if a participant of the group has a look-alike name, except one
    made through `holder_invite` (a personal invite's holder, opening it twice at once, is not someone else)."""
    name = normalized(chosen)
    key = (study_id, group_id)
    lock = _group_locks.get(key)
    if lock is None:
        lock = _group_locks[key] = anyio.Lock()
    async with lock:
        skeleton = name_skeleton(name)
        for participant in await store.participants_of(study_id, group_id):
            if participant.invite_id is not None and participant.invite_id == holder_invite:
                continue
            if name_skeleton(participant.display_name) == skeleton:
                raise NameTaken(name)
        yield name
