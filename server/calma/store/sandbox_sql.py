"""Sandbox rooms in the store of record: which exist, when each was last written, and deleting old ones.

The `sandbox_rooms` table (migration 13) lists every sandbox room (a room outside any study)
with the time of its last write, as `calma.access.sandbox` records it. Deleting a room removes
its update log and snapshot (`room_updates`, `room_snapshots`) with its row, in one
transaction, and only if it is still unwritten since the cutoff. Runs on either backend
(`SQLDatabase`); never touches a study room.
"""

from __future__ import annotations

from calma.store.sql import IntegrityViolation, SQLDatabase
from calma.studies.rooms import STUDY_ROOM_PREFIX


class SQLSandboxRooms:
    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    async def count(self) -> int:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT COUNT(*) AS n FROM sandbox_rooms")
        return 0 if row is None else int(row["n"])

    async def exists(self, room: str) -> bool:
        async with self._db.transaction(write=False) as tx:
            return await tx.one("SELECT room FROM sandbox_rooms WHERE room = ?", (room,)) is not None

    async def touch(self, room: str, now: float, *, max_rooms: int) -> bool:
        """Record a write to `room`: a known room's time moves on; a new room is added only while fewer
        than `max_rooms` exist (one guarded INSERT). False: the room is new and the cap is reached."""
        _refuse_study_room(room)
        try:
            async with self._db.transaction(write=True) as tx:
                if await tx.execute("UPDATE sandbox_rooms SET last_write_at = ? WHERE room = ?", (now, room)) == 1:
                    return True
                added = await tx.execute(
                    "INSERT INTO sandbox_rooms (room, created_at, last_write_at)"
                    " SELECT ?, ?, ? WHERE (SELECT COUNT(*) FROM sandbox_rooms) < ?",
                    (room, now, now, max_rooms),
                )
                return added == 1
        except IntegrityViolation as exc:
            if exc.unique:  # another node added it at the same moment: it exists
                return True
            raise

    async def unwritten_since(self, cutoff: float, limit: int = 100) -> list[str]:
        """Rooms whose last write is older than `cutoff`, oldest first."""
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                "SELECT room FROM sandbox_rooms WHERE last_write_at < ? ORDER BY last_write_at, room LIMIT ?",
                (cutoff, limit),
            )
        return [str(row["room"]) for row in rows]

    async def delete_if_unwritten_since(self, room: str, cutoff: float) -> bool:
        """Delete the room's log, snapshot and row, if it was not written since `cutoff`."""
        _refuse_study_room(room)
        async with self._db.transaction(write=True) as tx:
            if await tx.execute("DELETE FROM sandbox_rooms WHERE room = ? AND last_write_at < ?", (room, cutoff)) != 1:
                return False
            await tx.execute("DELETE FROM room_updates WHERE room = ?", (room,))
            await tx.execute("DELETE FROM room_snapshots WHERE room = ?", (room,))
        return True


def _refuse_study_room(room: str) -> None:
    if room.startswith(STUDY_ROOM_PREFIX):
        raise ValueError(f"{room!r} is a study room, never a sandbox room")
