"""The control channel: the `/live` websocket and the server-authored control documents.

Owns the control-channel frames (built from shared_schema/control.json), their
validation, rate limiting, the `/live` route, and the per-session control
document (`study-<study>.group-<group>.control`) with the state machine that
turns facilitator commands into changes of it; and the study watchers
(`calma.live.watch`: a study's progress pushed to its facilitator after
`study.watch`). Writes that document only through `Room.write_as_server`; uses the hub only through `RoomManager`
(acquire/release), `Room.write_as_server` and reading `Room.doc`. Does not
decide who a connection is: a `LiveAuthenticator` (from the access layer)
does, from a session cookie or a signed token only.
"""

from calma.live.channel import LiveChannel, live_route
from calma.live.codes import LiveClosed, LiveCloseCode
from calma.live.principal import LiveAuthenticator, NoLiveAccess, Principal, Role
from calma.live.room_access import ReadOnlyControlRooms, is_control_room

__all__ = [
    "LiveAuthenticator",
    "LiveChannel",
    "LiveClosed",
    "LiveCloseCode",
    "NoLiveAccess",
    "Principal",
    "ReadOnlyControlRooms",
    "Role",
    "is_control_room",
    "live_route",
]
