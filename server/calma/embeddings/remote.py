"""`RedisEncoder`: an `Encoder` that hands its texts to `calma embed-worker` processes over Redis.

For many-node deployments that want one model process instead of one per
node (`calma serve --redis URL --embed-workers`). A call cuts its texts into
jobs of at most `job_size`, pushes them in one LPUSH and waits for each
answer with BLPOP (`jobs.py` has the keys and wire format). If no answer
comes within `timeout_s` of the last one, the call fails with
`EmbeddingUnavailable`, and its jobs still queued are taken back, so a worker
started later does not work for nobody.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import anyio
import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from calma.embeddings.encoder import EmbeddingUnavailable, no_vectors
from calma.embeddings.jobs import JOBS_KEY, Job, reply_key, unpack_reply

log = logging.getLogger(__name__)


def redis_client(url: str) -> aioredis.Redis:
    """A client whose commands reconnect and run again when they meet a dropped connection (Redis restarted)."""
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=8)
    return aioredis.from_url(url, retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError])


def where(client: aioredis.Redis) -> str:
    """host:port/db of a client, for messages (never its password)."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"


class RedisEncoder:
    def __init__(self, url: str, *, timeout_s: float = 10.0, job_size: int = 256) -> None:
        if job_size < 1:
            raise ValueError("job_size must be at least 1")
        self._redis = redis_client(url)
        self.timeout_s = timeout_s
        self.job_size = job_size

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return no_vectors()
        batch = list(texts)
        jobs = [Job(uuid.uuid4().hex, batch[i:i + self.job_size]) for i in range(0, len(batch), self.job_size)]
        answered: list[np.ndarray] = []
        try:
            await self._redis.lpush(JOBS_KEY, *(job.pack() for job in jobs))
            for job in jobs:
                reply = await self._redis.blpop([reply_key(job.id)], timeout=self.timeout_s)
                if reply is None:
                    raise EmbeddingUnavailable(
                        f"no embedding worker answered within {self.timeout_s:g} s; "
                        "start one with `calma embed-worker --redis URL`"
                    )
                answered.append(unpack_reply(reply[1], len(job.texts)))
        except RedisError as exc:
            raise EmbeddingUnavailable(f"cannot reach Redis at {where(self._redis)} for embeddings: {exc}") from exc
        finally:
            if len(answered) < len(jobs):
                await self._take_back(jobs[len(answered):])
        return np.concatenate(answered)

    async def _take_back(self, jobs: list[Job]) -> None:
        """Remove jobs nobody will wait for from the queue (those a worker already took are answered unread)."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for job in jobs:
                        pipe.lrem(JOBS_KEY, 1, job.pack())
                    await pipe.execute()
            except RedisError as exc:
                log.warning("could not take back unanswered embedding jobs; a worker may still do them: %s", exc)

    async def aclose(self) -> None:
        await self._redis.aclose()
