"""The rooms this node serves: created on first join, loaded once, unloaded when idle."""

from __future__ import annotations

import logging

import anyio
from anyio.abc import TaskGroup

from calma.config import Settings
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.guard import GuardFactory, no_guards
from calma.hub.room import Room
from calma.hub.log import RoomLog

log = logging.getLogger(__name__)


class RoomManager:
    """Hands out loaded rooms; each room's lifetime is a task in the manager's task group."""

    def __init__(
        self, settings: Settings, log: RoomLog, task_group: TaskGroup, *, guards: GuardFactory = no_guards
    ) -> None:
        self._settings = settings
        self._guards = guards
        self._log = log
        self._task_group = task_group
        self._rooms: dict[str, Room] = {}
        self._holders = 0
        self._all_released = anyio.Event()

    def __len__(self) -> int:
        return len(self._rooms)

    def get_loaded(self, name: str) -> Room | None:
        return self._rooms.get(name)

    async def acquire(self, name: str) -> Room:
        """The room, loaded from the store; the caller must `release` it."""
        room = self._rooms.get(name)
        if room is None:
            room = Room(
                name,
                log=self._log,
                limits=self._settings.limits,
                compact_after_updates=self._settings.compact_after_updates,
                awareness_interval_s=self._settings.awareness_interval_s,
                idle_s=self._settings.room_idle_s,
                guard=self._guards(name),
            )
            self._rooms[name] = room
            self._task_group.start_soon(room.run, lambda: self._unregister(room), name=f"room:{name}")
        room.hold()
        self._holders += 1
        await room.ready.wait()
        if room.load_error is not None:
            self.release(room)
            raise RoomClosed(CloseCode.INTERNAL_ERROR, "room could not be loaded from the store")
        return room

    def release(self, room: Room) -> None:
        room.release()
        self._holders -= 1
        if self._holders == 0:
            self._all_released.set()
            self._all_released = anyio.Event()

    async def close_everyone(self, closed: RoomClosed, timeout_s: float) -> None:
        """Close every connection with `closed`'s code and reason; wait (bounded) until all are gone."""
        for room in list(self._rooms.values()):
            room.close_everyone(closed)
        if self._holders == 0:
            return
        with anyio.move_on_after(timeout_s):
            await self._all_released.wait()

    def _unregister(self, room: Room) -> None:
        if self._rooms.get(room.name) is room:
            del self._rooms[room.name]
