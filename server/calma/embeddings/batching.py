"""`MicroBatcher`: concurrent encode calls that arrive while the encoder is busy go to it as one batch.

No background task: every call queues its request, then takes the lock. The
holder (the leader) takes every request still waiting, up to `max_texts`
texts (a larger single request goes alone), encodes their texts once
(duplicates once) and hands each request its rows or the encoder's error; a
caller whose request a leader already served finds it done when its turn at
the lock comes and returns at once. So an idle encoder starts at once, and
calls that pile up behind a busy one share its next call.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import numpy as np

from calma.embeddings.encoder import Encoder, no_vectors


@dataclass(eq=False)
class _Request:
    texts: list[str]
    done: bool = False
    vectors: np.ndarray = field(default_factory=no_vectors)
    error: Exception | None = None


class MicroBatcher:
    """An `Encoder` that coalesces concurrent calls to another one."""

    def __init__(self, encoder: Encoder, *, max_texts: int = 256) -> None:
        if max_texts < 1:
            raise ValueError("max_texts must be at least 1")
        self.encoder = encoder
        self.max_texts = max_texts
        self.batches = 0  # calls made to the encoder
        self._waiting: list[_Request] = []
        self._lock = anyio.Lock()

    @property
    def waiting(self) -> int:
        """Requests queued and not yet taken by a leader."""
        return len(self._waiting)

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return no_vectors()
        request = _Request(list(texts))
        self._waiting.append(request)
        try:
            async with self._lock:
                while not request.done:
                    await self._serve_next_batch()
        finally:
            if not request.done and request in self._waiting:  # cancelled while queued: nobody needs it
                self._waiting.remove(request)
        if request.error is not None:
            raise request.error
        return request.vectors

    async def _serve_next_batch(self) -> None:
        """Encode the oldest waiting requests (the lock is held)."""
        batch = self._take()
        texts = list(dict.fromkeys(text for request in batch for text in request.texts))
        try:
            self.batches += 1
            vectors = await self.encoder.encode(texts)
            if vectors.ndim != 2 or vectors.shape[0] != len(texts):
                raise RuntimeError(f"the encoder returned an array of shape {vectors.shape} for {len(texts)} texts")
        except Exception as exc:
            for request in batch:
                request.error = _own_copy(exc)
                request.done = True
            return
        except BaseException:  # cancelled (the leader's caller left): the next leader serves the rest
            self._waiting[:0] = [request for request in batch if not request.done]
            raise
        row = {text: index for index, text in enumerate(texts)}
        for request in batch:
            request.vectors = vectors[[row[text] for text in request.texts]]
            request.done = True

    def _take(self) -> list[_Request]:
        batch = [self._waiting.pop(0)]
        count = len(batch[0].texts)
        while self._waiting and count + len(self._waiting[0].texts) <= self.max_texts:
            request = self._waiting.pop(0)
            batch.append(request)
            count += len(request.texts)
        return batch


def _own_copy(exc: Exception) -> Exception:
    """A copy of `exc` caused by it, so that each caller raises with its own traceback."""
    try:
        mine = copy.copy(exc)
    except Exception:  # an exception type that cannot be rebuilt from its args: share the original
        return exc
    mine.__cause__ = exc
    return mine
