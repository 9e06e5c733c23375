"""What a room may be told by its clients, beyond the bounded structural check of every update.

Owns the `UpdateGuard` protocol: a room whose document has a schema (a study group's
participant-writable board, say) gets a guard that decides, before anything is stored,
whether one client's update may change the document the way it does. The hub calls a
room's guard with the room's lock held, so a guard sees every update accepted before it
applied to `room.doc`. Guards are chosen per room name by the `GuardFactory` the
application gives the `RoomManager`; rooms without one accept any structurally valid update
from a connection with write permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from calma.hub.connection import Connection
    from calma.hub.room import Room


class UpdateGuard(Protocol):
    async def check(self, room: Room, connection: Connection, update: bytes) -> None:
        """Return if `connection` may apply `update` to `room.doc`; raise `RoomClosed` (with the
        code and a reason the client is shown) if not. `update` has passed the structural check."""
        ...


GuardFactory = Callable[[str], "UpdateGuard | None"]


def no_guards(room: str) -> UpdateGuard | None:
    """The default factory: no room has a guard."""
    return None
