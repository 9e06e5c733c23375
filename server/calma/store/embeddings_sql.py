"""The embedding cache in the store of record (migration 6): a float32 vector per model and text.

Texts are keyed by their SHA-256, so the table holds no participant text.
Written with `ON CONFLICT DO NOTHING`: two nodes embedding the same text at
once both succeed, and the vectors are the same anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from calma.store.sql import SQLDatabase

MAX_KEYS_PER_QUERY = 500


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SQLEmbeddingCache:
    def __init__(self, database: SQLDatabase, model: str) -> None:
        self._db = database
        self.model = model

    async def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {text_key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        items = list(keys.items())
        async with self._db.transaction(write=False) as tx:
            for start in range(0, len(items), MAX_KEYS_PER_QUERY):
                chunk = items[start:start + MAX_KEYS_PER_QUERY]
                marks = ", ".join("?" for _ in chunk)
                rows = await tx.all(
                    f"SELECT text_sha256, dimensions, vector FROM embeddings WHERE model = ? AND text_sha256 IN ({marks})",
                    (self.model, *(key for key, _ in chunk)),
                )
                for row in rows:
                    vector = np.frombuffer(bytes(row["vector"]), dtype=np.float32)
                    if vector.shape == (row["dimensions"],):
                        found[keys[row["text_sha256"]]] = vector
        return found

    async def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        async with self._db.transaction(write=True) as tx:
            await tx.executemany(
                "INSERT INTO embeddings (model, text_sha256, dimensions, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (model, text_sha256) DO NOTHING",
                [(self.model, text_key(text), int(v.shape[0]), v.astype(np.float32).tobytes())
                 for text, v in vectors.items()],
            )
