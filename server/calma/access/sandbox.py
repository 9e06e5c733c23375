"""Sandbox rooms (rooms outside any study, the demo page's): when they are open, and their limits.

Owns the policy for anonymous rooms; study rooms never come here.

- **Open or closed.** `sandbox_default(host)`: open by default only when the server listens on
  loopback; on any other address they are closed unless `--sandbox-rooms` turns them on. A
  loopback server may still be the internet's, behind a reverse proxy on the same host (nginx,
  Caddy): so when they are on only by that default, a handshake that came through a proxy (it
  carries `X-Forwarded-For` or `Forwarded`) is refused as if they were off (4401 without
  credentials, 4403 with them); `--sandbox-rooms` opens them to proxied clients too
  (`SandboxRooms.admits`). `calma cluster` gives its nodes `--no-sandbox-rooms` unless its router
  listens on loopback (then `--sandbox-rooms`: the router is a proxy) or it is told `--sandbox-rooms`.
- **How many.** At most `max_rooms` sandbox rooms exist at once (`sandbox_rooms` in the store
  of record, `calma.store.sandbox_sql`). A handshake for a new room beyond the cap closes with
  4429; so does the first write that would add one (the write is the real check: several new
  rooms may be admitted at once, only `max_rooms` can be written).
- **How big.** A write that would make a room larger than `max_room_bytes` closes with 4413,
  before it is stored (`SandboxGuard`, the hub's `UpdateGuard` for sandbox rooms).
- **How fast.** Each client address (IPv6: its /64) may write `write_bytes_per_s` to sandbox
  rooms, in bursts of up to `BURST_SECONDS` worth (a token bucket per address, in memory on
  each node); beyond it the connection closes with 4429.
- **How long.** A room unwritten for `lifetime_s` is deleted, log and snapshot, by a periodic
  sweep (`SandboxRooms.run`, a task in the server's task group) unless it is loaded on this
  node. With `--redis` the rooms' streams live in Redis and are not swept: turn sandbox rooms on
  with `--redis` only for demos (`calma cluster` does so only when its router listens on loopback).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus

from calma.access.addresses import client_network
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.config import Settings
from calma.hub.guard import GuardFactory, UpdateGuard, no_guards
from calma.store import StoreError
from calma.store.sandbox_sql import SQLSandboxRooms
from calma.store.sql import SQLDatabase
from calma.studies.rooms import is_study_room

if TYPE_CHECKING:
    from calma.hub.connection import Connection
    from calma.hub.room import Room
    from calma.hub.rooms import RoomManager

log = logging.getLogger(__name__)

BURST_SECONDS = 16  # an address may write this many seconds' worth at once (64 KiB/s: 1 MiB, a whole room)
MAX_TRACKED_ADDRESSES = 10_000  # write buckets kept in memory; full (idle) ones are forgotten first


def sandbox_default(host: str) -> bool:
    """Whether sandbox rooms are on when nobody says: only for a server that listens on loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def came_through_proxy(headers: Mapping[str, str]) -> bool:
    """Whether a request says it was forwarded by a proxy (header names are case-insensitive here)."""
    return "x-forwarded-for" in headers or "forwarded" in headers


