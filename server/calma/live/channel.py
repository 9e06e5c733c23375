"""The `/live` websocket route: handshake, the receive loop with its limits, and what each frame does.

Every frame is size-checked (too big: close 1009), rate-limited (refused with
`rate_limited`; persistent abuse: close 4429), decoded and validated against
the schema; a bad frame gets an `error` frame and the connection stays open.
A connection affects others only through what its principal may do. The
principal is fixed at the handshake by the `LiveAuthenticator` (a session
cookie or a signed token; without one, 4401) and no frame can change it: chat
acts on the principal's own conversations, notifications and progress go to
the principal the connection proved to be.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pycrdt
from pydantic import BaseModel
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from calma.hub.close_codes import RoomClosed
from calma.hub.rooms import RoomManager
from calma.interact.service import ChatRefused, Chatter, InteractService, message_frame
from calma.live import metrics
from calma.live.codes import ErrorCode, LiveClosed, LiveCloseCode, Refused
from calma.live.connection import LiveConnection, SessionKey
from calma.live.control_state import apply_command
from calma.live.frames import decode_client_frame, error_frame
from calma.live.limits import LiveLimits
from calma.live.principal import LiveAuthenticator
from calma.live.rate_limit import FrameRateLimiter, Verdict
from calma.live.schema import CONTROL_SCHEMA
from calma.live.sessions import LiveSession, LiveSessions, server_time_ms
from calma.live.watch import ProgressSource, StudyWatchers
from calma.store import StoreError

log = logging.getLogger(__name__)

CHAT_FRAMES = frozenset({"chat.send", "chat.stop", "chat.regenerate"})
MAX_PROGRESS_SNAPSHOT = int(CONTROL_SCHEMA.document["messages"]["progress.state"]["fields"]["participants"]["maxItems"])


# What follows from a stored command (study, group, the command), awaited before the sender's ack.
AfterCommand = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class LiveChannel:
    """The control channel of one app: its route, its open connections and its live sessions."""

    def __init__(
        self,
        rooms: Callable[[], RoomManager],
        authenticator: LiveAuthenticator,
        limits: LiveLimits | None = None,
        *,
        progress: ProgressSource | None = None,
        chat: Callable[[], InteractService] | None = None,
        after_command: AfterCommand | None = None,
        clock: Callable[[], int] = server_time_ms,
    ) -> None:
        self.limits = limits or LiveLimits()
        self.sessions = LiveSessions(rooms, clock)
        self.watchers = StudyWatchers()
        self._progress = progress
        self._chat = chat
        self._after_command = after_command
        self._authenticator = authenticator
        self._clock = clock
        self._connections: set[LiveConnection] = set()
        self._all_gone = anyio.Event()

    @property
    def route(self) -> WebSocketRoute:
        return WebSocketRoute(self.limits.path, self.serve)

    def notify_participant(self, participant: str, frame: dict[str, Any]) -> None:
        """Send a frame to every connection of one participant on this node."""
        for connection in list(self._connections):
            if connection.principal.participant == participant:
                connection.send(frame)

    def connection_of(self, websocket: WebSocket) -> LiveConnection | None:
        """The open connection on this websocket, if it is (still) served here."""
        for connection in self._connections:
            if connection.websocket is websocket:
                return connection
        return None

    async def close_everyone(self, closed: LiveClosed, timeout_s: float) -> None:
        """Close every /live connection with `closed`'s code and reason; wait (bounded) until all are gone."""
        for connection in list(self._connections):
            connection.close(closed)
        if not self._connections:
            return
        with anyio.move_on_after(timeout_s):
            await self._all_gone.wait()

    # -- one connection --------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        """Serve one /live client until either side closes."""
        await websocket.accept()
        principal = await self._authenticator.authenticate(websocket)
        if principal is None:
            code = LiveCloseCode.UNAUTHORIZED
            metrics.CLOSES.labels(code=str(int(code))).inc()
            await websocket.close(code=int(code), reason=str(CONTROL_SCHEMA.close_codes[int(code)]["reason"]))
            return
        connection = LiveConnection(websocket, principal, max_outbox_bytes=self.limits.max_outbox_bytes)
        self._connections.add(connection)
        metrics.CONNECTIONS.inc()
        try:
            connection.send(
                {
                    "type": "hello",
                    "protocol": CONTROL_SCHEMA.protocol,
                    "server_time": self._clock(),
                    "principal": principal.as_frame(),
                    "limits": self.limits.as_frame(),
                }
            )
            async with anyio.create_task_group() as tg:

                async def send_then_stop() -> None:
                    if await connection.run_sender():
                        tg.cancel_scope.cancel()  # we closed it: stop reading too

                tg.start_soon(send_then_stop)
                try:
                    await self._receive(websocket, connection)
                except LiveClosed as closed:
                    connection.close(closed)  # the sender sends the close frame, then stops the group
                else:
                    tg.cancel_scope.cancel()
        finally:
            if self._chat is not None:
                self._chat().sink_closed(connection)  # the participant left: their replies stop
            for key in list(connection.subscriptions):
                self._unsubscribe(connection, key)
            for study in list(connection.watching):
                self._unwatch(connection, study)
            self._connections.discard(connection)
            metrics.CONNECTIONS.dec()
            if not self._connections:
                self._all_gone.set()
                self._all_gone = anyio.Event()

    async def _receive(self, websocket: WebSocket, connection: LiveConnection) -> None:
        """Read frames until the client disconnects; raise LiveClosed to close the connection."""
        limits = self.limits
        limiter = FrameRateLimiter(limits.rate)
        while True:
            try:
                event = await websocket.receive()
            except WebSocketDisconnect:
                return
            if event["type"] == "websocket.disconnect":
                return
            data: bytes | None = event.get("bytes")
            text: str | None = event.get("text")
            size = len(data) if data is not None else len((text or "").encode("utf-8"))
            if size > limits.max_frame_bytes:
                raise LiveClosed(
                    LiveCloseCode.FRAME_TOO_LARGE, f"frame of {size} bytes exceeds {limits.max_frame_bytes}"
                )
            verdict = limiter.check()
            if verdict is Verdict.CLOSE:
                raise LiveClosed(
                    LiveCloseCode.RATE_LIMITED, f"over {limits.max_rate_limited} frames refused for rate; slow down"
                )
            if verdict is Verdict.REFUSE:
                self._refuse(
                    connection,
                    Refused(
                        ErrorCode.RATE_LIMITED,
                        f"more than {limits.messages_per_second:g} frames per second; this frame was not read",
                        retry_after_ms=limiter.retry_after_ms(),
                    ),
                )
                continue
            frame: BaseModel | None = None
            try:
                if data is None:
                    raise Refused(
                        ErrorCode.MALFORMED, "text frames are not part of the protocol; send binary MessagePack"
                    )
                frame = decode_client_frame(data)
                await self._handle(connection, frame)
            except Refused as refused:
                if refused.request_id is None and frame is not None:
                    refused.request_id = getattr(frame, "id", None)
                self._refuse(connection, refused)

    def _refuse(self, connection: LiveConnection, refused: Refused) -> None:
        metrics.ERRORS.labels(code=refused.code.value).inc()
        log.debug("refused a /live frame", extra={"code": refused.code.value, "reason": refused.message})
        connection.send(error_frame(refused))

    # -- what each frame does ---------------------------------------------

    async def _handle(self, connection: LiveConnection, frame: Any) -> None:
        kind: str = frame.type
        metrics.FRAMES.labels(type=kind).inc()
        if kind == "ping":
            connection.send(
                {"type": "pong", "id": frame.id, "client_time": frame.client_time, "server_time": self._clock()}
            )
        elif kind == "session.subscribe":
            await self._subscribe(connection, await self._session_key(connection, frame))
            connection.send({"type": "ack", "id": frame.id})
        elif kind == "session.unsubscribe":
            key = (frame.study, frame.group)
            if key in connection.subscriptions:
                self._unsubscribe(connection, key)
            connection.send({"type": "ack", "id": frame.id})
        elif kind == "control.command":
            await self._command(connection, frame)
            connection.send({"type": "ack", "id": frame.id})
        elif kind == "study.watch":
            await self._watch(connection, frame.study)
            connection.send({"type": "ack", "id": frame.id})
        elif kind == "study.unwatch":
            self._unwatch(connection, frame.study)
            connection.send({"type": "ack", "id": frame.id})
        elif kind in CHAT_FRAMES:
            await self._chat_frame(connection, frame)
            connection.send({"type": "ack", "id": frame.id})
        else:  # a client type in the schema that this server does not serve yet
            raise Refused(ErrorCode.UNKNOWN_TYPE, f"{kind!r} frames are not served by this server yet")

    async def _chat_frame(self, connection: LiveConnection, frame: Any) -> None:
        """chat.send / chat.stop / chat.regenerate: the participant's own conversations only."""
        if self._chat is None:
            raise Refused(ErrorCode.UNAVAILABLE, "this server offers no chat with a model")
        principal = connection.principal
        if principal.role.value != "participant" or not (principal.study and principal.group and principal.participant):
            raise Refused(ErrorCode.FORBIDDEN, "only participants chat with the model")
        chatter = Chatter(principal.study, principal.group, principal.participant)
        service = self._chat()
        try:
            if frame.type == "chat.send":
                user, reply = await service.send(chatter, frame.conversation, frame.text, connection)
                connection.send({"type": "chat.turn", "message": message_frame(user)})
                connection.send({"type": "chat.turn", "message": message_frame(reply)})
            elif frame.type == "chat.regenerate":
                reply = await service.regenerate(chatter, frame.conversation, connection)
                connection.send({"type": "chat.turn", "message": message_frame(reply)})
            else:
                service.stop(chatter, frame.reply)
        except ChatRefused as refused:
            raise Refused(ErrorCode(refused.kind), refused.message, retry_after_ms=refused.retry_after_ms) from None
        except StoreError as exc:
            raise Refused(ErrorCode.UNAVAILABLE, "the message could not be stored; try again") from exc

    async def _session_key(self, connection: LiveConnection, frame: Any) -> SessionKey:
        if not await self._authenticator.may_join(connection.principal, frame.study, frame.group):
            raise Refused(ErrorCode.FORBIDDEN, f"session {frame.study}/{frame.group} is not one you may join")
        return (frame.study, frame.group)

    async def _subscribe(self, connection: LiveConnection, key: SessionKey) -> None:
        session = connection.subscriptions.get(key)
        if session is None:
            if len(connection.subscriptions) >= self.limits.max_subscriptions:
                raise Refused(
                    ErrorCode.LIMIT, f"a connection subscribes to at most {self.limits.max_subscriptions} sessions"
                )
            session = await self._hold(key)
            connection.subscriptions[key] = session
            session.subscribers.add(connection)
        connection.send_encoded(session.state_frame_bytes())

    async def _watch(self, connection: LiveConnection, study: str) -> None:
        """Follow a study's progress: a progress.state snapshot now, progress.update frames after."""
        if self._progress is None or not await self._authenticator.may_watch_study(connection.principal, study):
            raise Refused(ErrorCode.FORBIDDEN, f"only the facilitator of study {study} may watch its progress")
        if study not in connection.watching:
            if len(connection.subscriptions) + len(connection.watching) >= self.limits.max_subscriptions:
                raise Refused(
                    ErrorCode.LIMIT,
                    f"a connection subscribes to at most {self.limits.max_subscriptions} sessions and studies",
                )
            connection.watching.add(study)
        self.watchers.begin(study, connection)  # updates from here on are held until the snapshot is queued
        try:
            stage_order, participants = await self._progress.snapshot(study)
            if len(participants) > MAX_PROGRESS_SNAPSHOT:
                raise Refused(
                    ErrorCode.LIMIT, f"the study has over {MAX_PROGRESS_SNAPSHOT} participants: too many to watch"
                )
        except (Refused, StoreError) as exc:
            self._unwatch(connection, study)
            if isinstance(exc, StoreError):
                raise Refused(ErrorCode.UNAVAILABLE, "the study's progress could not be read; try again") from exc
            raise
        connection.send(
            {
                "type": "progress.state",
                "study": study,
                "stage_order": list(stage_order),
                "participants": [dict(entry) for entry in participants],
                "server_time": self._clock(),
            }
        )
        self.watchers.ready(study, connection)

    def _unwatch(self, connection: LiveConnection, study: str) -> None:
        connection.watching.discard(study)
        self.watchers.remove(study, connection)

    def _unsubscribe(self, connection: LiveConnection, key: SessionKey) -> None:
        session = connection.subscriptions.pop(key, None)
        if session is not None:
            session.subscribers.discard(connection)
            self.sessions.release(session)

    async def _hold(self, key: SessionKey) -> LiveSession:
        try:
            return await self.sessions.hold(key)
        except RoomClosed as exc:
            raise Refused(
                ErrorCode.UNAVAILABLE, f"the session's control document could not be loaded: {exc.reason}"
            ) from exc

    async def _command(self, connection: LiveConnection, frame: Any) -> None:
        principal = connection.principal
        command = frame.command.model_dump()
        name = command["name"]
        allowed = CONTROL_SCHEMA.command_roles[name]
        if principal.role.value not in allowed:
            raise Refused(
                ErrorCode.FORBIDDEN, f"{name} is for {' and '.join(sorted(allowed))}s, not {principal.role.value}s"
            )
        key = await self._session_key(connection, frame)
        session = await self._hold(key)
        try:
            async with session.commands:
                now = self._clock()

                def change(doc: pycrdt.Doc) -> None:
                    apply_command(doc, command, participant=principal.participant, now_ms=now)

                try:
                    await session.room.write_as_server(change)
                except StoreError as exc:
                    raise Refused(ErrorCode.UNAVAILABLE, "the command could not be stored; try again") from exc
                session.publish_if_changed()  # subscribers see the new state before the sender's ack
        finally:
            self.sessions.release(session)
        if self._after_command is not None:  # e.g. a reveal puts the top threes on the canvas (not holding the session)
            try:
                await self._after_command(*key, command)
            except Exception as exc:
                log.error("a command's follow-up failed", extra={"command": name, "error": str(exc)}, exc_info=True)
                raise Refused(ErrorCode.UNAVAILABLE,
                              f"{name} was stored, but what follows from it failed; send it again") from exc
        metrics.COMMANDS.labels(name=name).inc()


def live_route(
    rooms: Callable[[], RoomManager], authenticator: LiveAuthenticator, limits: LiveLimits | None = None
) -> WebSocketRoute:
    """Just the route (without a handle for draining on shutdown: prefer `LiveChannel(...).route`)."""
    return LiveChannel(rooms, authenticator, limits).route
