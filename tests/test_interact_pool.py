"""The model pool's own logic: fairness, queue positions, caps, cancellation, retries, timeouts, health.

These tests are about our dispatching around a backend, so the backend is a
scripted stand-in whose every step the test controls; streaming from real
model servers is tested in test_interact_chat.py and test_interact_openai.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from calma.interact.backend import BackendError, Emit, GenerationRequest, GenerationStats, Speaker, Turn
from calma.interact.pool import ModelPool, PartialReply, PoolEndpoint, PoolSettings
from calma.interact.slots import LocalSlots

REQUEST = GenerationRequest("You are a history tutor.", (Turn(Speaker.USER, "Who was Ashoka?"),))


class ScriptedBackend:
    """A model server whose replies the test releases one at a time."""

    def __init__(self, label: str, *, pieces: tuple[str, ...] = ("Ashoka ", "was ", "an emperor."),
                 fail_after: int | None = None, healthy: bool = True, hold: bool = True) -> None:
        self.label = label
        self.pieces = pieces
        self.fail_after = fail_after  # fail after emitting this many pieces
        self.healthy = healthy
        self.hold = hold  # wait for `release` before answering
        self.started: list[str] = []  # participants, in the order their generations started
        self.running = 0
        self.release = anyio.Event()

    async def generate(self, request: GenerationRequest, emit: Emit) -> GenerationStats:
        self.started.append(request.turns[-1].text)
        self.running += 1
        try:
            if self.hold:
                await self.release.wait()
            for index, piece in enumerate(self.pieces):
                if self.fail_after is not None and index == self.fail_after:
                    raise BackendError(f"{self.label} broke")
                await emit(piece)
            if self.fail_after is not None and self.fail_after >= len(self.pieces):
                raise BackendError(f"{self.label} broke")
            return GenerationStats(completion_tokens=len(self.pieces), finish_reason="stop")
        finally:
            self.running -= 1

    async def check_health(self) -> None:
        if not self.healthy:
            raise BackendError(f"{self.label} is down")

    async def aclose(self) -> None:
        pass


def ask(text: str) -> GenerationRequest:
    return GenerationRequest("system", (Turn(Speaker.USER, text),))


@asynccontextmanager
async def running(pool: ModelPool) -> AsyncIterator[anyio.abc.TaskGroup]:
    async with anyio.create_task_group() as tg:
        await tg.start(pool.run)
        yield tg
        tg.cancel_scope.cancel()


async def wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.001)  # yields to the tasks under test; bounded by the timeout


def quick(**overrides: float) -> PoolSettings:
    return PoolSettings(**{"health_interval_s": 60.0, "unhealthy_recheck_s": 0.05, **overrides})  # type: ignore[arg-type]


async def test_one_participant_with_a_backlog_cannot_starve_another() -> None:
    backend = ScriptedBackend("only")
    pool = ModelPool([PoolEndpoint("m", backend, max_concurrent=1)], settings=quick())
    positions: dict[str, list[int]] = {}
    async with running(pool) as tg:

        async def chat(participant: str, text: str) -> None:
            await pool.generate("m", participant, ask(text), _ignore,
                                on_position=lambda p: positions.setdefault(text, []).append(p))

        tg.start_soon(chat, "ravi", "ravi 1")
        await wait_until(lambda: backend.started == ["ravi 1"])
        for text in ("ravi 2", "ravi 3"):
            tg.start_soon(chat, "ravi", text)
        await wait_until(lambda: len(pool._queues["m"]) == 2)
        tg.start_soon(chat, "mei", "mei 1")
        await wait_until(lambda: len(pool._queues["m"]) == 3)
        assert positions["mei 1"][-1] == 0, "Mei, never served, is next although Ravi queued first"
        assert positions["ravi 2"][-1] == 1 and positions["ravi 3"][-1] == 2
        for expected in (["ravi 1", "mei 1"], ["ravi 1", "mei 1", "ravi 2"], ["ravi 1", "mei 1", "ravi 2", "ravi 3"]):
            backend.release.set()
            backend.release = anyio.Event()
            await wait_until(lambda expected=expected: backend.started == expected)
        backend.release.set()
        await wait_until(lambda: backend.running == 0 and pool.endpoints_of("m")[0].active == 0)


async def test_a_cap_is_never_exceeded_and_dispatch_goes_to_the_least_loaded_endpoint() -> None:
    first, second = ScriptedBackend("first"), ScriptedBackend("second")
    pool = ModelPool([PoolEndpoint("m", first, max_concurrent=2), PoolEndpoint("m", second, max_concurrent=2)],
                     settings=quick())
    async with running(pool) as tg:
        for index in range(6):
            tg.start_soon(pool.generate, "m", f"p{index}", ask(f"q{index}"), _ignore)
        await wait_until(lambda: first.running + second.running == 4 and len(pool._queues["m"]) == 2)
        assert (first.running, second.running) == (2, 2), "each endpoint gets its cap, no more"
        first.release.set()
        second.release.set()
        await wait_until(lambda: len(first.started) + len(second.started) == 6 and first.running + second.running == 0)


async def test_stopping_a_generation_frees_its_slot_for_the_next_in_line() -> None:
    backend = ScriptedBackend("only")
    pool = ModelPool([PoolEndpoint("m", backend, max_concurrent=1)], settings=quick())
    async with running(pool) as tg:
        stop = anyio.CancelScope()

        async def ravi() -> None:
            with stop:
                await pool.generate("m", "ravi", ask("ravi"), _ignore)

        tg.start_soon(ravi)
        await wait_until(lambda: backend.running == 1)
        tg.start_soon(pool.generate, "m", "mei", ask("mei"), _ignore)
        await wait_until(lambda: len(pool._queues["m"]) == 1)
        stop.cancel()
        await wait_until(lambda: backend.started == ["ravi", "mei"] and backend.running == 1)
        backend.release.set()


async def test_leaving_the_line_moves_everyone_behind_up() -> None:
    backend = ScriptedBackend("only")
    pool = ModelPool([PoolEndpoint("m", backend, max_concurrent=1)], settings=quick())
    positions: list[int] = []
    async with running(pool) as tg:
        tg.start_soon(pool.generate, "m", "a", ask("a"), _ignore)
        await wait_until(lambda: backend.running == 1)
        leaving = anyio.CancelScope()

        async def b() -> None:
            with leaving:
                await pool.generate("m", "b", ask("b"), _ignore)

        tg.start_soon(b)
        await wait_until(lambda: len(pool._queues["m"]) == 1)
        tg.start_soon(lambda: pool.generate("m", "c", ask("c"), _ignore, on_position=positions.append))
        await wait_until(lambda: positions == [1])
        leaving.cancel()
        await wait_until(lambda: positions == [1, 0])
        backend.release.set()
        await wait_until(lambda: backend.started == ["a", "c"])


async def test_a_failure_before_any_text_is_retried_on_another_endpoint() -> None:
    broken = ScriptedBackend("broken", fail_after=0, hold=False)
    good = ScriptedBackend("good", hold=False)
    pool = ModelPool([PoolEndpoint("m", broken), PoolEndpoint("m", good)], settings=quick())
    shown: list[str] = []
    async with running(pool):
        stats = await pool.generate("m", "ravi", REQUEST, _collect(shown))
    assert "".join(shown) == "Ashoka was an emperor." and stats.completion_tokens == 3
    assert broken.started and good.started


async def test_a_failure_after_text_was_shown_is_not_retried_so_nothing_is_shown_twice() -> None:
    flaky = ScriptedBackend("flaky", fail_after=1, hold=False)
    good = ScriptedBackend("good", hold=False)
    pool = ModelPool([PoolEndpoint("m", flaky), PoolEndpoint("m", good, max_concurrent=1)], settings=quick())
    shown: list[str] = []
    async with running(pool):
        with pytest.raises(PartialReply, match="flaky broke"):
            # the least-loaded tie goes to the first endpoint: the flaky one
            await pool.generate("m", "ravi", REQUEST, _collect(shown))
    assert shown == ["Ashoka "] and good.started == []


async def test_a_model_that_sends_nothing_times_out_with_a_clear_error() -> None:
    silent = ScriptedBackend("silent")  # holds until released: never, here
    pool = ModelPool([PoolEndpoint("m", silent)], settings=quick(first_token_timeout_s=0.2, max_attempts=1))
    async with running(pool):
        with pytest.raises(BackendError, match="sent nothing for 0.2 s"):
            await pool.generate("m", "ravi", REQUEST, _ignore)
        assert pool.endpoints_of("m")[0].active == 0, "the slot is free again"


async def test_unhealthy_endpoints_are_skipped_and_a_model_with_none_left_fails_at_once() -> None:
    down = ScriptedBackend("down", healthy=False, hold=False)
    up = ScriptedBackend("up", hold=False)
    pool = ModelPool([PoolEndpoint("m", down), PoolEndpoint("m", up)], settings=quick())
    async with running(pool):
        await wait_until(lambda: pool.endpoints_of("m")[0].healthy is False)
        await pool.generate("m", "ravi", REQUEST, _ignore)
        assert down.started == [] and up.started == ["Who was Ashoka?"]
        up.healthy = False
        pool.endpoints_of("m")[1].recheck.set()  # type: ignore[union-attr]
        await wait_until(lambda: pool.endpoints_of("m")[1].healthy is False)
        with pytest.raises(BackendError, match="the model m is unavailable: down is down; up is down"):
            await pool.generate("m", "ravi", REQUEST, _ignore)


async def test_an_unknown_model_is_refused_by_name() -> None:
    pool = ModelPool([PoolEndpoint("m", ScriptedBackend("x"))], settings=quick())
    async with running(pool):
        with pytest.raises(BackendError, match="'llama-70b' is not configured"):
            await pool.generate("llama-70b", "ravi", REQUEST, _ignore)


async def _ignore(piece: str) -> None:
    pass


def _collect(shown: list[str]) -> Emit:
    async def emit(piece: str) -> None:
        shown.append(piece)

    return emit


class SlowSharedSlots(LocalSlots):
    """Shared slots whose taking waits for the test (as a Redis round trip would)."""

    def __init__(self) -> None:
        super().__init__()
        self.taking = anyio.Event()
        self.proceed = anyio.Event()

    async def try_take(self, key: str, cap: int) -> str | None:
        self.taking.set()
        await self.proceed.wait()
        return await super().try_take(key, cap)

    async def run(self, wake, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
        task_status.started()
        await anyio.sleep_forever()


async def test_a_reply_stopped_while_its_slot_is_being_taken_gives_the_slot_back() -> None:
    slots = SlowSharedSlots()
    backend = ScriptedBackend("remote", hold=False)
    pool = ModelPool([PoolEndpoint("m", backend, max_concurrent=1, shared=True)], settings=quick(), shared_slots=slots)
    async with running(pool) as tg:
        stop = anyio.CancelScope()

        async def ravi() -> None:
            with stop:
                await pool.generate("m", "ravi", ask("ravi"), _ignore)

        tg.start_soon(ravi)
        await slots.taking.wait()
        stop.cancel()  # Ravi leaves while the dispatcher waits on the shared store
        await wait_until(lambda: len(pool._queues["m"]) == 0)
        slots.proceed.set()
        await wait_until(lambda: pool.endpoints_of("m")[0].active == 0 and not slots._taken.get("m|remote"))
        await pool.generate("m", "mei", ask("mei"), _ignore)  # the slot is free for the next one
        assert backend.started == ["mei"]
