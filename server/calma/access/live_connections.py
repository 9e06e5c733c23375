"""Open websockets by the credential that let them in, so that revoking it closes them.

A room or /live connection is authenticated once, at its handshake. Without this
registry a person signed out (a re-issued personal link, "sign out everywhere",
a revoked invite) would keep writing and chatting on the connections already open.
The authenticator registers every authenticated websocket under the keys of its
credential (`credential_keys`): its session (`session:<hash>`) and whose sessions
they are (`participant:<id>` / `facilitator:<id>`), or its invite (`invite:<id>`).
The paths that revoke a credential call `close(keys, reason)`: every connection
registered under one of the keys is asked to close with 4401 and the reason.

A websocket is held weakly: its entry goes when the connection object is gone,
so nobody has to unregister. Closing is only *asking* (each connection's sender
loop sends the close frame), so `close` never waits and never fails.

Limit: this is one node's registry. On a node other than the one that revoked the
credential (`calma cluster`, several nodes behind a load balancer) connections
stay open until they reconnect, when the handshake refuses them (4401).
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

Closer = Callable[[WebSocket, str], None]  # asks this websocket's connection to close with 4401 and a reason


def session_key(session_hash: str) -> str:
    return f"session:{session_hash}"


def invite_key(invite_id: str) -> str:
    return f"invite:{invite_id}"


def participant_sessions_key(participant_id: str) -> str:
    return f"participant:{participant_id}"


def facilitator_sessions_key(facilitator_id: str) -> str:
    return f"facilitator:{facilitator_id}"


@dataclass(frozen=True)
class _Entry:
    websocket: weakref.ref[WebSocket]
    keys: frozenset[str]
    closer: Closer


class LiveConnections:
    """One node's open, authenticated websockets, by credential key."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._by_key: dict[str, set[int]] = {}
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, websocket: WebSocket, keys: Iterable[str], closer: Closer) -> None:
        """Remember `websocket` under `keys` until it is gone; `closer` must not hold the websocket strongly."""
        keys = frozenset(keys)
        if not keys:
            return
        entry_id = next(self._ids)
        self._entries[entry_id] = _Entry(weakref.ref(websocket, lambda _: self._drop(entry_id)), keys, closer)
        for key in keys:
            self._by_key.setdefault(key, set()).add(entry_id)

    def close(self, keys: Iterable[str], reason: str) -> int:
        """Ask every connection registered under any of `keys` to close (4401, `reason`); how many were asked."""
        entry_ids: set[int] = set()
        for key in keys:
            entry_ids |= self._by_key.get(key, set())
        asked = 0
        for entry_id in entry_ids:
            entry = self._entries.get(entry_id)
            websocket = None if entry is None else entry.websocket()
            if entry is None or websocket is None:
                continue
            entry.closer(websocket, reason)
            asked += 1
        if asked:
            log.info("closed connections of a revoked credential", extra={"connections": asked, "reason": reason})
        return asked

    def _drop(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return
        for key in entry.keys:
            ids = self._by_key.get(key)
            if ids is not None:
                ids.discard(entry_id)
                if not ids:
                    del self._by_key[key]
