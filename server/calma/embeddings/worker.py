"""`calma embed-worker --redis URL`: one model process serving every hub node's embedding jobs.

Owns the worker loop: wait for a job (BRPOP), take whatever else is queued up
to `batch_size` texts (RPOP), encode them in one model call (`LocalEncoder`,
loaded at start) and push each job its answer, or the error, to its reply list
with an expiry (`jobs.py`). Several workers may run on one Redis; each job
goes to exactly one. A job that cannot be read is answered with an error if
it names its id, else logged and dropped; neither stops the worker. SIGTERM
or SIGINT: the worker finishes the batch in hand and exits.
"""

from __future__ import annotations

import logging
import signal

import anyio
import redis.asyncio as aioredis
from anyio.abc import TaskStatus
from redis.exceptions import RedisError

from calma.embeddings.encoder import EmbeddingUnavailable, Encoder, LocalEncoder
from calma.embeddings.jobs import (
    JOBS_KEY,
    REPLY_TTL_S,
    Job,
    MalformedJob,
    pack_error,
    pack_vectors,
    reply_key,
    unpack_job,
)
from calma.embeddings.remote import redis_client, where

log = logging.getLogger(__name__)

BLOCK_S = 1.0  # how long one BRPOP waits: also how soon a stop request is noticed when idle
RETRY_S = 1.0  # after Redis failed a command (beyond the client's own retries)


class EmbedWorker:
    """Answers jobs from `JOBS_KEY` with `encoder` until `stop()`."""

    def __init__(self, client: aioredis.Redis, encoder: Encoder, *, batch_size: int = 64,
                 block_s: float = BLOCK_S, reply_ttl_s: int = REPLY_TTL_S) -> None:
        self._redis = client
        self._encoder = encoder
        self.batch_size = batch_size
        self._block_s = block_s
        self._reply_ttl_s = reply_ttl_s
        self._stopping = False
        self.jobs_answered = 0  # with vectors or an error
        self.batches = 0  # model calls

    def stop(self) -> None:
        """Finish the batch in hand, take no more jobs, and let `run` return."""
        self._stopping = True

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while not self._stopping:
            try:
                jobs = await self._take()
                if jobs:
                    await self._answer(jobs)
            except RedisError as exc:
                log.error("Redis failed (%s); trying again in %s s", exc, RETRY_S, extra={"redis": where(self._redis)})
                await anyio.sleep(RETRY_S)  # a back-off, not a synchronization

    async def _take(self) -> list[Job]:
        """The oldest job, waiting up to `block_s` for one, and whatever else is queued, up to `batch_size` texts."""
        first = await self._redis.brpop([JOBS_KEY], timeout=self._block_s)
        if first is None:
            return []
        jobs: list[Job] = []
        raw: bytes | None = first[1]
        texts = 0
        while raw is not None:
            job = await self._read(raw)
            if job is not None:
                jobs.append(job)
                texts += len(job.texts)
            if texts >= self.batch_size:
                break
            raw = await self._redis.rpop(JOBS_KEY)
        return jobs

    async def _read(self, raw: bytes) -> Job | None:
        try:
            return unpack_job(raw)
        except MalformedJob as exc:
            log.warning("malformed embedding job: %s", exc, extra={"job": exc.job_id, "bytes": len(raw)})
            if exc.job_id is not None:
                await self._reply({exc.job_id: pack_error(f"malformed job: {exc}")})
            return None

    async def _answer(self, jobs: list[Job]) -> None:
        texts = list(dict.fromkeys(text for job in jobs for text in job.texts))
        self.batches += 1
        try:
            vectors = await self._encoder.encode(texts)
        except Exception as exc:
            log.exception("embedding %d texts failed; every job in the batch gets the error", len(texts))
            error = pack_error(str(exc) or type(exc).__name__)
            await self._reply({job.id: error for job in jobs})
            return
        row = {text: index for index, text in enumerate(texts)}
        await self._reply({job.id: pack_vectors(vectors[[row[text] for text in job.texts]]) for job in jobs})
        log.debug("answered %d jobs (%d texts) in one batch", len(jobs), len(texts))

    async def _reply(self, answers: dict[str, bytes]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id, answer in answers.items():
                pipe.lpush(reply_key(job_id), answer)
                pipe.expire(reply_key(job_id), self._reply_ttl_s)
            await pipe.execute()
        self.jobs_answered += len(answers)


async def serve(url: str, *, batch_size: int = 64) -> int:
    """Load the model, then answer jobs until SIGTERM or SIGINT; the exit status."""
    client = redis_client(url)
    encoder = LocalEncoder(batch_size=batch_size)
    worker = EmbedWorker(client, encoder, batch_size=batch_size)
    status = 0
    try:
        async with anyio.create_task_group() as tg:

            async def stop_on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        log.info("received %s; stopping after the batch in hand", signal.Signals(signum).name)
                        worker.stop()
                        return

            tg.start_soon(stop_on_signals)
            try:
                await client.ping()
                await encoder.load()
            except RedisError as exc:
                log.error("cannot reach Redis at %s: %s", where(client), exc)
                status = 1
            except EmbeddingUnavailable as exc:
                log.error("cannot load the embedding model: %s", exc)
                status = 1
            else:
                log.info("embedding worker ready", extra={"redis": where(client), "batch_size": batch_size})
                await worker.run()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()
    log.info("embedding worker stopped", extra={"jobs": worker.jobs_answered, "batches": worker.batches})
    return status


def main(url: str, *, batch_size: int = 64, log_level: str = "info") -> int:
    from calma.observability.logs import configure

    configure(log_level)
    return anyio.run(lambda: serve(url, batch_size=batch_size))
