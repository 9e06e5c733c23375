"""Trying a client's update on a copy of a room's document before it is stored.

Owns `apply_to_copy`: the second check every client update passes (after the
bounded walk of `calma.hub.update_check`). Yrs refuses some updates that decode
only while integrating them (a parent that is not a shared type, say), and an
update that depends on changes the room does not have stays *pending* inside
Yrs, to integrate — or fail — later, unchecked. Either kind, once stored, would
break the room at every load; both are refused here, before the store sees
them. The copy includes the updates this node accepted but has not applied yet
(with Redis, an append returns before the update is read back), so a client's
quick succession of edits is not mistaken for a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pycrdt

from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.protocol import ProtocolError, Reader


def state_vector(encoded: bytes) -> dict[int, int]:
    """A v1 state vector as client id → next clock."""
    reader = Reader(encoded)
    state = {}
    for _ in range(reader.var_uint()):
        client = reader.var_uint()
        state[client] = reader.var_uint()
    reader.expect_end()
    return state


def _left_over(update: bytes, copy: pycrdt.Doc) -> str | None:
    """What of `update` the copy it was applied to did not integrate, or None. (The state vector of an update
    names only clients whose structs start at clock 0, so the update's diff against the copy's state tells.)"""
    state = copy.get_state()
    reader = Reader(pycrdt.get_update(update, state))
    if reader.var_uint():
        return "it depends on changes this room does not have (pending)"
    have = state_vector(state)
    for _ in range(reader.var_uint()):
        client = reader.var_uint()
        for _ in range(reader.var_uint()):
            clock, length = reader.var_uint(), reader.var_uint()
            if have.get(client, 0) < clock + length:
                return "it deletes what this room does not have (pending)"
    reader.expect_end()
    return None


def apply_to_copy(
    doc: pycrdt.Doc,
    update: bytes,
    *,
    unapplied: Iterable[bytes] = (),
    prepare: Callable[[pycrdt.Doc], object] | None = None,
) -> pycrdt.Doc:
    """A copy of `doc` (and of the `unapplied` updates already accepted) with a client's `update` applied.

    `prepare` runs on the copy before the update (a guard subscribes to its changes there). Raises
    RoomClosed (4400) when Yrs refuses to integrate the update, or when it would leave anything pending.
    """
    copy = pycrdt.Doc()
    copy.apply_update(doc.get_update())
    for accepted in unapplied:
        copy.apply_update(accepted)
    if prepare is not None:
        prepare(copy)
    try:
        copy.apply_update(update)
    except Exception as exc:  # Yrs reports integration failures as ValueError or RuntimeError
        raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update does not apply to this document: {exc}") from exc
    try:
        problem = _left_over(update, copy)
    except (ProtocolError, ValueError) as exc:
        raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update does not decode: {exc}") from exc
    if problem is not None:
        raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update refused: {problem}")
    return copy
