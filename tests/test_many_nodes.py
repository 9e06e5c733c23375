"""Hub nodes that share a room through Redis: convergence, presence, node crashes, Redis restarts, compaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from tests.helpers.raw_client import record_labels, write_labels
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts
from tests.test_awareness import PresencePeer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis")
    process.start()
    yield process
    process.stop()


def start_nodes(
    tmp_path: Path, redis_server: RedisProcess, database: str, count: int, *extra: str
) -> list[ServerProcess]:
    """`count` hub nodes on one Redis and one PostgreSQL store of record (and one token secret)."""
    nodes = []
    for index in range(count):
        node = ServerProcess(tmp_path / "data", extra_args=["--redis", redis_server.url, "--database", database, *extra])
        node.log_path = tmp_path / f"node-{index}.log"
        node.start()
        nodes.append(node)
    return nodes


@pytest.fixture
def two_nodes(tmp_path: Path, redis_server: RedisProcess, postgres_url: str) -> Iterator[list[ServerProcess]]:
    nodes = start_nodes(tmp_path, redis_server, postgres_url, 2)
    yield nodes
    for node in nodes:
        node.stop()


async def test_clients_on_two_nodes_converge_and_see_each_other(two_nodes: list[ServerProcess]) -> None:
    a, b = two_nodes
    async with connect_doc(a.room_url("shared")) as on_a, connect_doc(b.room_url("shared")) as on_b:
        add_label(on_a.doc, "written on node A")
        add_label(on_b.doc, "written on node B")
        both = {"written on node A", "written on node B"}
        await on_a.wait_for(lambda doc: set(label_texts(doc)) == both)
        await on_b.wait_for(lambda doc: set(label_texts(doc)) == both)

    async with connect(a.room_url("presence")) as ana_ws, connect(b.room_url("presence")) as ben_ws:
        ana, ben = PresencePeer(ana_ws), PresencePeer(ben_ws)
        await ben.say({"user": {"name": "Ben"}})
        await ana.wait_until(lambda states: any(s.get("user", {}).get("name") == "Ben" for s in states.values()))


async def test_kill_9_of_a_node_mid_stream_loses_nothing_any_client_received(
    tmp_path: Path, redis_server: RedisProcess, postgres_url: str
) -> None:
    a, b = start_nodes(tmp_path, redis_server, postgres_url, 2)
    try:
        url_a, url_b = a.room_url("crash"), b.room_url("crash")
        seen_on_a: set[str] = set()
        seen_on_b: set[str] = set()
        enough = anyio.Event()

        def check() -> None:
            if len(seen_on_b) >= 60:
                enough.set()

        async def kill_a_when_enough() -> None:
            await enough.wait()
            await anyio.to_thread.run_sync(a.kill9)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(record_labels, url_a, seen_on_a)
                tg.start_soon(record_labels, url_b, seen_on_b, check)
                tg.start_soon(kill_a_when_enough)
                for writer in ("w1", "w2"):
                    tg.start_soon(write_labels, url_a, writer, 2_000)
                await enough.wait()
                tg.cancel_scope.cancel()

        received = seen_on_a | seen_on_b
        async with connect_doc(url_b) as reconnected:  # A's clients come back through B
            await reconnected.wait_for(lambda doc: received <= set(label_texts(doc)), timeout=15)
    finally:
        a.stop()
        b.stop()


async def test_a_redis_restart_loses_nothing_acknowledged(two_nodes: list[ServerProcess], redis_server: RedisProcess) -> None:
    a, b = two_nodes
    async with connect_doc(a.room_url("restart")) as writer, connect_doc(b.room_url("restart")) as witness:
        add_label(writer.doc, "before the restart")
        await witness.wait_for(lambda doc: "before the restart" in label_texts(doc))
    await anyio.to_thread.run_sync(redis_server.stop)
    await anyio.to_thread.run_sync(redis_server.start)

    # The nodes reconnect by themselves; a client that connects after the restart writes and reads through them.
    async with connect_doc(b.room_url("restart")) as witness, connect_doc(a.room_url("restart")) as writer:
        assert "before the restart" in label_texts(witness.doc)
        add_label(writer.doc, "after the restart")
        await witness.wait_for(lambda doc: "after the restart" in label_texts(doc), timeout=20)


def metric(node: ServerProcess, name: str) -> float:
    for line in httpx.get(f"{node.http_url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def test_compaction_happens_once_per_round_across_nodes_and_loses_nothing(
    tmp_path: Path, redis_server: RedisProcess, postgres_url: str
) -> None:
    nodes = start_nodes(tmp_path, redis_server, postgres_url, 2, "--compact-after", "25")
    try:
        a, b = nodes
        expected = {f"{w}-{i}" for w in ("a", "b") for i in range(150)}
        async with connect_doc(a.room_url("folded")) as witness:
            async with anyio.create_task_group() as tg:
                tg.start_soon(write_labels, a.room_url("folded"), "a", 150)
                tg.start_soon(write_labels, b.room_url("folded"), "b", 150)
            await witness.wait_for(lambda doc: set(label_texts(doc)) == expected, timeout=30)
        # Every node applies every update of the room; a round is 25 of them, and only one node folds it.
        rounds = max(metric(a, "calma_updates_total"), metric(b, "calma_updates_total")) // 25
        total = metric(a, "calma_compactions_total") + metric(b, "calma_compactions_total")
        assert 1 <= total <= rounds, f"{total} compactions for {rounds} rounds of updates"
        # Trimming waits for every node serving the room to have read what it trims. Once both nodes
        # have reported reading to the end, the next round's fold trims everything before it.
        redis = redis_server.client()
        last_id = redis.xrevrange("calma:room:{folded}:updates", count=1)[0][0].decode()
        with anyio.fail_after(20):
            while not all(
                value.decode().startswith(last_id + "@")
                for value in redis.hgetall("calma:room:{folded}:progress").values()
            ) or len(redis.hgetall("calma:room:{folded}:progress")) < 2:
                await anyio.sleep(0.05)  # polling Redis for a condition, bounded by fail_after
        await write_labels(a.room_url("folded"), "late", 30)
        with anyio.fail_after(20):
            while redis.xlen("calma:room:{folded}:updates") > 100:
                await anyio.sleep(0.05)  # polling Redis for a condition, bounded by fail_after
        expected |= {f"late-{i}" for i in range(30)}
    finally:
        for node in nodes:
            node.stop()
    fresh = start_nodes(tmp_path, redis_server, postgres_url, 1)[0]
    try:
        async with connect_doc(fresh.room_url("folded")) as reader:
            assert set(label_texts(reader.doc)) == expected
    finally:
        fresh.stop()
