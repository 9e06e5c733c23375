"""Open websockets by the credential that let them in, so that revoking it closes them.

A room or /live connection is authenticated once, at its handshake. Without this
registry a person signed out (a re-issued personal link, "sign out everywhere",
a revoked invite) would keep writing and chatting on the connections already open.
The authenticator registers every authenticated websocket under the keys of its
credential (`credential_keys`): its session (`session:<hash>`) and whose sessions
they are (`participant:<id>` / `facilitator:<id>`), or its invite (`invite:<id>`).
The paths that revoke a credential call `revoke(keys, reason)`: every connection
registered under one of the keys is asked to close with 4401 and the reason.

A websocket is held weakly: its entry goes when the connection object is gone,
so nobody has to unregister. Closing is only *asking* (each connection's sender
loop sends the close frame), so `close` never waits and never fails.

With `--redis`, a revocation is also published on a Redis channel every node
listens to (`RedisRevocations`), so the other nodes close theirs at once too.
A notice can be missed (Redis away), and `calma admin reset-password` runs in
another process: both are covered by `run`: every
`recheck_credentials_s` (default 30 s) each node asks the store whether the
sessions and invites of its open websockets are still live, and closes those
that are not. So a revoked credential's connections end at once on its node and
within that interval everywhere.
"""

from __future__ import annotations

import itertools
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

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


class Relay(Protocol):
    async def publish(self, keys: list[str], reason: str) -> None:
        """Tell every other node to close the connections under `keys`; never raises (the recheck is the net)."""
        ...


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
        self._relay: Relay | None = None

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

    def relay_to(self, relay: Relay) -> None:
        """Tell the other nodes of every revocation from now on (`RedisRevocations`)."""
        self._relay = relay

    async def revoke(self, keys: Iterable[str], reason: str) -> None:
        """A credential was revoked: close its connections here, and tell the other nodes to close theirs."""
        keys = list(keys)
        self.close(keys, reason)
        if self._relay is not None:
            await self._relay.publish(keys, reason)

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


MAX_NOTICE_BYTES = 4096  # a revocation notice names a few keys and a short reason


class RedisRevocations:
    """Revocations between nodes over one Redis pub/sub channel: `publish` tells, `run` listens and closes."""

    CHANNEL = "calma:revoked"

    def __init__(self, url: str, *, reconnect_s: float = 0.5) -> None:
        import redis.asyncio as redis  # imported only by nodes that use Redis
        from redis.exceptions import RedisError

        self._redis = redis.from_url(url)
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._reconnect_s = reconnect_s

    async def publish(self, keys: list[str], reason: str) -> None:
        try:
            await self._redis.publish(self.CHANNEL, json.dumps({"keys": keys, "reason": reason}))
        except self._errors as exc:
            log.error("could not tell the other nodes of a revocation; their recheck closes the connections",
                      extra={"error": str(exc)})  # fmt: skip

    async def run(
        self, connections: LiveConnections, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Close here what other nodes revoke, until cancelled; resubscribe after Redis comes back."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.CHANNEL)  # at startup, a Redis that does not answer is an error
            task_status.started()
            while True:
                try:
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._apply(connections, message.get("data"))
                except self._errors as exc:
                    log.error("revocation notices from other nodes are missed until Redis is back",
                              extra={"error": str(exc)})  # fmt: skip
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()
                pubsub = await self._subscribe_again()
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()
                await self._redis.aclose()

    async def _subscribe_again(self) -> Any:
        while True:
            await anyio.sleep(self._reconnect_s)  # back off between attempts while Redis is away
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.CHANNEL)
            except self._errors:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()
                continue
            return pubsub

    @staticmethod
    def _apply(connections: LiveConnections, data: object) -> None:
        """Close what a notice names; a notice that is not one is logged and ignored."""
        try:
            if not isinstance(data, bytes | str) or len(data) > MAX_NOTICE_BYTES:
                raise ValueError("not a notice of at most 4 KiB")
            notice = json.loads(data)
            keys, reason = notice["keys"], notice["reason"]
            if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys) and isinstance(reason, str)):
                raise ValueError("keys must be strings and the reason a string")
        except (ValueError, KeyError, TypeError) as exc:
            log.error("ignored a malformed revocation notice", extra={"error": str(exc)})
            return
        connections.close(keys, reason[:120])
