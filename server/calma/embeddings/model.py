"""`Embedder`: texts in, unit vectors out; remembers every vector, batches what it must encode.

Owns the caches in front of an `Encoder` (`encoder.py`): every text's vector is
kept in memory (an LRU) and, given a `store` (the store of record's embedding
table), in the store, so the same text is embedded once, across restarts and
hub nodes. What is missing goes to the encoder through a `MicroBatcher`
(`batching.py`): concurrent calls share one encoder call. The encoder is the
model in this process (`LocalEncoder`, the default) or `calma embed-worker`
processes over Redis (`RedisEncoder`); `factory.embedder_for` picks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from calma.embeddings.batching import MicroBatcher
from calma.embeddings.encoder import (
    DIMENSIONS,
    MODEL_PACKAGE,
    EmbeddingUnavailable,
    Encoder,
    LocalEncoder,
    no_vectors,
    packaged_model_path,
)

__all__ = [
    "DIMENSIONS", "MODEL_PACKAGE", "EmbeddingUnavailable", "Embedder", "Encoder", "LocalEncoder", "VectorCache",
    "packaged_model_path",
]  # fmt: skip


class VectorCache(Protocol):
    async def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...

    async def put_many(self, vectors: dict[str, np.ndarray]) -> None: ...


class Embedder:
    """The embedding service a node uses: caches, then micro-batches, then the encoder.

    `batch_size`: the most texts that concurrent calls put into one encoder
    call (a single larger call goes whole); for the default `LocalEncoder`,
    also the texts per forward pass.
    """

    def __init__(self, *, cache_size: int = 50_000, batch_size: int = 64, show_progress: bool = False,
                 store: VectorCache | None = None, encoder: Encoder | None = None) -> None:
        self.encoder: Encoder = encoder or LocalEncoder(batch_size=batch_size, show_progress=show_progress)
        self._batcher = MicroBatcher(self.encoder, max_texts=batch_size)
        self._store = store
        self.embedded = 0  # texts sent to the encoder (the rest came from a cache)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    @property
    def batches(self) -> int:
        """Calls made to the encoder."""
        return self._batcher.batches

    @property
    def waiting(self) -> int:
        """Calls queued for the encoder's next batch."""
        return self._batcher.waiting

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text, in order."""
        known: dict[str, np.ndarray] = {}
        for text in texts:
            if text in self._cache:
                known[text] = self._cache[text]
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing and self._store is not None:
            stored = await self._store.get_many(missing)
            for text, vector in stored.items():
                self._remember(text, vector)
            known.update(stored)
            missing = [t for t in missing if t not in stored]
        if missing:
            vectors = await self._batcher.encode(missing)
            self.embedded += len(missing)
            fresh = {text: vector.astype(np.float32) for text, vector in zip(missing, vectors, strict=True)}
            for text, vector in fresh.items():
                self._remember(text, vector)
            known.update(fresh)
            if self._store is not None:
                await self._store.put_many(fresh)
        return np.stack([known[t] for t in texts]) if texts else no_vectors()

    async def aclose(self) -> None:
        """Let go of the encoder's connections, if it has any."""
        close = getattr(self.encoder, "aclose", None)
        if close is not None:
            await close()

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._cache[text] = vector
        self._cache.move_to_end(text)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
