"""Chatting, end to end: a participant's message in, the model's reply streamed out, every turn stored.

`InteractService` owns the replies in flight. Each runs as a task in the
service's task group: it waits in the pool's fair queue (telling the
participant their position), streams the model's text, and stores the text
*before* sending it (`ReplyWriter`: the first piece at once, then batches of
at most `flush_interval_s`), so whatever a participant saw is on record. A
stop, the participant leaving (their connection closing), a failure or a
shutdown ends the reply with what was shown, marked incomplete.

Frames go to the connection that asked (`ReplySink`); the limits of the
study's `InteractSettings` are checked here, each refusal with a message a
participant can act on. Before anything is stored, the prompt the model would
get (system prompt, conversation, new message) is counted against the pool's
token budget and the model's context, and the pool must have room for the
participant's request. Participants are shown `BackendError.public`, which
never names an endpoint.

With `--redis`, replies in flight are registered under this node's lease
(`NodeLeases`), and a node whose lease lapsed has its replies marked
interrupted by the others.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus

from calma.interact import metrics
from calma.interact.backend import BackendError, GenerationRequest, PromptTooLong, Sampling, Speaker, Turn
from calma.interact.conversations import (
    Conversation,
    ConversationStore,
    Message,
    ReplyProgress,
    ReplyStatus,
    UNFINISHED,
    current_messages,
    dialogue,
)
from calma.interact.node_leases import NodeLeases
from calma.interact.pool import Busy, ModelPool, PartialReply, PoolEndpoint
from calma.studies.model import InteractSettings, Stage, Study, new_id
from calma.studies.store import StudyStore

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300
NODE_LOST = "the server writing this reply stopped before it ended"


class ChatRefused(Exception):
    """A chat request is refused; `kind` maps to the channel's error code, `message` is for the participant."""

    def __init__(self, kind: str, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "forbidden", "conflict", "limit", "invalid" or "unavailable"
        self.message = message
        self.retry_after_ms = retry_after_ms


class ReplySink(Protocol):
    """Where a reply's frames go: the /live connection that asked for it."""

    def send(self, frame: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Chatter:
    """Who is chatting: a participant of a study and group."""

    study: str
    group: str
    participant: str


@dataclass(eq=False)
class ActiveReply:
    reply: Message
    conversation: Conversation
    chatter: Chatter
    sink: ReplySink
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    stopped_by: str | None = None  # "stop" or "left"


def message_frame(message: Message) -> dict[str, Any]:
    """A stored message as the control channel's ChatMessage."""
    return {
        "id": message.id,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "role": message.role.value,
        "content": message.content,
        "status": message.status.value,
        "model": message.model,
        "error": message.error,
        "replaces": message.replaces,
        "created_at": int(message.created_at * 1000),
    }


class TurnLimiter:
    """Turns per minute per participant: a sliding window of the last minute's sends (per hub node)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def check(self, participant: str, per_minute: int) -> None:
        now = self._clock()
        sent = self._sent.setdefault(participant, deque())
        while sent and sent[0] <= now - 60.0:
            sent.popleft()
        if len(sent) >= per_minute:
            wait_s = 60.0 - (now - sent[0])
            raise ChatRefused(
                "limit",
                f"You can send {per_minute} messages a minute in this study; wait {wait_s:.0f} s and send again.",
                retry_after_ms=min(60_000, int(wait_s * 1000) + 1),
            )
        sent.append(now)


class InteractGate(Protocol):
    """Whether a stage is open for a participant (calma.familiarize's StageGate)."""

    async def is_open(self, study: Study, participant_id: str, group_id: str, stage: Stage) -> bool: ...


class InteractService:
    """Replies in flight, and the rules for starting, stopping and regenerating them."""

    def __init__(self, pool: ModelPool, conversations: ConversationStore, studies: StudyStore, *,
                 gate: InteractGate | None = None, flush_interval_s: float = 0.1,
                 stand_in_models: frozenset[str] = frozenset(), leases: NodeLeases | None = None) -> None:
        self.pool = pool
        self.gate = gate
        self.conversations = conversations
        self.studies = studies
        self.flush_interval_s = flush_interval_s
        self.stand_in_models = stand_in_models
        self.turns = TurnLimiter()
        self.leases = leases
        self._active: dict[str, ActiveReply] = {}  # reply id → reply in flight
        self._pending: dict[str, str] = {}  # conversation id → participant, while a request is being stored
        self._tg: TaskGroup | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Host replies until cancelled (a shutdown: replies in flight end as interrupted)."""
        async with anyio.create_task_group() as tg:
            if self.leases is not None:
                await tg.start(self.leases.run, self.interrupt_lost)
            self._tg = tg
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None

    async def interrupt_lost(self, reply_ids: list[str]) -> None:
        """Replies a dead node was writing: those still queued or streaming end as interrupted, text kept."""
        for reply_id in reply_ids:
            message = await self.conversations.message(reply_id)
            if message is None or message.status not in UNFINISHED:
                continue
            await self.conversations.update_reply(reply_id, ReplyProgress(
                content=message.content, status=ReplyStatus.INTERRUPTED, endpoint=message.endpoint,
                started_at=message.started_at, first_token_at=message.first_token_at, finished_at=time.time(),
                completion_tokens=message.completion_tokens, error=NODE_LOST,
            ))
            metrics.REPLIES.labels(model=message.model or "", status=ReplyStatus.INTERRUPTED.value).inc()

    # -- what a study offers ---------------------------------------------------------------

    def models_for(self, study: Study) -> list[str]:
        """The study's models that this server serves (all of the server's if the study names none)."""
        served = self.pool.models
        wanted = list(study.content.deployment_context.models)
        return [m for m in wanted if m in served] if wanted else served

    async def assign_model(self, study: Study, participant: str, asked: str | None) -> str:
        models = self.models_for(study)
        if not models:
            wanted = ", ".join(study.content.deployment_context.models)
            raise ChatRefused("unavailable", f"none of this study's models ({wanted}) is configured on this server")
        if asked is not None:
            if study.content.interact.model_choice.value != "participant":
                raise ChatRefused("forbidden", "in this study the model is assigned; do not pick one")
            if asked not in models:
                raise ChatRefused("invalid", f"{asked!r} is not one of this study's models ({', '.join(models)})")
            return asked
        count = await self.conversations.count_conversations(participant)
        return models[count % len(models)]

    async def start_conversation(self, study: Study, chatter: Chatter, model: str | None) -> Conversation:
        settings = study.content.interact
        await self._check_open(study, chatter)
        if await self.conversations.count_conversations(chatter.participant) >= settings.max_conversations:
            raise ChatRefused(
                "limit", f"you have reached this study's limit of {settings.max_conversations} conversations"
            )
        chosen = await self.assign_model(study, chatter.participant, model)
        now = time.time()
        conversation = Conversation(new_id(), study.id, chatter.group, chatter.participant, chosen, "", now, now)
        return await self.conversations.create_conversation(conversation)

    # -- chat requests -----------------------------------------------------------------------

    async def send(self, chatter: Chatter, conversation_id: str, text: str, sink: ReplySink) -> tuple[Message, Message]:
        """Store the participant's message and a queued reply; the reply streams to `sink`."""
        conversation, study = await self._own_conversation(chatter, conversation_id)
        settings = study.content.interact
        if not text.strip():
            raise ChatRefused("invalid", "the message is empty")
        if len(text) > settings.max_prompt_chars:
            raise ChatRefused(
                "limit",
                f"your message is {len(text):,} characters; this study allows at most "
                f"{settings.max_prompt_chars:,} per message. Shorten it and send again.",
            )
        with self._reserved(conversation, chatter, settings):
            history = dialogue(await self.conversations.messages_of(conversation.id))
            await self._check_prompt(conversation, study, history + (Turn(Speaker.USER, text),))
            now = time.time()
            user = await self.conversations.append_message(
                Message(new_id(), conversation.id, 0, Speaker.USER, text, ReplyStatus.COMPLETE, now)
            )
            reply = await self._queue_reply(conversation, study, chatter, sink, replaces=None)
        return user, reply

    async def regenerate(self, chatter: Chatter, conversation_id: str, sink: ReplySink) -> Message:
        """A new reply to the last message, replacing the last reply (which stays on record)."""
        conversation, study = await self._own_conversation(chatter, conversation_id)
        with self._reserved(conversation, chatter, study.content.interact, count_turn=False):
            current = current_messages(await self.conversations.messages_of(conversation.id))
            if not current:
                raise ChatRefused("conflict", "there is nothing to regenerate yet: send a message first")
            last = current[-1]
            replaces = last.id if last.role is Speaker.ASSISTANT else None
            self.turns.check(chatter.participant, study.content.interact.turns_per_minute)
            kept = [m for m in await self.conversations.messages_of(conversation.id) if m.id != replaces]
            await self._check_prompt(conversation, study, dialogue(kept))
            return await self._queue_reply(conversation, study, chatter, sink, replaces=replaces)

    def stop(self, chatter: Chatter, reply_id: str) -> bool:
        """Stop a reply in flight (False if it already ended); what was shown is kept."""
        active = self._active.get(reply_id)
        if active is None or active.chatter.participant != chatter.participant:
            return False
        active.stopped_by = "stop"
        active.scope.cancel()
        return True

    def sink_closed(self, sink: ReplySink) -> None:
        """The participant left: stop every reply streaming to that connection."""
        for active in list(self._active.values()):
            if active.sink is sink:
                active.stopped_by = "left"
                active.scope.cancel()

    def in_flight(self, participant: str | None = None) -> int:
        """Replies queued or streaming, and requests between their checks and their reply (per participant)."""
        active = sum(1 for a in self._active.values() if participant is None or a.chatter.participant == participant)
        return active + sum(1 for p in self._pending.values() if participant is None or p == participant)

    @contextmanager
    def _reserved(self, conversation: Conversation, chatter: Chatter, settings: InteractSettings, *,
                  count_turn: bool = True) -> Iterator[None]:
        """Check and hold the conversation and a reply of the participant's allowance, before anything awaits:
        two tabs sending at once cannot both pass the checks."""
        self._check_not_busy(conversation)
        self._check_concurrency(chatter, settings)
        if count_turn:
            self.turns.check(chatter.participant, settings.turns_per_minute)
        self._pending[conversation.id] = chatter.participant
        try:
            yield
        finally:
            del self._pending[conversation.id]

    async def _check_prompt(self, conversation: Conversation, study: Study, turns: tuple[Turn, ...]) -> None:
        """Refuse, before anything is stored or queued, a prompt beyond the budget or a pool with no room."""
        request = GenerationRequest(study.content.deployment_context.system_prompt, turns, _sampling(study))
        try:
            self.pool.check_room(conversation.model, conversation.participant_id)
            await self.pool.check_prompt(conversation.model, request)
        except (PromptTooLong, Busy) as exc:
            raise ChatRefused("limit", exc.public) from exc
        except BackendError as exc:
            log.warning("a prompt could not be counted", extra={"model": conversation.model, "error": str(exc)})
            raise ChatRefused("unavailable", f"{exc.public}; try again in a moment") from exc

    async def _check_open(self, study: Study, chatter: Chatter) -> None:
        if Stage.INTERACT not in study.content.stage_order:
            raise ChatRefused("conflict", "this study has no Interact stage")
        if self.gate is not None and not await self.gate.is_open(study, chatter.participant, chatter.group, Stage.INTERACT):
            raise ChatRefused("conflict", "Interact is not open for you yet: finish Familiarize first, or ask your facilitator")

    async def _own_conversation(self, chatter: Chatter, conversation_id: str) -> tuple[Conversation, Study]:
        conversation = await self.conversations.conversation(conversation_id)
        if conversation is None or conversation.participant_id != chatter.participant:
            raise ChatRefused("forbidden", "no such conversation of yours")
        study = await self.studies.study(conversation.study_id)
        if study is None:
            raise ChatRefused("forbidden", "no such conversation of yours")
        await self._check_open(study, chatter)
        return conversation, study

    def _check_not_busy(self, conversation: Conversation) -> None:
        if conversation.id in self._pending or any(a.conversation.id == conversation.id for a in self._active.values()):
            raise ChatRefused("conflict", "a reply is still being written in this conversation; wait for it or stop it")

    def _check_concurrency(self, chatter: Chatter, settings: InteractSettings) -> None:
        if self.in_flight(chatter.participant) >= settings.max_concurrent_replies:
            raise ChatRefused(
                "limit",
                f"you already have {settings.max_concurrent_replies} replies being written (this study's limit); "
                "wait for one to finish or stop it",
            )

    async def _queue_reply(self, conversation: Conversation, study: Study, chatter: Chatter, sink: ReplySink,
                           *, replaces: str | None) -> Message:
        if self._tg is None:
            raise ChatRefused("unavailable", "the server is shutting down; try again in a moment")
        sampling = self.pool.budgeted(GenerationRequest("", (), _sampling(study))).sampling  # as it will run
        system_prompt = study.content.deployment_context.system_prompt
        queued = Message(new_id(), conversation.id, 0, Speaker.ASSISTANT, "", ReplyStatus.QUEUED, time.time(),
                         replaces=replaces, model=conversation.model, system_prompt=system_prompt,
                         sampling=sampling.as_dict())
        if self.leases is not None:
            await self.leases.add(queued.id)  # before it is stored: a crash in between leaves nothing unswept
        try:
            reply = await self.conversations.append_message(queued)
        except BaseException:
            if self.leases is not None:
                with anyio.CancelScope(shield=True):
                    await self.leases.remove(queued.id)
            raise
        messages = await self.conversations.messages_of(conversation.id)
        request = GenerationRequest(system_prompt, dialogue(messages), sampling)
        active = ActiveReply(reply, conversation, chatter, sink)
        self._active[reply.id] = active
        self._tg.start_soon(self._run_reply, active, request)
        return reply

    # -- one reply -----------------------------------------------------------------------------

    async def _run_reply(self, active: ActiveReply, request: GenerationRequest) -> None:
        writer = ReplyWriter(self.conversations, active, self.flush_interval_s)
        metrics.IN_FLIGHT.inc()
        try:
            await writer.run(self.pool, request)
        except Exception:  # a bug of ours or the store failing: logged, stored if possible, shown, and others go on
            log.exception("a reply failed unexpectedly", extra={"reply": active.reply.id})
            with anyio.CancelScope(shield=True):
                try:
                    await writer.finish(ReplyStatus.FAILED, "the server failed while writing this reply")
                except Exception:
                    log.exception("could not store the end of a failed reply", extra={"reply": active.reply.id})
                    writer.tell_end(ReplyStatus.FAILED, "the server failed while writing this reply")
        finally:
            metrics.IN_FLIGHT.dec()
            self._active.pop(active.reply.id, None)
            if self.leases is not None:
                with anyio.CancelScope(shield=True):
                    await self.leases.remove(active.reply.id)


class ReplyWriter:
    """Streams one reply: stores each batch of text, then sends it; ends with the reply's final record."""

    def __init__(self, store: ConversationStore, active: ActiveReply, flush_interval_s: float) -> None:
        self.store = store
        self.active = active
        self.flush_interval_s = flush_interval_s
        self.content = ""
        self.pending: list[str] = []
        self.tokens = 0
        self.endpoint: str | None = None
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.generation_ended_at: float | None = None  # stamped before the slot is given back
        self.ended = False
        self._wake = anyio.Event()
        self._generating = True

    @property
    def reply_id(self) -> str:
        return self.active.reply.id

    def _send(self, frame: dict[str, Any]) -> None:
        self.active.sink.send({**frame, "reply": self.reply_id})

    async def run(self, pool: ModelPool, request: GenerationRequest) -> None:
        active = self.active
        status, error = ReplyStatus.COMPLETE, None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._flush_loop)
                with active.scope:
                    try:
                        stats = await pool.generate(
                            active.conversation.model, active.chatter.participant, request, self._emit,
                            on_position=lambda position: self._send({"type": "chat.queue", "position": position}),
                            on_start=self._started,
                            on_end=self._ended,
                        )
                        self.tokens = stats.completion_tokens  # the backend's count, not the pieces shown
                    except PartialReply as exc:
                        status, error = ReplyStatus.FAILED, _clip(
                            f"the model's server failed mid-reply ({exc.public}); the text so far is kept. "
                            "Press Regenerate to try again."
                        )
                    except BackendError as exc:  # the detail (which may name the endpoint) is in the pool's log
                        status, error = ReplyStatus.FAILED, _clip(f"{exc.public}. Press Regenerate to try again.")
                if active.scope.cancelled_caught:
                    status = ReplyStatus.STOPPED
                    error = "stopped" if active.stopped_by == "stop" else "the participant left"
                self._generating = False
                self._wake.set()
        except Exception:
            raise  # a store failure mid-reply: _run_reply records it as failed
        except BaseException:  # cancelled by a shutdown: keep what was shown
            with anyio.CancelScope(shield=True):
                await self.finish(ReplyStatus.INTERRUPTED, "the server stopped before the reply ended")
            raise
        await self.finish(status, error)

    def _started(self, endpoint: PoolEndpoint) -> None:
        self.endpoint = endpoint.backend.label
        self.started_at = time.time()
        metrics.QUEUE_WAIT.labels(model=self.active.conversation.model).observe(
            max(0.0, self.started_at - self.active.reply.created_at)
        )
        self._send({"type": "chat.start"})

    def _ended(self, endpoint: PoolEndpoint) -> None:
        self.generation_ended_at = time.time()

    async def _emit(self, piece: str) -> None:
        model = self.active.conversation.model
        if self.first_token_at is None:
            self.first_token_at = time.time()
            if self.started_at is not None:
                metrics.TIME_TO_FIRST_TOKEN.labels(model=model).observe(self.first_token_at - self.started_at)
        metrics.TOKENS.labels(model=model).inc()
        self.tokens += 1
        self.pending.append(piece)
        self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await self._flush()
            if not self._generating:
                return
            await anyio.sleep(self.flush_interval_s)  # batch what arrives meanwhile into one write

    async def _flush(self) -> None:
        if not self.pending:
            return
        piece = "".join(self.pending)
        self.pending.clear()
        content = self.content + piece
        await self.store.update_reply(self.reply_id, self._progress(content, ReplyStatus.STREAMING, None))
        self.content = content
        self._send({"type": "chat.delta", "text": piece})

    def _progress(self, content: str, status: ReplyStatus, error: str | None) -> ReplyProgress:
        finished = None if status is ReplyStatus.STREAMING else (self.generation_ended_at or time.time())
        return ReplyProgress(content=content, status=status, endpoint=self.endpoint, started_at=self.started_at,
                             first_token_at=self.first_token_at, finished_at=finished,
                             completion_tokens=self.tokens, error=error)

    async def finish(self, status: ReplyStatus, error: str | None) -> None:
        """Store and send the reply's end, with every piece that arrived (once)."""
        if self.ended:
            return
        piece = "".join(self.pending)
        await self.store.update_reply(self.reply_id, self._progress(self.content + piece, status, error))
        self.ended = True  # only once the end is stored: a failed write leaves the error path to try again
        self.pending.clear()
        self.content += piece
        if piece:
            self._send({"type": "chat.delta", "text": piece})
        metrics.REPLIES.labels(model=self.active.conversation.model, status=status.value).inc()
        self.tell_end(status, error)

    def tell_end(self, status: ReplyStatus, error: str | None) -> None:
        """Send chat.end (also when the end could not be stored: the participant must not wait forever)."""
        self._send({
            "type": "chat.end",
            "status": status.value,
            "error": error,
            "completion_tokens": self.tokens,
            "ttft_ms": None if self.first_token_at is None or self.started_at is None
            else int((self.first_token_at - self.started_at) * 1000),
        })


def _sampling(study: Study) -> Sampling:
    settings = study.content.interact
    return Sampling(temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_tokens)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
