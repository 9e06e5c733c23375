"""The store interface every backend (SQLite: `sqlite.py`; PostgreSQL: `postgres.py`) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class StoreError(RuntimeError):
    """The store could not do what was asked; the message says what and why."""


@dataclass(frozen=True)
class AppendRequest:
    room: str
    update: bytes


@dataclass(frozen=True)
class RoomRecord:
    """What a room is rebuilt from: the latest snapshot, then the updates after it, in order."""

    snapshot: bytes | None
    snapshot_upto: int
    updates: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def last_id(self) -> int:
        return self.updates[-1][0] if self.updates else self.snapshot_upto

    @property
    def byte_size(self) -> int:
        return len(self.snapshot or b"") + sum(len(u) for _, u in self.updates)


class Store(Protocol):
    """A durable, ordered log of updates per room, with snapshots that replace a prefix of it."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    async def close(self) -> None:
        """Release connections; pending work is finished first."""

    async def append_batch(self, requests: list[AppendRequest]) -> list[int]:
        """Durably append all requests in one transaction; return their ids in order.

        Ids increase with append order within a room. Nothing is visible or
        returned before the transaction has committed.
        """

    async def load_room(self, room: str) -> RoomRecord:
        """The snapshot and every later update of a room (an empty record for a new room)."""

    async def write_snapshot(self, room: str, snapshot: bytes, upto_id: int) -> int:
        """Replace the room's snapshot with one that includes every update up to `upto_id`.

        In the same transaction, delete those updates. Updates with larger ids
        are untouched. Returns how many updates were folded in.
        """

    async def check(self) -> None:
        """Raise StoreError unless the store answers a trivial query."""
