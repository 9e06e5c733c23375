"""A model endpoint's cap holds across hub nodes: leases in Redis, shared by every node.

Two hub nodes share one PostgreSQL database and one private redis-server, and
name the same OpenAI-compatible endpoint (a real llama.cpp server) with
`max_concurrent = 1`. Participants on different nodes chatting at once get
one reply at a time. Then `RedisSlots` on its own against the real Redis: the
cap, giving back, renewing, a dead node's lease expiring, and a Redis restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from calma.interact.slots import RedisSlots
from tests.helpers.interact import Chat, ChatStudy, Reply, chat_study, chatting
from tests.helpers.llama_server import LlamaServer, llm_config
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import ServerProcess

ENDPOINT = "gemma-3-270m|http://127.0.0.1:1/v1"  # a slot key, as the pool makes them: model|endpoint


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def llama(tmp_path: Path) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path / "llama").start()
    yield server
    server.stop()


@pytest.fixture
def two_nodes(
    tmp_path: Path, llama: LlamaServer, redis_server: RedisProcess, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two hub nodes on one database, one Redis, one token secret and one endpoint capped at 1."""
    monkeypatch.setenv("CALMA_DATABASE_URL", postgres_url)  # `calma admin` (chat_study's facilitator) reads it
    config = llm_config(tmp_path / "llm.toml", llama.url, max_concurrent=1)
    secret = tmp_path / "shared-secret.key"  # nodes of one deployment share the token secret
    nodes = [
        ServerProcess(tmp_path / f"node-{index}", extra_args=[
            "--database", postgres_url, "--redis", redis_server.url, "--secret-file", str(secret),
            "--llm-config", str(config),
        ])  # fmt: skip
        for index in (1, 2)
    ]
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


# -- two nodes, one endpoint -------------------------------------------------------------------


async def test_two_nodes_never_run_two_generations_at_once_on_an_endpoint_capped_at_one(
    two_nodes: tuple[ServerProcess, ServerProcess], llama: LlamaServer
) -> None:
    node_1, node_2 = two_nodes
    study = chat_study(node_1, max_tokens=16)  # the facilitator and the invites go through node 1
    ravis = study.start_conversation(study.ravi)
    meis = study.start_conversation(study.mei)

    async with chatting(node_1, study.ravi) as ravi, chatting(node_2, study.mei) as mei:
        sent: dict[str, dict[str, Any]] = {}

        async def send(name: str, chat: Chat, conversation: str) -> None:
            answer, reply = await chat.send(conversation, "Who was Ashoka?")
            assert answer["type"] == "ack", answer
            sent[name] = reply

        async with anyio.create_task_group() as tg:  # both press Send at the same moment
            tg.start_soon(send, "Ravi", ravi, ravis["id"])
            tg.start_soon(send, "Mei", mei, meis["id"])
        seen = {"Ravi": await ravi.finished(sent["Ravi"]["id"]), "Mei": await mei.finished(sent["Mei"]["id"])}

    for reply in seen.values():
        assert reply.end is not None and reply.end["status"] == "complete", reply.end
    stored = {  # the facilitator's view: it says which endpoint wrote each reply
        "Ravi": study.conversation(study.facilitator, ravis["id"])["messages"][1],
        "Mei": study.conversation(study.facilitator, meis["id"])["messages"][1],
    }
    for name in stored:
        assert stored[name]["content"] == seen[name].text and stored[name]["endpoint"] == llama.url

    # One got the slot at once; the other, on the other node, waited and was told it was next.
    waited = [name for name in seen if queue_positions(seen[name])]
    assert len(waited) == 1, {name: reply.frames for name, reply in seen.items()}
    second = waited[0]
    first = next(name for name in seen if name != second)
    assert queue_positions(seen[second]) == [0], f"{second} was told they were next: {seen[second].frames}"

    # The generations did not overlap: the one that waited started after the other had finished.
    started = {name: when(stored[name]["started_at"]) for name in stored}
    finished = {name: when(stored[name]["finished_at"]) for name in stored}
    assert sorted(stored, key=started.__getitem__) == [first, second]
    assert started[second] >= finished[first], (
        f"{second}'s reply started before {first}'s had finished: two generations ran at once on an endpoint "
        "capped at one"
    )


