"""One interface for every kind of model server: stream the text of a reply to a conversation.

A backend turns a `GenerationRequest` (system prompt, the turns so far,
sampling settings) into text pieces, handed to `emit` as they arrive, and
returns when the reply is done. It raises `BackendError` when the server
fails (`RequestRejected` when the server refused this request as it is, which
no other endpoint would take either); cancellation (the caller's cancel scope) stops the generation and
frees what it holds before `generate` returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Speaker(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class Sampling:
    """Sampling settings stored with every reply."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass(frozen=True)
class GenerationRequest:
    system_prompt: str
    turns: tuple[Turn, ...]  # ends with the user's turn being answered
    sampling: Sampling = field(default_factory=Sampling)


@dataclass(frozen=True)
class GenerationStats:
    """What a backend reports when a reply ends."""

    completion_tokens: int
    finish_reason: str  # "stop", "length", or "cancelled"


Emit = Callable[[str], Awaitable[None]]


class BackendError(Exception):
    """The model server failed (unreachable, an error status, a broken stream); the message says how.

    The message is for logs and facilitators and may name the endpoint (a URL); `public` is what a
    participant is shown, and never names one.
    """

    def __init__(self, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public if public is not None else message


class RequestRejected(BackendError):
    """The server refused the request itself (an HTTP 4xx such as a prompt beyond its context): not retried."""


class PromptTooLong(RequestRejected):
    """The prompt and the reply's tokens do not fit the model's context or the server's budget (found before queueing)."""


class Backend(Protocol):
    """A model server: one endpoint of the pool."""

    @property
    def label(self) -> str:
        """A short name for logs and the facilitator's view, e.g. `embedded:gemma-3-270m#0` or a URL."""
        ...

    async def generate(self, request: GenerationRequest, emit: Emit) -> GenerationStats:
        """Stream one reply's text to `emit`, piece by piece; return when it is complete."""
        ...

    async def check_health(self) -> None:
        """Return if the endpoint can serve; raise BackendError saying why not."""
        ...

    @property
    def context_tokens(self) -> int | None:
        """The model's context length on this endpoint (prompt and reply together), if known."""
        ...

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        """The prompt's tokens as this endpoint will see them: counted by the model's tokenizer where the
        backend has it, else a conservative (high) estimate."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections, model memory)."""
        ...
