"""The embedding service: `calma embed-worker` on a real Redis with the real MiniLM, the micro-batcher, the store cache.

The worker runs in this process (its `EmbedWorker` in a task group) where a
test needs its counters, and as `python -m calma embed-worker` (and under
`calma cluster`) where the command itself is under test. The micro-batcher's
tests use a counting stand-in encoder: they test our coalescing, not the model.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import msgpack
import numpy as np
import pytest
import redis.asyncio as aioredis

from calma.config import Settings
from calma.embeddings.encoder import DIMENSIONS, MODEL_PACKAGE, EmbeddingUnavailable, LocalEncoder
from calma.embeddings.factory import embedder_for
from calma.embeddings.jobs import JOBS_KEY, Job, reply_key, unpack_reply
from calma.embeddings.model import Embedder
from calma.embeddings.remote import RedisEncoder, redis_client
from calma.embeddings.worker import EmbedWorker
from calma.store.embeddings_sql import SQLEmbeddingCache
from calma.store.factory import room_store
from calma.store.sql import SQLDatabase
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import REPO, free_port

LABELS = [
    "safety-conscious", "careful about safety", "Eurocentric perspective", "sparks curiosity",
    "honest about uncertainty", "inclusive of women", "cites sources",
]  # fmt: skip
WAIT_S = 60.0  # bound on any wait that includes loading the model


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@asynccontextmanager
async def workers(url: str, count: int = 1, *, batch_size: int = 64) -> AsyncIterator[list[EmbedWorker]]:
    """`count` in-process workers on `url`, stopped (after their batch in hand) on the way out."""
    clients = [redis_client(url) for _ in range(count)]
    running = [EmbedWorker(client, LocalEncoder(), batch_size=batch_size, block_s=0.1) for client in clients]
    try:
        async with anyio.create_task_group() as tg:
            for worker in running:
                await tg.start(worker.run)
            try:
                yield running
            finally:
                for worker in running:
                    worker.stop()
    finally:
        for client in clients:
            await client.aclose()


async def local(texts: Sequence[str]) -> np.ndarray:
    return await LocalEncoder().encode(texts)


# --- a worker answers RedisEncoder --------------------------------------------------------------------------


async def test_a_worker_answers_with_the_vectors_the_model_gives_in_process(redis_url: str) -> None:
    expected = await local(LABELS)
    encoder = RedisEncoder(redis_url, timeout_s=WAIT_S, job_size=3)  # three jobs, answered in order
    try:
        async with workers(redis_url):
            with anyio.fail_after(WAIT_S):
                remote = await encoder.encode(LABELS)
    finally:
        await encoder.aclose()
    assert remote.shape == (len(LABELS), DIMENSIONS) and remote.dtype == np.float32
    assert np.allclose(remote, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(remote, axis=1), 1.0, atol=1e-5)


async def test_a_node_set_for_embed_workers_embeds_through_them(redis_url: str) -> None:
    embedder = embedder_for(Settings(redis_url=redis_url, embed_workers=True, embed_timeout_s=WAIT_S), None)
    assert isinstance(embedder.encoder, RedisEncoder)
    try:
        async with workers(redis_url) as [worker]:
            with anyio.fail_after(WAIT_S):
                vectors = await embedder.embed([*LABELS, LABELS[0]])
                again = await embedder.embed(LABELS[:2])
    finally:
        await embedder.aclose()
    assert np.allclose(vectors[:-1], await local(LABELS), atol=1e-5) and np.array_equal(vectors[0], vectors[-1])
    assert np.array_equal(again, vectors[:2])
    assert worker.jobs_answered == 1 and embedder.embedded == len(LABELS), "asked once, and each text once"


def test_embedder_for_runs_the_model_in_process_unless_told_otherwise() -> None:
    assert isinstance(embedder_for(Settings(), None).encoder, LocalEncoder)
    assert isinstance(embedder_for(Settings(redis_url="redis://127.0.0.1:1/0"), None).encoder, LocalEncoder)
    with pytest.raises(ValueError, match="need Redis"):
        embedder_for(Settings(embed_workers=True), None)


async def test_concurrent_callers_each_get_their_own_answer(redis_url: str) -> None:
    asks = {f"node-{i}": [f"{label} ({i})" for label in LABELS[i:i + 3]] for i in range(4)}
    encoders = {name: RedisEncoder(redis_url, timeout_s=WAIT_S) for name in asks}  # as from four nodes
    answers: dict[str, np.ndarray] = {}

    async def ask(name: str) -> None:
        answers[name] = await encoders[name].encode(asks[name])

    try:
        async with workers(redis_url):
            with anyio.fail_after(WAIT_S):
                async with anyio.create_task_group() as tg:
                    for name in asks:
                        tg.start_soon(ask, name)
    finally:
        for encoder in encoders.values():
            await encoder.aclose()
    for name, texts in asks.items():
        assert np.allclose(answers[name], await local(texts), atol=1e-5), name


async def test_with_two_workers_each_job_is_answered_once(redis_url: str) -> None:
    jobs = [Job(f"job-{i}", [f"label number {i}"]) for i in range(40)]
    client = aioredis.from_url(redis_url)
    try:
        async with workers(redis_url, 2, batch_size=4) as running:
            await client.lpush(JOBS_KEY, *(job.pack() for job in jobs))
            with anyio.fail_after(WAIT_S):
                replies = [await client.blpop([reply_key(job.id)], timeout=WAIT_S) for job in jobs]
        assert all(reply is not None for reply in replies)
        vectors = np.concatenate([unpack_reply(reply[1], 1) for reply in replies if reply is not None])
        assert np.allclose(vectors, await local([job.texts[0] for job in jobs]), atol=1e-5)
        # Nothing else was answered: no second reply waits on any key, and the workers count 40 in all.
        assert [await client.llen(reply_key(job.id)) for job in jobs] == [0] * len(jobs)
        assert sum(worker.jobs_answered for worker in running) == len(jobs)
        assert all(worker.jobs_answered > 0 for worker in running), "both workers took jobs"
        assert all(worker.batches < worker.jobs_answered for worker in running), "jobs queued together share a batch"
        assert await client.llen(JOBS_KEY) == 0
    finally:
        await client.aclose()


async def test_without_a_worker_a_call_fails_clearly_within_the_timeout(redis_url: str) -> None:
    embedder = Embedder(encoder=RedisEncoder(redis_url, timeout_s=0.5))
    client = aioredis.from_url(redis_url)
    try:
        with anyio.fail_after(10), pytest.raises(EmbeddingUnavailable) as caught:
            await embedder.embed(["nobody will embed this"])
        assert str(caught.value) == (
            "no embedding worker answered within 0.5 s; start one with `calma embed-worker --redis URL`"
        )
        assert await client.llen(JOBS_KEY) == 0, "the unanswered job was taken back"
    finally:
        await client.aclose()
        await embedder.aclose()


async def test_an_unreachable_redis_is_embedding_unavailable() -> None:
    encoder = RedisEncoder(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    try:
        with anyio.fail_after(30), pytest.raises(EmbeddingUnavailable, match="cannot reach Redis at 127.0.0.1:"):
            await encoder.encode(["x"])
    finally:
        await encoder.aclose()


async def test_malformed_jobs_are_answered_or_skipped_and_the_worker_keeps_working(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="calma.embeddings.worker")
    client = aioredis.from_url(redis_url)
    encoder = RedisEncoder(redis_url, timeout_s=WAIT_S)
    try:
        async with workers(redis_url) as [worker]:
            await client.lpush(
                JOBS_KEY,
                b"\xc1 not msgpack",
                msgpack.packb([1, 2, 3]),
                msgpack.packb({"id": "../../etc", "texts": ["x"]}),
                msgpack.packb({"id": "bad-texts", "texts": "not a list"}),
                msgpack.packb({"id": "no-texts", "texts": []}),
            )
            with anyio.fail_after(WAIT_S):
                for job_id, problem in (("bad-texts", "texts must be a list"), ("no-texts", "1 to 10000 texts")):
                    reply = await client.blpop([reply_key(job_id)], timeout=WAIT_S)
                    assert reply is not None
                    with pytest.raises(EmbeddingUnavailable, match=f"malformed job: .*{problem}"):
                        unpack_reply(reply[1], 1)
                vectors = await encoder.encode(LABELS[:2])
        assert worker.jobs_answered == 3, "two error answers and the good job"
    finally:
        await encoder.aclose()
        await client.aclose()
    assert np.allclose(vectors, await local(LABELS[:2]), atol=1e-5)
    malformed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("malformed embedding job")]
    assert len(malformed) == 5, malformed
    assert any("not msgpack" in m for m in malformed) and any("no usable id" in m for m in malformed)


async def test_a_model_failure_is_the_answer_to_every_job_in_the_batch(redis_url: str) -> None:
    class Broken:
        async def encode(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("the model fell over")

    client = redis_client(redis_url)
    worker = EmbedWorker(client, Broken(), block_s=0.1)
    jobs = [Job(f"doomed-{i}", [f"text {i}"]) for i in range(3)]
    try:
        await client.lpush(JOBS_KEY, *(job.pack() for job in jobs))
        async with anyio.create_task_group() as tg:
            await tg.start(worker.run)
            with anyio.fail_after(10):
                for job in jobs:
                    reply = await client.blpop([reply_key(job.id)], timeout=10)
                    assert reply is not None
                    with pytest.raises(EmbeddingUnavailable, match="the embedding worker failed: the model fell over"):
                        unpack_reply(reply[1], 1)
            worker.stop()
        assert worker.batches == 1 and worker.jobs_answered == 3
    finally:
        await client.aclose()


# --- the command ---------------------------------------------------------------------------------------------


async def test_calma_embed_worker_answers_and_stops_on_sigterm(redis_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "calma", "embed-worker", "--redis", redis_url, "--batch-size", "8"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    encoder = RedisEncoder(redis_url, timeout_s=WAIT_S)
    try:
        with anyio.fail_after(WAIT_S):
            vectors = await encoder.encode(LABELS)
        assert np.allclose(vectors, await local(LABELS), atol=1e-5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_path.read_text()
        assert "embedding worker stopped" in log_path.read_text()
    finally:
        await encoder.aclose()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_calma_serve_refuses_embed_workers_without_redis(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "calma", "serve", "--embed-workers", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--embed-workers needs --redis URL" in done.stderr


async def test_calma_cluster_runs_one_embed_worker_for_its_nodes(tmp_path: Path) -> None:
    import psutil

    from tests.test_cluster import start_cluster, stop_cluster

    cluster = start_cluster(tmp_path, 1)
    try:
        state = cluster.state()
        worker = psutil.Process(state["embed_worker"]["pid"])
        assert "embed-worker" in worker.cmdline()
        node = psutil.Process(state["nodes"][0]["pid"])
        assert "--embed-workers" in node.cmdline()
        encoder = RedisEncoder(state["redis"]["url"], timeout_s=WAIT_S)
        try:
            with anyio.fail_after(WAIT_S):
                vectors = await encoder.encode(LABELS[:3])
        finally:
            await encoder.aclose()
        assert np.allclose(vectors, await local(LABELS[:3]), atol=1e-5)
        cluster.process.send_signal(signal.SIGTERM)
        assert cluster.process.wait(timeout=30) == 0, cluster.log()
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    finally:
        stop_cluster(cluster)


# --- the micro-batcher (a stand-in encoder: this tests our coalescing) -----------------------------------------


def fake_vectors(texts: Sequence[str]) -> np.ndarray:
    rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=DIMENSIONS)
            for t in texts]  # fmt: skip
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


class CountingEncoder:
    """Records every call; calls numbered in `hold` wait for `release(n)`; calls in `fail` raise."""

    def __init__(self, hold: Sequence[int] = (), fail: dict[int, Exception] | None = None) -> None:
        self.calls: list[list[str]] = []
        self._held = {n: anyio.Event() for n in hold}
        self._entered = {n: anyio.Event() for n in hold}
        self._fail = fail or {}

    async def entered(self, n: int) -> None:
        with anyio.fail_after(10):
            await self._entered[n].wait()

    def release(self, n: int) -> None:
        self._held[n].set()

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        n = len(self.calls)
        if n in self._held:
            self._entered[n].set()
            await self._held[n].wait()
        if n in self._fail:
            raise self._fail[n]
        return fake_vectors(texts)


async def test_calls_that_arrive_while_the_encoder_is_busy_share_one_call() -> None:
    encoder = CountingEncoder(hold=[1])
    embedder = Embedder(encoder=encoder)
    answers: dict[str, np.ndarray] = {}
    asks = {f"caller-{i}": [f"own text {i}", "shared text"] for i in range(5)}

    async def ask(name: str, texts: list[str]) -> None:
        answers[name] = await embedder.embed(texts)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "first", ["first text"])
            await encoder.entered(1)
            for name, texts in asks.items():
                tg.start_soon(ask, name, texts)
            await anyio.wait_all_tasks_blocked()
            assert embedder.waiting == 5
            encoder.release(1)
    # One call for everything that queued up behind the first, each text once.
    assert encoder.calls == [["first text"], ["own text 0", "shared text", *(f"own text {i}" for i in range(1, 5))]]
    assert embedder.batches == 2
    for name, texts in {"first": ["first text"], **asks}.items():
        assert np.allclose(answers[name], fake_vectors(texts)), name


async def test_a_batch_holds_at_most_batch_size_texts_but_a_larger_call_goes_whole() -> None:
    encoder = CountingEncoder(hold=[1])
    embedder = Embedder(encoder=encoder, batch_size=3)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(embedder.embed, ["x0"])
            await encoder.entered(1)
            for i in range(1, 6):
                tg.start_soon(embedder.embed, [f"x{i}"])
            await anyio.wait_all_tasks_blocked()
            encoder.release(1)
        assert encoder.calls == [["x0"], ["x1", "x2", "x3"], ["x4", "x5"]]
        await embedder.embed([f"y{i}" for i in range(7)])
    assert encoder.calls[-1] == [f"y{i}" for i in range(7)]


async def test_an_encoder_error_reaches_every_caller_in_the_batch() -> None:
    failure = RuntimeError("the model fell over")
    encoder = CountingEncoder(hold=[1], fail={2: failure})
    embedder = Embedder(encoder=encoder)
    outcomes: dict[str, object] = {}

    async def ask(name: str) -> None:
        try:
            outcomes[name] = await embedder.embed([name])
        except RuntimeError as exc:
            outcomes[name] = exc

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "first")
            await encoder.entered(1)
            for i in range(4):
                tg.start_soon(ask, f"second-{i}")
            await anyio.wait_all_tasks_blocked()
            encoder.release(1)
    assert isinstance(outcomes.pop("first"), np.ndarray)
    assert len(outcomes) == 4 and len(encoder.calls) == 2
    for outcome in outcomes.values():
        assert isinstance(outcome, RuntimeError) and str(outcome) == "the model fell over"
        assert outcome is failure or outcome.__cause__ is failure
    # Nothing was remembered from the failed batch: the next call asks again, and is answered.
    with anyio.fail_after(10):
        vectors = await embedder.embed(["second-0"])
    assert encoder.calls[-1] == ["second-0"] and np.allclose(vectors, fake_vectors(["second-0"]))


async def test_a_leader_cancelled_mid_batch_leaves_the_rest_of_its_batch_to_the_next() -> None:
    encoder = CountingEncoder(hold=[1, 2])
    embedder = Embedder(encoder=encoder)
    answers: dict[str, np.ndarray] = {}
    scopes: dict[str, anyio.CancelScope] = {}

    async def ask(name: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[name] = scope
            answers[name] = await embedder.embed([name])

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "a")
            await encoder.entered(1)
            tg.start_soon(ask, "b")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(ask, "c")
            await anyio.wait_all_tasks_blocked()
            encoder.release(1)
            await encoder.entered(2)  # b leads the batch [b, c]
            scopes["b"].cancel()
    assert encoder.calls == [["a"], ["b", "c"], ["c"]]
    assert sorted(answers) == ["a", "c"] and embedder.waiting == 0


# --- the store cache ------------------------------------------------------------------------------------------


async def test_vectors_a_worker_made_are_in_the_store_so_no_node_embeds_them_again(
    redis_url: str, tmp_path: Path
) -> None:
    # tests/test_canvas_placement.py covers the cache with the model in process, on SQLite and PostgreSQL;
    # here the first node embeds through a worker, and a second node (another encoder) reads the store.
    store = room_store(Settings(data_dir=tmp_path))
    assert isinstance(store, SQLDatabase)
    await store.open()
    try:
        first = Embedder(store=SQLEmbeddingCache(store, MODEL_PACKAGE), encoder=RedisEncoder(redis_url, timeout_s=WAIT_S))
        try:
            async with workers(redis_url):
                with anyio.fail_after(WAIT_S):
                    vectors = await first.embed(LABELS)
        finally:
            await first.aclose()
        counting = CountingEncoder()
        second = Embedder(store=SQLEmbeddingCache(store, MODEL_PACKAGE), encoder=counting)
        again = await second.embed([*LABELS, "a text nobody embedded"])
        assert counting.calls == [["a text nobody embedded"]], "only the new text went to an encoder"
        assert second.embedded == 1 and np.array_equal(again[:-1], vectors)
        await second.embed(LABELS)
        assert len(counting.calls) == 1, "and memory answers the rest"
    finally:
        await store.close()
