"""The model pool: endpoints per model, health checks, fair queueing, caps, timeouts and retries.

Each model has one or more endpoints (an embedded llama.cpp instance, a vLLM
server per GPU, any OpenAI-compatible URL), each with a cap on concurrent
generations. A generation waits in its model's `FairQueue` (round-robin over
participants) and is told its position while it waits; a dispatcher gives
each free slot to the next waiter, on the least-loaded healthy endpoint.
Caps are counted by `Slots`: in memory, or in Redis so that they hold across
hub nodes.

A failure before any text was shown is retried on another endpoint; once
text has been shown it is not (a retry would repeat it), and the caller
keeps what arrived. A request the server refused as it is (`RequestRejected`,
e.g. a prompt beyond the context) is not retried either. A generation that
produces no token for `first_token_timeout_s` (then `idle_timeout_s` between
tokens) fails.

The token budget holds for every caller (chat, A/B trials, the judge): a
reply generates at most `max_reply_tokens`, and `check_prompt` refuses,
before anything is queued, a prompt over `max_prompt_tokens` or one that with
its reply would not fit the model's context. One participant may have at most
`max_waiting_per_participant` generations waiting or running on this node,
and a model's line holds at most `max_waiting`: beyond them `Busy` is raised
at once rather than queueing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import anyio
from anyio.abc import TaskStatus

from calma.interact.backend import (
    Backend,
    BackendError,
    Emit,
    GenerationRequest,
    GenerationStats,
    PromptTooLong,
    RequestRejected,
)
from calma.interact.fair_queue import FairQueue, Waiter
from calma.interact.slots import LocalSlots, Slots

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolSettings:
    health_interval_s: float = 15.0
    unhealthy_recheck_s: float = 3.0
    health_timeout_s: float = 10.0
    first_token_timeout_s: float = 120.0
    idle_timeout_s: float = 60.0
    max_queue_wait_s: float = 900.0
    max_attempts: int = 3
    max_reply_tokens: int = 1024
    max_prompt_tokens: int = 8192
    max_waiting_per_participant: int = 4
    max_waiting: int = 500


@dataclass(eq=False)
class PoolEndpoint:
    """One endpoint of one model."""

    model: str
    backend: Backend
    max_concurrent: int = 1
    shared: bool = False  # counted across nodes (a server every node reaches), not per process
    active: int = 0
    healthy: bool | None = None  # None: not checked yet (tried optimistically)
    last_error: str | None = None  # for logs and facilitators: may name the endpoint
    last_public: str | None = None  # the same, as a participant may read it
    recheck: anyio.Event | None = None  # set: check health now, not at the next interval (made by `run`)

    @property
    def key(self) -> str:
        return f"{self.model}|{self.backend.label}"

    @property
    def load(self) -> float:
        return self.active / self.max_concurrent


@dataclass(frozen=True)
class Slot:
    endpoint: PoolEndpoint
    lease: str
    slots: Slots


class PartialReply(BackendError):
    """The endpoint failed after text was shown; what was shown stays, and it is not retried."""


class Busy(RequestRejected):
    """Refused before queueing: the participant has as many generations waiting as they may, or the line is full."""


@dataclass
class ModelStatus:
    model: str
    endpoints: list[dict[str, object]] = field(default_factory=list)
    waiting: int = 0


class ModelPool:
    """Every configured model's endpoints and queue; `run` it in a task group before use."""

    def __init__(self, endpoints: Sequence[PoolEndpoint], *, settings: PoolSettings | None = None,
                 shared_slots: Slots | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._endpoints: dict[str, list[PoolEndpoint]] = {}
        for endpoint in endpoints:
            self._endpoints.setdefault(endpoint.model, []).append(endpoint)
        self._queues: dict[str, FairQueue] = {model: FairQueue() for model in self._endpoints}
        self._local_slots: Slots = LocalSlots()
        self._shared_slots: Slots = shared_slots or self._local_slots
        self._kicked: anyio.Event | None = None  # made by `run`, in the event loop
        self._running = False
        self._generating: Counter[str] = Counter()  # participant → generations waiting or running here

    @property
    def models(self) -> list[str]:
        return list(self._endpoints)

    def endpoints_of(self, model: str) -> list[PoolEndpoint]:
        return list(self._endpoints.get(model, ()))

    # -- the token budget and the caps on waiting -----------------------------------------------

    def budgeted(self, request: GenerationRequest) -> GenerationRequest:
        """The request with its reply held to `max_reply_tokens`."""
        if request.sampling.max_tokens <= self.settings.max_reply_tokens:
            return request
        return replace(request, sampling=replace(request.sampling, max_tokens=self.settings.max_reply_tokens))

    def context_tokens(self, model: str) -> int | None:
        """The smallest context length known among the model's endpoints (a reply may land on any)."""
        known = [c for e in self._endpoints.get(model, ()) if (c := e.backend.context_tokens) is not None]
        return min(known) if known else None

    async def check_prompt(self, model: str, request: GenerationRequest) -> int:
        """The prompt's tokens, if it and its reply fit the budget and the context; else PromptTooLong."""
        endpoints = self._endpoints.get(model)
        if not endpoints:
            raise BackendError(f"the model {model!r} is not configured on this server")
        request = self.budgeted(request)
        tokens = await endpoints[0].backend.count_prompt_tokens(request)
        reply = request.sampling.max_tokens
        context = self.context_tokens(model)
        if tokens > self.settings.max_prompt_tokens:
            limit, why = self.settings.max_prompt_tokens, "this server's limit per request"
        elif context is not None and tokens + reply > context:
            limit, why = context - reply, f"what fits {model}'s context of {context} tokens with a reply of up to {reply}"
        else:
            return tokens
        if limit <= 0:
            raise PromptTooLong(f"{model}: a reply of {reply} tokens leaves no room for a prompt in {context}",
                                public=f"{model} cannot answer with this study's reply length; tell your facilitator")
        message = (f"this conversation is about {tokens:,} tokens, over {why} ({max(limit, 0):,}); "
                   "start a new conversation, or send a shorter message")
        raise PromptTooLong(message, public=message)

    def check_room(self, model: str, participant: str) -> None:
        """Raise Busy if another generation for `participant` (or on `model`) may not be queued now."""
        settings = self.settings
        if self._generating[participant] >= settings.max_waiting_per_participant:
            message = (f"you already have {settings.max_waiting_per_participant} requests waiting for or using "
                       "the model; wait for one to finish")
            raise Busy(message, public=message)
        queue = self._queues.get(model)
        if queue is not None and len(queue) >= settings.max_waiting:
            message = f"the model {model} has {settings.max_waiting} requests waiting; try again in a few minutes"
            raise Busy(message, public=message)

    def status(self) -> list[ModelStatus]:
        return [
            ModelStatus(
                model=model,
                endpoints=[
                    {"endpoint": e.backend.label, "active": e.active, "max_concurrent": e.max_concurrent,
                     "healthy": e.healthy, "last_error": e.last_error}
                    for e in endpoints
                ],
                waiting=len(self._queues[model]),
            )
            for model, endpoints in self._endpoints.items()
        ]

    # -- running -------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Dispatch, check health and keep shared slots until cancelled; then close every backend."""
        self._kicked = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                if self._shared_slots is not self._local_slots:
                    await tg.start(self._shared_slots.run, self.kick)
                for endpoints in self._endpoints.values():
                    for endpoint in endpoints:
                        tg.start_soon(self._watch_health, endpoint)
                self._running = True
                task_status.started()
                await self._dispatch_forever()
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                for endpoints in self._endpoints.values():
                    for endpoint in endpoints:
                        await endpoint.backend.aclose()

    def kick(self) -> None:
        """Something changed (a waiter, a free slot, a health verdict): dispatch again."""
        if self._kicked is not None:
            self._kicked.set()

    async def _dispatch_forever(self) -> None:
        while True:
            assert self._kicked is not None
            await self._kicked.wait()
            self._kicked = anyio.Event()
            for model in self._endpoints:
                await self._dispatch(model)

    async def _dispatch(self, model: str) -> None:
        queue = self._queues[model]
        endpoints = self._endpoints[model]
        if len(queue) == 0:
            return
        if all(endpoint.healthy is False for endpoint in endpoints):
            reasons = "; ".join(e.last_error or "unhealthy" for e in endpoints)
            for waiter in list(queue.in_order()):
                queue.remove(waiter)
                said = "; ".join(dict.fromkeys(e.last_public or "not answering" for e in endpoints))
                waiter.failure = BackendError(f"the model {model} is unavailable: {reasons}",
                                              public=f"the model {model} is unavailable right now ({said})")
                waiter.ready.set()
            return
        for waiter in list(queue.in_order()):
            if not queue.contains(waiter):
                continue  # it left the line (stopped, gone) while we were taking a slot for someone before it
            slot = await self._take_slot(endpoints, waiter.avoid)
            if slot is None:
                break  # every endpoint is at its cap: the rest wait too
            if not queue.take(waiter):  # it left while the slot was being taken (a Redis round trip)
                await self._give_back(slot)
                continue
            waiter.granted = slot
            waiter.ready.set()
        for position, waiter in enumerate(queue.in_order()):
            if waiter.position != position:
                waiter.position = position
                try:
                    waiter.on_position(position)
                except Exception:  # a bug in a listener must not stop dispatching for everyone
                    log.exception("a queue-position listener failed", extra={"model": model})

    async def _take_slot(self, endpoints: list[PoolEndpoint], avoid: frozenset[str]) -> Slot | None:
        usable = [e for e in endpoints if e.healthy is not False and e.active < e.max_concurrent]
        usable.sort(key=lambda e: (e.key in avoid, e.load, e.active))
        for endpoint in usable:
            slots = self._shared_slots if endpoint.shared else self._local_slots
            lease = await slots.try_take(endpoint.key, endpoint.max_concurrent)
            if lease is not None:
                endpoint.active += 1
                return Slot(endpoint, lease, slots)
        return None

    async def _give_back(self, slot: Slot) -> None:
        slot.endpoint.active -= 1
        with anyio.CancelScope(shield=True):
            await slot.slots.give_back(slot.endpoint.key, slot.lease)
        self.kick()

    async def _watch_health(self, endpoint: PoolEndpoint) -> None:
        endpoint.recheck = anyio.Event()
        while True:
            try:
                with anyio.fail_after(self.settings.health_timeout_s):
                    await endpoint.backend.check_health()
            except Exception as exc:  # any failure of a check makes the endpoint unhealthy; none stops the pool
                if not isinstance(exc, (BackendError, TimeoutError)):
                    log.exception("a health check failed unexpectedly", extra={"endpoint": endpoint.backend.label})
                reason = str(exc) or f"no answer within {self.settings.health_timeout_s:g} s"
                if endpoint.healthy is not False or endpoint.last_error != reason:
                    log.warning("endpoint unhealthy", extra={"endpoint": endpoint.backend.label, "reason": reason})
                endpoint.healthy, endpoint.last_error = False, reason
                endpoint.last_public = exc.public if isinstance(exc, BackendError) else "its server does not answer"
                self.kick()
            else:
                if endpoint.healthy is not True:
                    log.info("endpoint healthy", extra={"endpoint": endpoint.backend.label})
                    endpoint.healthy = True
                    self.kick()
            with anyio.move_on_after(
                self.settings.health_interval_s if endpoint.healthy else self.settings.unhealthy_recheck_s
            ):
                await endpoint.recheck.wait()  # type: ignore[union-attr]
            endpoint.recheck = anyio.Event()

    # -- using ---------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self, model: str, participant: str, on_position: Callable[[int], None] = lambda _: None,
                   *, avoid: frozenset[str] = frozenset(), front: bool = False) -> AsyncIterator[PoolEndpoint]:
        """Wait (fairly, with position updates) for a slot on one of `model`'s endpoints; hold it in the block."""
        if model not in self._queues:
            raise BackendError(f"the model {model!r} is not configured on this server")
        if not self._running:
            raise BackendError("the model pool is not running")
        queue = self._queues[model]
        waiter = Waiter(model, participant, on_position, avoid)
        queue.push(waiter, front=front)
        self.kick()
        try:
            with anyio.fail_after(self.settings.max_queue_wait_s):
                await waiter.ready.wait()
        except BaseException as exc:  # cancelled (stop, disconnect) or waited too long: leave the line
            if not waiter.ready.is_set():
                queue.remove(waiter)
                self.kick()  # those behind it move up
            elif isinstance(waiter.granted, Slot):
                await self._give_back(waiter.granted)  # granted just as we were cancelled
            if isinstance(exc, TimeoutError):
                raise BackendError(
                    f"the model {model} stayed busy for {self.settings.max_queue_wait_s:g} s; try again later"
                ) from None
            raise
        if waiter.failure is not None:
            raise waiter.failure
        slot = waiter.granted
        assert isinstance(slot, Slot)
        try:
            yield slot.endpoint
        finally:
            await self._give_back(slot)

    async def generate(self, model: str, participant: str, request: GenerationRequest, emit: Emit,
                       on_position: Callable[[int], None] = lambda _: None,
                       on_start: Callable[[PoolEndpoint], None] = lambda _: None,
                       on_end: Callable[[PoolEndpoint], None] = lambda _: None) -> GenerationStats:
        """Generate one reply on `model`, fairly queued, retried on another endpoint if nothing was shown yet."""
        self.check_room(model, participant)
        self._generating[participant] += 1
        try:
            return await self._generate(model, participant, self.budgeted(request), emit, on_position, on_start, on_end)
        finally:
            self._generating[participant] -= 1
            if self._generating[participant] <= 0:
                del self._generating[participant]

    async def _generate(self, model: str, participant: str, request: GenerationRequest, emit: Emit,
                        on_position: Callable[[int], None], on_start: Callable[[PoolEndpoint], None],
                        on_end: Callable[[PoolEndpoint], None]) -> GenerationStats:
        shown = 0
        tried: set[str] = set()
        last: BackendError | None = None
        for attempt in range(self.settings.max_attempts):
            async with self.slot(model, participant, on_position, avoid=frozenset(tried), front=attempt > 0) as endpoint:
                on_start(endpoint)
                deadline = _Deadline(self.settings.first_token_timeout_s, self.settings.idle_timeout_s)

                async def counted(piece: str) -> None:
                    nonlocal shown
                    deadline.token()
                    await emit(piece)
                    shown += len(piece)

                try:
                    try:
                        with deadline.scope:
                            stats = await endpoint.backend.generate(request, counted)
                    finally:
                        on_end(endpoint)  # while the slot is still held: the generation's true end
                    if deadline.scope.cancelled_caught:
                        raise BackendError(deadline.explain())
                except RequestRejected as exc:  # the request's fault: another endpoint would refuse it too
                    log.warning("the model's server refused a request", extra={
                        "endpoint": endpoint.backend.label, "error": str(exc), "shown_chars": shown})
                    if shown:
                        raise PartialReply(str(exc), public=exc.public) from exc
                    raise
                except BackendError as exc:
                    endpoint.last_error, endpoint.last_public = str(exc), exc.public
                    if endpoint.recheck is not None:
                        endpoint.recheck.set()  # the health check decides whether others may still use it
                    log.warning("generation failed", extra={"endpoint": endpoint.backend.label, "error": str(exc),
                                                            "shown_chars": shown, "attempt": attempt + 1})
                    if shown:
                        raise PartialReply(str(exc), public=exc.public) from exc
                    tried.add(endpoint.key)
                    last = exc
                    continue
                return stats
        assert last is not None
        raise last


class _Deadline:
    """A cancel scope whose deadline moves with every token: first-token timeout, then idle timeout."""

    def __init__(self, first_token_s: float, idle_s: float) -> None:
        self.first_token_s = first_token_s
        self.idle_s = idle_s
        self.tokens = 0
        self.scope = anyio.CancelScope(deadline=anyio.current_time() + first_token_s)

    def token(self) -> None:
        self.tokens += 1
        self.scope.deadline = anyio.current_time() + self.idle_s

    def explain(self) -> str:
        if self.tokens == 0:
            return f"the model sent nothing for {self.first_token_s:g} s"
        return f"the model stopped sending for {self.idle_s:g} s"