def when(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def queue_positions(reply: Reply) -> list[int]:
    return [f["position"] for f in reply.frames if f["type"] == "chat.queue"]


# -- RedisSlots on a real Redis ----------------------------------------------------------------


class Wakes:
    """The wake-ups a running `RedisSlots` gives its pool (a slot may have come free)."""

    def __init__(self) -> None:
        self._woken = anyio.Event()

    def __call__(self) -> None:
        self._woken.set()

    def rearm(self) -> None:
        self._woken = anyio.Event()

    async def wait(self, timeout: float) -> None:
        with anyio.fail_after(timeout):
            await self._woken.wait()


@asynccontextmanager
async def running(slots: RedisSlots) -> AsyncIterator[Wakes]:
    """`slots` running as a node's pool runs it: renewing its leases, hearing release notices."""
    wakes = Wakes()
    async with anyio.create_task_group() as tg:
        await tg.start(slots.run, wakes)
        yield wakes
        tg.cancel_scope.cancel()


async def take_when_free(slots: RedisSlots, key: str, cap: int, timeout: float) -> str:
    """A lease, as soon as one comes free (polling Redis, bounded by `timeout`)."""
    with anyio.fail_after(timeout):
        while (lease := await slots.try_take(key, cap)) is None:
            await anyio.sleep(0.05)  # polling Redis for a condition, bounded by fail_after
    return lease


async def test_the_cap_holds_across_nodes_and_a_slot_given_back_is_free_at_once(redis_server: RedisProcess) -> None:
    node_a, node_b = RedisSlots(redis_server.url), RedisSlots(redis_server.url, poll_s=3600)
    async with running(node_a), running(node_b) as b_woken:
        first = await node_a.try_take(ENDPOINT, 2)
        second = await node_b.try_take(ENDPOINT, 2)
        assert first is not None and second is not None and first != second
        assert await node_a.try_take(ENDPOINT, 2) is None, "a third generation must wait, whichever node asks"
        assert await node_b.try_take(ENDPOINT, 2) is None
        assert await node_b.try_take("another-model|http://elsewhere/v1", 2) is not None, "caps are per endpoint"

        b_woken.rearm()
        await node_a.give_back(ENDPOINT, first)
        await b_woken.wait(timeout=5)  # the release notice wakes the other node's waiters (no 1 h poll)
        third = await node_b.try_take(ENDPOINT, 2)
        assert third is not None
        assert await node_a.try_take(ENDPOINT, 2) is None


async def test_a_dead_nodes_lease_expires_while_a_live_nodes_lease_is_renewed(redis_server: RedisProcess) -> None:
    live = RedisSlots(redis_server.url, lease_s=1.0)
    dying = RedisSlots(redis_server.url, lease_s=1.0)
    other = RedisSlots(redis_server.url)
    async with running(live), running(other):
        kept = await live.try_take(ENDPOINT, 2)
        async with running(dying):
            lost = await dying.try_take(ENDPOINT, 2)
        # That node died holding its slot: it neither gives it back nor renews it any more.
        assert kept is not None and lost is not None
        assert await other.try_take(ENDPOINT, 2) is None

        # The dead node's lease runs out within its 1 s; the live one's, taken earlier, is renewed meanwhile.
        freed = await take_when_free(other, ENDPOINT, 2, timeout=10)
        assert await other.try_take(ENDPOINT, 2) is None, "the live node still holds its slot"
        members = {m.decode() for m in redis_server.client().zrange(RedisSlots.PREFIX + ENDPOINT, 0, -1)}
        assert members == {kept, freed}


async def test_slots_keep_working_after_a_redis_restart(redis_server: RedisProcess) -> None:
    """Regression: `RedisSlots.run` died with its pubsub connection, and took the hub node down with it."""
    node_a, node_b = RedisSlots(redis_server.url), RedisSlots(redis_server.url, poll_s=3600)
    async with running(node_a), running(node_b) as b_woken:
        held = await node_a.try_take(ENDPOINT, 1)
        assert held is not None
        await anyio.to_thread.run_sync(redis_server.stop)
        with anyio.fail_after(30):
            assert await node_b.try_take(ENDPOINT, 1) is None, "while Redis is away no slot can be taken"
        await anyio.to_thread.run_sync(redis_server.start)

        assert await node_b.try_take(ENDPOINT, 1) is None, "the lease survived the restart (AOF)"
        await both_listening_again(redis_server)
        b_woken.rearm()
        await node_a.give_back(ENDPOINT, held)
        await b_woken.wait(timeout=15)  # node B listens for release notices again
        assert await node_b.try_take(ENDPOINT, 1) is not None


async def both_listening_again(redis_server: RedisProcess, timeout: float = 15) -> None:
    """Both nodes subscribed to release notices on the restarted Redis."""
    client = redis_server.client()
    with anyio.fail_after(timeout):
        while dict(client.pubsub_numsub(RedisSlots.RELEASED)).get(RedisSlots.RELEASED.encode(), 0) < 2:
            await anyio.sleep(0.05)  # polling Redis for a condition, bounded by fail_after
    client.close()
