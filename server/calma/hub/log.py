"""A room's update log: where updates become durable, and the order every node applies them in.

Owns the contract between a room and its persistence. `LocalLog` (one node)
makes updates durable in the store of record with group commit and delivers
them in the same step; the Redis log (`calma.hub.redis_log`, many nodes) makes
them durable in a Redis stream and delivers what every node appended, in
stream order. Either way a room applies and relays an update only when its log
delivers it, which is only after it is durable.
"""

from __future__ import annotations

from typing import Protocol

from calma.store import GroupCommit, RoomRecord, Store


class RoomFeed(Protocol):
    """What a room gives its log: where durable updates and other nodes' presence go."""

    def deliver(self, update_id: int, update: bytes, origin: object | None) -> None:
        """A durable update, in log order; `origin` is the local connection that sent it, if any."""

    def remote_awareness(self, update: bytes) -> None:
        """An awareness update relayed from another node."""

    def awareness_query(self) -> None:
        """Another node has just opened the room: share the presence of this node's connections."""


class RoomLog(Protocol):
    async def open(self, room: str, feed: RoomFeed) -> RoomRecord:
        """What the room is rebuilt from; from now on durable updates of `room` go to `feed`."""

    def close(self, room: str, feed: RoomFeed) -> None:
        """Stop feeding `feed` (its room is unloaded from this node; a newer feed of the same room stays)."""

    async def append(self, room: str, update: bytes, origin: object | None) -> None:
        """Make `update` durable. It reaches the room's feed only after it is."""

    async def fold(self, room: str, snapshot: bytes, upto: int, pending: int) -> int | None:
        """Replace the log up to `upto` with `snapshot`; None if another node is doing it this round."""

    async def share_awareness(self, room: str, update: bytes) -> None:
        """Send this node's presence changes to the room's other nodes (nothing to do on one node)."""


class LocalLog:
    """One node: the store of record is the log, and delivery happens right after group commit."""

    def __init__(self, store: Store, commit: GroupCommit) -> None:
        self._store = store
        self._commit = commit
        self._feeds: dict[str, RoomFeed] = {}

    async def open(self, room: str, feed: RoomFeed) -> RoomRecord:
        record = await self._store.load_room(room)
        self._feeds[room] = feed
        return record

    def close(self, room: str, feed: RoomFeed) -> None:
        if self._feeds.get(room) is feed:
            del self._feeds[room]

    async def append(self, room: str, update: bytes, origin: object | None) -> None:
        feed = self._feeds[room]
        await self._commit.append(room, update, lambda update_id: feed.deliver(update_id, update, origin))

    async def fold(self, room: str, snapshot: bytes, upto: int, pending: int) -> int | None:
        return await self._store.write_snapshot(room, snapshot, upto)

    async def share_awareness(self, room: str, update: bytes) -> None:
        return None