@dataclass(frozen=True)
class SandboxLimits:
    max_rooms: int = 100
    max_room_bytes: int = 1024 * 1024
    lifetime_s: float = 24 * 3600.0
    write_bytes_per_s: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.max_rooms < 1 or self.max_room_bytes < 1 or self.write_bytes_per_s < 1:
            raise ValueError("sandbox room limits must be at least 1")
        if self.lifetime_s <= 0:
            raise ValueError("the sandbox room lifetime must be positive")

    @property
    def write_burst_bytes(self) -> int:
        return self.write_bytes_per_s * BURST_SECONDS

    @property
    def sweep_interval_s(self) -> float:
        """How often old rooms are looked for: a quarter of the lifetime, at most every 5 minutes."""
        return max(0.2, min(300.0, self.lifetime_s / 4))


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class SandboxRooms:
    """The sandbox policy of one node: admission, the write guard, and the sweep of old rooms."""

    def __init__(
        self,
        store: SQLSandboxRooms,
        limits: SandboxLimits,
        *,
        sweep: bool = True,
        proxied: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.limits = limits
        self._sweep = sweep
        self._proxied = proxied  # whether handshakes that came through a proxy are let in (`--sandbox-rooms`)
        self._clock = clock
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._touched: dict[str, float] = {}  # room -> when this node last recorded a write (monotonic)
        self._deleting: set[str] = set()

    # -- admission (the room authorizer) ----------------------------------

    def admits(self, headers: Mapping[str, str]) -> bool:
        """Whether a handshake with these headers may use sandbox rooms at all: not one that came through a
        proxy (`X-Forwarded-For` or `Forwarded`) unless sandbox rooms were turned on explicitly."""
        return self._proxied or not came_through_proxy(headers)


    async def admit(self, room: str) -> None:
        """Let a handshake into a sandbox room, unless it is new and the cap is reached (4429)."""
        if room in self._deleting:
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "this sandbox room is being deleted; reconnect to start afresh")
        if room in self._touched or await self._store.exists(room):
            return
        if await self._store.count() >= self.limits.max_rooms:
            raise RoomClosed(CloseCode.ROOM_FULL, self._full_reason())

    # -- writes (the hub's guard) -----------------------------------------

    def guards(self, inner: GuardFactory) -> GuardFactory:
        """A guard factory: sandbox rooms get this policy's guard, study rooms whatever `inner` gives."""
        guard = SandboxGuard(self)

        def choose(room: str) -> UpdateGuard | None:
            return inner(room) if is_study_room(room) else guard

        return choose

    async def check_write(self, room: Room, connection: Connection, size: int, applies: Callable[[], None]) -> None:
        """Refuse a write that would make the room too big (4413), that goes faster than its address may
        (4429), that does not apply to the document (4400, `applies` raises), or that would add a room
        beyond the cap (4429); else record it."""
        if room.byte_size + size > self.limits.max_room_bytes:
            raise RoomClosed(
                CloseCode.DOCUMENT_TOO_LARGE, f"a sandbox room holds at most {self.limits.max_room_bytes} bytes"
            )
        client = connection.websocket.client
        self._take(client_network(None if client is None else client.host), size)
        applies()
        await self._record_write(room.name)

    def _take(self, key: str, size: int) -> None:
        """Spend `size` bytes from the address's bucket, or refuse (4429) and spend nothing."""
        now = self._monotonic()
        rate, burst = self.limits.write_bytes_per_s, self.limits.write_burst_bytes
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_ADDRESSES:
                self._forget_full_buckets(now)
            bucket = self._buckets[key] = _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if size > bucket.tokens:
            raise RoomClosed(
                CloseCode.ROOM_FULL, f"writing to sandbox rooms faster than {rate} bytes/s from one address; slow down"
            )
        bucket.tokens -= size

    def _forget_full_buckets(self, now: float) -> None:
        rate, burst = self.limits.write_bytes_per_s, self.limits.write_burst_bytes
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * rate >= burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED_ADDRESSES:  # nobody idle: the oldest go (they start full again)
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: MAX_TRACKED_ADDRESSES // 10]:
                del self._buckets[key]

    async def _record_write(self, room: str) -> None:
        """Keep the room's last-write time (at most every tenth of its lifetime per node); add a new room
        under the cap (4429 beyond it)."""
        now = self._monotonic()
        last = self._touched.get(room)
        if last is not None and now - last < self.limits.lifetime_s / 10:
            return
        try:
            added = await self._store.touch(room, self._clock(), max_rooms=self.limits.max_rooms)
        except StoreError as exc:
            log.error("could not record a sandbox room's write", extra={"room": room, "error": str(exc)})
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "could not store the update; reconnect to retry") from exc
        if not added:
            raise RoomClosed(CloseCode.ROOM_FULL, self._full_reason())
        self._touched[room] = now

    def _full_reason(self) -> str:
        return f"this server already holds its maximum of {self.limits.max_rooms} sandbox rooms; try an existing one"

    # -- the sweep --------------------------------------------------------

    async def run(
        self, rooms: Callable[[], RoomManager], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Delete rooms unwritten for the lifetime, every `sweep_interval_s`, until cancelled."""
        task_status.started()
        if not self._sweep:
            log.warning("sandbox rooms are not swept with --redis: their streams live in Redis")
            return
        while True:
            await anyio.sleep(self.limits.sweep_interval_s)
            try:
                await self.sweep_once(rooms())
            except StoreError as exc:  # the store is down for now: the next pass tries again
                log.error("could not sweep old sandbox rooms", extra={"error": str(exc)})

    async def sweep_once(self, rooms: RoomManager) -> int:
        """One pass: delete every room unwritten for the lifetime that is not loaded here; how many."""
        cutoff = self._clock() - self.limits.lifetime_s
        deleted = 0
        for room in await self._store.unwritten_since(cutoff):
            if rooms.get_loaded(room) is not None:
                continue  # someone is in it (or just left): it goes in a later pass
            self._deleting.add(room)
            try:
                if rooms.get_loaded(room) is None and await self._store.delete_if_unwritten_since(room, cutoff):
                    deleted += 1
                    self._touched.pop(room, None)
            finally:
                self._deleting.discard(room)
        if deleted:
            log.info("old sandbox rooms deleted", extra={"count": deleted, "lifetime_s": self.limits.lifetime_s})
        self._forget_full_buckets(self._monotonic())
        return deleted


def sandbox_rooms_for(settings: Settings, store: object) -> SandboxRooms | None:
    """The node's sandbox policy over the store of record, or None when sandbox rooms are off."""
    if not settings.sandbox_rooms:
        return None
    if not isinstance(store, SQLDatabase):
        raise TypeError(f"sandbox rooms need a SQL store of record, not {type(store).__name__}")
    limits = SandboxLimits(
        max_rooms=settings.sandbox_max_rooms,
        max_room_bytes=settings.sandbox_max_room_bytes,
        lifetime_s=settings.sandbox_room_lifetime_s,
        write_bytes_per_s=settings.sandbox_write_bytes_per_s,
    )
    return SandboxRooms(
        SQLSandboxRooms(store), limits, sweep=settings.redis_url is None, proxied=settings.sandbox_rooms_explicit
    )


def sandbox_guards(sandbox: SandboxRooms | None, inner: GuardFactory = no_guards) -> GuardFactory:
    """The rooms' guards: `inner`'s, with the sandbox guard on sandbox rooms when they are on."""
    return inner if sandbox is None else sandbox.guards(inner)


class SandboxGuard:
    """The hub's `UpdateGuard` for sandbox rooms: size, write rate and room cap, before anything is stored.

    Like the hub does for unguarded rooms, it applies the update to a copy of the document first: Yrs
    refuses some updates that decode only while integrating them, and one stored would break every load."""

    def __init__(self, policy: SandboxRooms) -> None:
        self._policy = policy

    async def check(self, room: Room, connection: Connection, update: bytes) -> None:
        await self._policy.check_write(room, connection, len(update), lambda: room.try_update(update))
