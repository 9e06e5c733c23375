"""Which encoder a hub node's `Embedder` uses: the model in this process, or `calma embed-worker`s over Redis.

In-process is the default, with or without `--redis` (one model per node is
fine); `--embed-workers` (`Settings.embed_workers`) sends the work to external
workers on the node's Redis, for deployments that want one model process.
"""

from __future__ import annotations

from calma.config import Settings
from calma.embeddings.model import Embedder, VectorCache
from calma.embeddings.remote import RedisEncoder


def embedder_for(settings: Settings, cache: VectorCache | None) -> Embedder:
    """The node's embedder; `cache` is the store of record's embedding table (`SQLEmbeddingCache`), if any."""
    if not settings.embed_workers:
        return Embedder(store=cache)
    if settings.redis_url is None:
        raise ValueError("embedding workers need Redis: give --redis URL with --embed-workers")
    return Embedder(store=cache, encoder=RedisEncoder(settings.redis_url, timeout_s=settings.embed_timeout_s))
