"""One live room: its Yjs document, its connections, presence and compaction.

Every document update is validated, made durable through group commit, and
only then applied to the room's document and relayed to the other
connections. The room is served only after it has been rebuilt from the store.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import anyio
import pycrdt

from calma.config import RoomLimits
from calma.hub.awareness import MAX_AWARENESS_DEPTH, AwarenessRelay, awareness_state_ok
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.connection import Connection
from calma.hub.guard import UpdateGuard
from calma.hub.trial import apply_to_copy, state_vector
from calma.hub.update_check import UpdateRefused, check_state_vector, check_update
from calma.hub.protocol import (
    AuthMessage,
    AwarenessMessage,
    Message,
    ProtocolError,
    QueryAwarenessMessage,
    SyncMessage,
    SyncType,
    decode_awareness,
    encode_auth_denied,
    encode_awareness,
    encode_awareness_update,
    encode_sync,
)
from calma.observability import metrics
from calma.hub.log import RoomLog
from calma.store import StoreError

log = logging.getLogger(__name__)

EMPTY_UPDATE = b"\x00\x00"
# Presence budget per room: 15 people get a relay every 50 ms; 1,500 get one every 300 ms.
AWARENESS_FRAMES_PER_S = 5000


def _new_client_id() -> int:
    """A random Yjs client id that a JavaScript client can hold (53 bits)."""
    return secrets.randbits(53)


class Room:
    """A board room loaded in memory on this node."""

    def __init__(
        self,
        name: str,
        *,
        log: RoomLog,
        limits: RoomLimits,
        compact_after_updates: int,
        awareness_interval_s: float,
        idle_s: float,
        guard: UpdateGuard | None = None,
    ) -> None:
        self.name = name
        self.doc = pycrdt.Doc()
        self.connections: set[Connection] = set()
        self.holders = 0
        self.ready = anyio.Event()
        self.load_error: Exception | None = None
        self.byte_size = 0
        self.updates_since_snapshot = 0
        self.last_applied_id = 0
        self.snapshot_upto = 0
        self._log = log
        self._limits = limits
        self._compact_after = compact_after_updates
        self._awareness_interval_s = awareness_interval_s
        self._idle_s = idle_s
        self._awareness = AwarenessRelay()
        self._awareness_changed = anyio.Event()
        self._compaction_wanted = anyio.Event()
        self._activity = anyio.Event()
        self._broken: Exception | None = None
        self._guard = guard
        self._guard_lock = anyio.Lock()
        # Client updates this node stored but has not applied yet (with Redis, until read back): trials include them.
        self._unapplied: dict[bytes, int] = {}
        # The server writes under one client id per room and node (a fresh id per write would grow every state
        # vector without end), one write at a time so that no two writes take the same clock.
        self._server_client_id = _new_client_id()
        self._server_write_lock = anyio.Lock()

    # -- lifecycle -------------------------------------------------------

    async def run(self, unregister: Callable[[], None]) -> None:
        """Load, then serve until idle for `idle_s` (or broken), then unregister and compact."""
        try:
            await self._load()
        except Exception as exc:
            log.error("room failed to load", extra={"room": self.name, "error": str(exc)}, exc_info=True)
            self.load_error = exc
            self._log.close(self.name, self)
            unregister()
            self.ready.set()
            return
        self.ready.set()
        metrics.ROOMS.inc()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._relay_awareness)
                tg.start_soon(self._compact_when_wanted)
                await self._serve_until_idle()
                unregister()  # no await since the idle check: nobody can join this instance now
                tg.cancel_scope.cancel()
            if self._broken is None and self.updates_since_snapshot > 0:
                await self.compact()
        finally:
            self._log.close(self.name, self)
            metrics.ROOMS.dec()

    async def _load(self) -> None:
        record = await self._log.open(self.name, self)
        # Stored bytes pass the same bounded walk as a client's before Yrs decodes them: a row written before
        # the walk existed (or by hand) makes this room fail to load, never the process crash.
        stored = ([record.snapshot] if record.snapshot is not None else []) + [u for _, u in record.updates]
        for update in stored:
            try:
                check_update(update, self._limits.updates.scaled_for(len(update)))
            except ProtocolError as exc:
                raise StoreError(f"room {self.name!r} holds an update that fails the check: {exc}") from exc
        try:
            if record.snapshot is not None:
                self.doc.apply_update(record.snapshot)
            if record.updates:
                self.doc.apply_update(pycrdt.merge_updates(*(u for _, u in record.updates)))
        except Exception as exc:  # ValueError or RuntimeError from Yrs
            raise StoreError(f"room {self.name!r} holds an update that does not apply: {exc}") from exc
        self.snapshot_upto = record.snapshot_upto
        self.last_applied_id = record.last_id
        self.byte_size = record.byte_size
        self.updates_since_snapshot = len(record.updates)
        if self.updates_since_snapshot >= self._compact_after:
            self._compaction_wanted.set()
        log.info(
            "room loaded",
            extra={"room": self.name, "updates_replayed": len(record.updates), "bytes": record.byte_size},
        )

    async def _serve_until_idle(self) -> None:
        while self._broken is None:
            activity = self._activity
            if self.holders == 0:
                with anyio.move_on_after(self._idle_s):
                    await activity.wait()
                if not activity.is_set() and self.holders == 0:
                    return
            else:
                await activity.wait()
            if activity.is_set():
                self._activity = anyio.Event()

    def hold(self) -> None:
        self.holders += 1
        self._activity.set()

    def release(self) -> None:
        self.holders -= 1
        self._activity.set()

    def close_everyone(self, closed: RoomClosed) -> None:
        for connection in list(self.connections):
            connection.close(closed)

    def _break(self, exc: Exception) -> None:
        """The in-memory document can no longer be trusted: close everyone; the next join reloads."""
        log.error("room broken; closing its connections", extra={"room": self.name, "error": str(exc)})
        self._broken = exc
        self.close_everyone(RoomClosed(CloseCode.INTERNAL_ERROR, "room failed; reconnect to reload it"))
        self._activity.set()

    # -- connections -----------------------------------------------------

    def join(self, connection: Connection) -> None:
        if self._broken is not None:
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "room failed; reconnect to reload it")
        if len(self.connections) >= self._limits.max_connections_per_room:
            raise RoomClosed(
                CloseCode.ROOM_FULL, f"room already has {self._limits.max_connections_per_room} connections"
            )
        self.connections.add(connection)
        connection.send(encode_sync(SyncType.STEP1, self.doc.get_state()))
        present = self._awareness.current()
        if present:
            connection.send(encode_awareness(present))

    def leave(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if connection.awareness_ids:
            self._awareness.remove(connection.awareness_ids)
            self._awareness_changed.set()

    async def handle(self, connection: Connection, message: Message) -> None:
        """Act on one decoded message from a connection; raise RoomClosed to end it."""
        if isinstance(message, SyncMessage):
            if message.kind is SyncType.STEP1:
                self._answer_step1(connection, message.payload)
            else:
                await self._receive_update(connection, message.payload)
        elif isinstance(message, AwarenessMessage):
            self._receive_awareness(connection, message.update)
        elif isinstance(message, QueryAwarenessMessage):
            present = self._awareness.current()
            if present:
                connection.send(encode_awareness(present))
        elif isinstance(message, AuthMessage):
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, "auth messages are sent by the server only")

    def _answer_step1(self, connection: Connection, state_vector: bytes) -> None:
        try:
            check_state_vector(state_vector, self._limits.updates)
            diff = self.doc.get_update(state_vector)
        except (ProtocolError, ValueError) as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"bad state vector in sync step 1: {exc}") from exc
        connection.send(encode_sync(SyncType.STEP2, diff))

    async def _receive_update(self, connection: Connection, update: bytes) -> None:
        if update == EMPTY_UPDATE:
            return
        if connection.read_only:
            metrics.UPDATES_DROPPED_READONLY.inc()
            if not connection.told_read_only:
                connection.told_read_only = True
                connection.send(encode_auth_denied("read-only connection: document updates are dropped"))
            return
        try:
            # Bounded and iterative, before any byte reaches Yrs; types the room holds may be echoed back.
            check_update(update, self._limits.updates, known=state_vector(self.doc.get_state()))
        except UpdateRefused as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update refused: {exc}") from exc
        except ProtocolError as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update does not decode: {exc}") from exc
        try:
            pycrdt.get_state(update)
        except ValueError as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"update does not decode: {exc}") from exc
        if self.byte_size + len(update) > self._limits.max_document_bytes:
            raise RoomClosed(
                CloseCode.DOCUMENT_TOO_LARGE,
                f"update would make the document exceed {self._limits.max_document_bytes} bytes",
            )
        if self._guard is None:
            self.try_update(update)
            await self._store_update(update, connection)
            return
        async with self._guard_lock:  # the guard sees every update accepted before this one
            await self._guard.check(self, connection, update)
            await self._store_update(update, connection)

    def try_update(self, update: bytes, *, prepare: Callable[[pycrdt.Doc], object] | None = None) -> pycrdt.Doc:
        """This document, with the updates accepted but not applied yet and then `update`, as a copy
        (`calma.hub.trial.apply_to_copy`: raises RoomClosed if the update fails or leaves anything pending)."""
        return apply_to_copy(self.doc, update, unapplied=list(self._unapplied), prepare=prepare)

    async def _store_update(self, update: bytes, connection: Connection) -> None:
        self._unapplied[update] = self._unapplied.get(update, 0) + 1
        try:
            await self._log.append(self.name, update, connection)
        except StoreError as exc:
            self._forget_unapplied(update)
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "could not store the update; reconnect to retry") from exc

    def _forget_unapplied(self, update: bytes) -> None:
        count = self._unapplied.pop(update, 0)
        if count > 1:
            self._unapplied[update] = count - 1

    async def write_as_server(self, change: Callable[[pycrdt.Doc], None]) -> bytes:
        """Make a change as the server (e.g. to a server-authored control document), durably.

        `change` runs on a copy of the document; the update it produces goes the
        same way as a client's: stored first, then applied here and relayed to
        every connection. Returns the update (empty if the change did nothing).
        """
        async with self._server_write_lock:
            client_id = self._server_client_id
            copy = pycrdt.Doc(client_id=client_id)
            copy.apply_update(self.doc.get_update())
            updates: list[bytes] = []
            subscription = copy.observe(lambda event: updates.append(event.update))
            try:
                with copy.transaction():
                    change(copy)
            finally:
                copy.unobserve(subscription)
            if not updates:
                return b""
            update = pycrdt.merge_updates(*updates) if len(updates) > 1 else updates[0]
            written_upto = state_vector(copy.get_state()).get(client_id, 0)
            await self._log.append(self.name, update, None)
            if state_vector(self.doc.get_state()).get(client_id, 0) < written_upto:
                # Not applied here yet (a slow read-back from Redis): the next write must not take the same clocks.
                self._server_client_id = _new_client_id()
            return update

    def deliver(self, update_id: int, update: bytes, origin: object | None) -> None:
        """The log delivers a durable update, in log order: apply it, then relay it."""
        if update in self._unapplied:
            self._forget_unapplied(update)
        try:
            self.doc.apply_update(update)
        except Exception as exc:  # ValueError or RuntimeError from Yrs: the document can no longer be trusted
            self._break(exc)
            return
        self.last_applied_id = update_id
        self.byte_size += len(update)
        self.updates_since_snapshot += 1
        metrics.UPDATES.inc()
        frame = encode_sync(SyncType.UPDATE, update)
        for connection in self.connections:
            if connection is not origin:
                connection.send(frame)
        if self.updates_since_snapshot >= self._compact_after:
            self._compaction_wanted.set()

    def awareness_query(self) -> None:
        """Another node opened this room: share the presence of everyone connected here."""
        self._awareness.mark_local(self._local_awareness_ids())
        self._awareness_changed.set()

    def _local_awareness_ids(self) -> set[int]:
        return {client_id for connection in self.connections for client_id in connection.awareness_ids}

    def remote_awareness(self, update: bytes) -> None:
        """Presence changes from this room's connections on other nodes."""
        try:
            entries = decode_awareness(update)
        except ProtocolError as exc:
            log.error("bad awareness update from another node", extra={"room": self.name, "error": str(exc)})
            return
        if self._awareness.merge(entries, local=False):
            self._awareness_changed.set()

    def _receive_awareness(self, connection: Connection, update: bytes) -> None:
        try:
            entries = decode_awareness(update)
        except ProtocolError as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"bad awareness update: {exc}") from exc
        limit = self._limits.max_awareness_state_bytes
        for entry in entries:
            if len(entry.state) > limit:
                raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"awareness state exceeds {limit} bytes")
            if not awareness_state_ok(entry.state):
                raise RoomClosed(
                    CloseCode.MALFORMED_MESSAGE,
                    f"awareness state must be a JSON object nested at most {MAX_AWARENESS_DEPTH} levels, or null",
                )
        for entry in self._awareness.merge(entries):
            if entry.state == "null":
                connection.awareness_ids.discard(entry.client_id)
            else:
                connection.awareness_ids.add(entry.client_id)
        if self._awareness.has_changes():
            self._awareness_changed.set()

    # -- background work -------------------------------------------------

    async def _relay_awareness(self) -> None:
        """Relay merged presence to everyone, at most once per interval."""
        while True:
            await self._awareness_changed.wait()
            self._awareness_changed = anyio.Event()
            local = self._awareness.take_local_changes()
            if local:
                await self._log.share_awareness(self.name, encode_awareness_update(local))
            changes = self._awareness.take_changes()
            if changes:
                frame = encode_awareness(changes)
                for connection in self.connections:
                    connection.send(frame)
                metrics.AWARENESS_RELAYS.inc()
            await anyio.sleep(self.awareness_interval())

    def awareness_interval(self) -> float:
        """Seconds between presence relays: the configured interval, stretched in big rooms so
        presence costs at most AWARENESS_FRAMES_PER_S outgoing frames per second per room."""
        return max(self._awareness_interval_s, len(self.connections) / AWARENESS_FRAMES_PER_S)

    async def _compact_when_wanted(self) -> None:
        while True:
            await self._compaction_wanted.wait()
            self._compaction_wanted = anyio.Event()
            await self.compact()

    async def compact(self) -> None:
        """Fold the update log into a snapshot of the document as applied so far.

        The snapshot and the id it covers are taken together, with no await in
        between, so updates committed later keep their log rows.
        """
        upto = self.last_applied_id
        if upto <= self.snapshot_upto:
            return
        snapshot = self.doc.get_update()
        previous = (self.byte_size, self.updates_since_snapshot)
        self.byte_size = len(snapshot)
        self.updates_since_snapshot = 0
        try:
            folded = await self._log.fold(self.name, snapshot, upto, previous[1])
        except StoreError as exc:
            log.error("compaction failed; the log stays as it is", extra={"room": self.name, "error": str(exc)})
            self.byte_size += previous[0] - len(snapshot)
            self.updates_since_snapshot += previous[1]
            return
        if folded is None:  # another node folded this round; our snapshot still measured the document
            return
        self.snapshot_upto = upto
        metrics.COMPACTIONS.inc()
        log.info("room compacted", extra={"room": self.name, "folded": folded, "snapshot_bytes": len(snapshot)})
