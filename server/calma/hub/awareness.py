"""Presence for one room: the latest awareness state of every client id, merged.

Owns which states are current and which changed since the last relay. Holding
only the newest state per client id is what lets a room relay presence at a
bounded rate however often clients send it.
"""

from __future__ import annotations

import json

from calma.hub.protocol import AwarenessEntry
from calma.hub.update_check import json_depth

REMOVED = "null"
MAX_AWARENESS_DEPTH = 8  # presence is {user: {name, color}, canvasView: {x, y, zoom}}: two levels


def awareness_state_ok(state: str) -> bool:
    """Whether a client's awareness state may be relayed: null, or a JSON object nested at most
    MAX_AWARENESS_DEPTH levels. Stock clients parse every state of an update at once, so one bad
    state would hide everyone's presence from newcomers."""
    if state == REMOVED:
        return True
    if json_depth(state, MAX_AWARENESS_DEPTH) > MAX_AWARENESS_DEPTH:
        return False
    try:
        value = json.loads(state)
    except ValueError:
        return False
    return isinstance(value, dict)


class AwarenessRelay:
    """Merges awareness entries by client id and clock, as Yjs's awareness protocol does."""

    def __init__(self) -> None:
        self._clocks: dict[int, int] = {}
        self._states: dict[int, AwarenessEntry] = {}
        self._dirty: dict[int, AwarenessEntry] = {}
        self._local_dirty: dict[int, AwarenessEntry] = {}

    def merge(self, entries: list[AwarenessEntry], *, local: bool = True) -> list[AwarenessEntry]:
        """Apply entries; return those that were newer than what the room knew.

        Local entries (from this node's connections) are also kept for sharing with other nodes.
        """
        accepted = []
        for entry in entries:
            known = self._clocks.get(entry.client_id)
            newer = known is None or entry.clock > known
            removal_at_same_clock = (
                known == entry.clock and entry.state == REMOVED and entry.client_id in self._states
            )
            if not (newer or removal_at_same_clock):
                continue
            self._clocks[entry.client_id] = entry.clock
            if entry.state == REMOVED:
                self._states.pop(entry.client_id, None)
            else:
                self._states[entry.client_id] = entry
            self._dirty[entry.client_id] = entry
            if local:
                self._local_dirty[entry.client_id] = entry
            accepted.append(entry)
        return accepted

    def remove(self, client_ids: set[int]) -> None:
        """Mark clients as gone (their connection closed), as a newer 'null' state."""
        for client_id in client_ids:
            if client_id in self._states:
                clock = self._clocks[client_id] + 1
                self.merge([AwarenessEntry(client_id, clock, REMOVED)])

    def take_changes(self) -> list[AwarenessEntry]:
        changes = list(self._dirty.values())
        self._dirty.clear()
        return changes

    def mark_local(self, client_ids: set[int]) -> None:
        """Share these clients' current states with other nodes again (one of them just arrived)."""
        for client_id in client_ids:
            entry = self._states.get(client_id)
            if entry is not None:
                self._local_dirty[client_id] = entry

    def take_local_changes(self) -> list[AwarenessEntry]:
        changes = list(self._local_dirty.values())
        self._local_dirty.clear()
        return changes

    def has_changes(self) -> bool:
        return bool(self._dirty)

    def current(self) -> list[AwarenessEntry]:
        return list(self._states.values())
