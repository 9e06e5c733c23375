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

Closing at once works on the node that revoked the credential. Other nodes
(`calma cluster`, several nodes behind a load balancer) and `calma admin
reset-password` (another process) are covered by `run`: every
`recheck_credentials_s` (default 30 s) each node asks the store whether the
sessions and invites of its open websockets are still live, and closes those
that are not. So a revoked credential's connections end at once on its node and
within that interval everywhere.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus
from starlette.websockets import WebSocket

from calma.store import StoreError

log = logging.getLogger(__name__)

Closer = Callable[[WebSocket, str], None]  # asks this websocket's connection to close with 4401 and a reason


CHECKED_KINDS = ("session", "invite")  # keys that name one credential the store can be asked about


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

    def credentials(self) -> set[str]:
        """The keys of the single credentials (sessions, invites) open websockets were let in with."""
        return {key for key in self._by_key if key.partition(":")[0] in CHECKED_KINDS}

    async def run(
        self,
        still_live: Callable[[str], Awaitable[bool]],
        interval_s: float,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Every `interval_s`, close the connections whose credential the store no longer accepts; until
        cancelled. `still_live(key)` asks the store about one `credentials()` key."""
        task_status.started()
        while True:
            await anyio.sleep(interval_s)
            try:
                for key in self.credentials():
                    if not await still_live(key):
                        self.close([key], "signed out" if key.startswith("session:") else "this link no longer works")
            except StoreError as exc:  # the store is down for now: the next pass asks again
                log.error("could not recheck the credentials of open connections", extra={"error": str(exc)})

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
