"""The embedding job queue on Redis: its keys and wire format, shared by `RedisEncoder` and `calma embed-worker`.

A node pushes jobs (msgpack `{"id", "texts"}`) onto one list with LPUSH;
workers take them from the other end (BRPOP, then RPOP for whatever else is
queued), so the oldest job goes first and each job to exactly one worker. The
answer goes to the job's own reply list (LPUSH, with an expiry), where the node
waits for it with BLPOP: msgpack `{"shape": [n, 384], "vectors": float32
bytes}` or `{"error": message}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from calma.embeddings.encoder import DIMENSIONS, EmbeddingUnavailable

JOBS_KEY = "calma:embed:jobs"
REPLY_PREFIX = "calma:embed:reply:"
REPLY_TTL_S = 60  # an answer nobody took (its caller gave up) is gone after this long
MAX_TEXTS_PER_JOB = 10_000
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MalformedJob(ValueError):
    """A queued job cannot be read; `job_id` is set when the answer can still be addressed."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


@dataclass(frozen=True)
class Job:
    id: str
    texts: list[str]

    def pack(self) -> bytes:
        return bytes(msgpack.packb({"id": self.id, "texts": self.texts}))


def reply_key(job_id: str) -> str:
    return REPLY_PREFIX + job_id


def unpack_job(raw: bytes) -> Job:
    try:
        fields: Any = msgpack.unpackb(raw)
    except (ValueError, msgpack.UnpackException) as exc:
        raise MalformedJob(f"not msgpack ({type(exc).__name__}: {exc})") from exc
    if not isinstance(fields, dict):
        raise MalformedJob("not a map")
    job_id, texts = fields.get("id"), fields.get("texts")
    if not isinstance(job_id, str) or JOB_ID.fullmatch(job_id) is None:
        raise MalformedJob("no usable id (1 to 64 letters, digits, - or _)")
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise MalformedJob("texts must be a list of strings", job_id)
    if not 1 <= len(texts) <= MAX_TEXTS_PER_JOB:
        raise MalformedJob(f"a job holds 1 to {MAX_TEXTS_PER_JOB} texts, not {len(texts)}", job_id)
    return Job(job_id, texts)


def pack_vectors(vectors: np.ndarray) -> bytes:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    return bytes(msgpack.packb({"shape": list(matrix.shape), "vectors": matrix.tobytes()}))


def pack_error(message: str) -> bytes:
    return bytes(msgpack.packb({"error": message}))


def unpack_reply(raw: bytes, texts: int) -> np.ndarray:
    """The vectors of a job of `texts` texts; `EmbeddingUnavailable` if the worker failed or answered nonsense."""
    try:
        fields: Any = msgpack.unpackb(raw)
        if not isinstance(fields, dict):
            raise TypeError("not a map")
        if "error" in fields:
            raise EmbeddingUnavailable(f"the embedding worker failed: {fields['error']}")
        shape = tuple(fields["shape"])
        vectors = np.frombuffer(fields["vectors"], dtype=np.float32).reshape(shape)
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
        raise EmbeddingUnavailable(f"the embedding worker's answer cannot be read: {exc}") from exc
    if shape != (texts, DIMENSIONS):
        raise EmbeddingUnavailable(f"the embedding worker answered {shape} for {texts} texts")
    return vectors
