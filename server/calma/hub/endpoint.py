"""The `/rooms/{room}` websocket route: handshake, limits, and the receive loop."""

from __future__ import annotations

import logging

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from calma.config import RoomLimits
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.connection import Connection
from calma.hub.permissions import RoomAuthorizer
from calma.hub.protocol import ProtocolError, decode
from calma.hub.room import Room
from calma.hub.rooms import RoomManager
from calma.observability import metrics

log = logging.getLogger(__name__)


async def serve_room(websocket: WebSocket, rooms: RoomManager, authorizer: RoomAuthorizer, limits: RoomLimits) -> None:
    """Serve one client in one room until either side closes."""
    name = websocket.path_params["room"]
    await websocket.accept()
    try:
        if not limits.room_name_ok(name):
            raise RoomClosed(CloseCode.BAD_ROOM_NAME, f"room name must match {limits.room_name_pattern}")
        permission = await authorizer.authorize(websocket, name)
        room = await rooms.acquire(name)
    except RoomClosed as closed:
        metrics.CLOSES.labels(code=str(int(closed.code))).inc()
        log.info("refused connection", extra={"room": name[:200], "code": int(closed.code), "reason": closed.reason})
        await websocket.close(code=int(closed.code), reason=closed.reason)
        return
    connection = Connection(websocket, permission, max_outbox_bytes=limits.max_outbox_bytes)
    metrics.CONNECTIONS.inc()
    try:
        room.join(connection)
        async with anyio.create_task_group() as tg:

            async def send_then_stop() -> None:
                if await connection.run_sender():
                    tg.cancel_scope.cancel()  # we closed it: stop reading too

            tg.start_soon(send_then_stop)
            try:
                await _receive(websocket, connection, room, limits)
            except RoomClosed as closed:
                connection.close(closed)  # the sender sends the close frame, then stops the group
            else:
                tg.cancel_scope.cancel()
    except RoomClosed as closed:
        metrics.CLOSES.labels(code=str(int(closed.code))).inc()
        await websocket.close(code=int(closed.code), reason=closed.reason)
    finally:
        room.leave(connection)
        rooms.release(room)
        metrics.CONNECTIONS.dec()


async def _receive(websocket: WebSocket, connection: Connection, room: Room, limits: RoomLimits) -> None:
    """Read frames until the client disconnects; raise RoomClosed on a violation."""
    while True:
        try:
            event = await websocket.receive()
        except WebSocketDisconnect:
            return
        if event["type"] == "websocket.disconnect":
            return
        frame = event.get("bytes")
        if frame is None:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, "text frames are not part of the protocol; send binary")
        if len(frame) > limits.max_frame_bytes:
            raise RoomClosed(CloseCode.FRAME_TOO_LARGE, f"frame of {len(frame)} bytes exceeds {limits.max_frame_bytes}")
        try:
            message = decode(frame)
        except ProtocolError as exc:
            raise RoomClosed(CloseCode.MALFORMED_MESSAGE, f"malformed message: {exc}") from exc
        await room.handle(connection, message)
