"""The record of Interact: conversations and their messages, as the store of record holds them.

A conversation belongs to one participant and one model. Its messages are
numbered turns: the participant's, then the model's reply. A reply is stored
when it is queued and rewritten as it streams (text is stored before it is
shown), so a stop, a failure or a crash leaves what was shown, marked
incomplete. Regenerating a reply adds a new reply that `replaces` the old
one; the old one stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from calma.interact.backend import Speaker, Turn


class ReplyStatus(StrEnum):
    QUEUED = "queued"  # waiting for a slot on the model
    STREAMING = "streaming"
    COMPLETE = "complete"
    STOPPED = "stopped"  # the participant pressed stop, or left
    FAILED = "failed"  # the model server failed; `error` says how
    INTERRUPTED = "interrupted"  # the hub stopped (or crashed) mid-reply


UNFINISHED = (ReplyStatus.QUEUED, ReplyStatus.STREAMING)


@dataclass(frozen=True)
class Conversation:
    id: str
    study_id: str
    group_id: str
    participant_id: str
    model: str
    title: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Message:
    """One turn. Participant turns have only the text; replies carry how they were made."""

    id: str
    conversation_id: str
    seq: int
    role: Speaker
    content: str
    status: ReplyStatus
    created_at: float
    replaces: str | None = None
    model: str | None = None
    endpoint: str | None = None
    system_prompt: str | None = None
    sampling: dict[str, Any] | None = None
    error: str | None = None
    completion_tokens: int | None = None
    started_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.status is ReplyStatus.COMPLETE


@dataclass(frozen=True)
class ReplyProgress:
    """A reply's fields that change while it streams and when it ends."""

    content: str
    status: ReplyStatus
    endpoint: str | None = None
    started_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    completion_tokens: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ConversationWithMessages:
    conversation: Conversation
    messages: list[Message] = field(default_factory=list)


def current_messages(messages: list[Message]) -> list[Message]:
    """The conversation as it reads now: replies that were regenerated are left out."""
    replaced = {m.replaces for m in messages if m.replaces}
    return [m for m in messages if m.id not in replaced]


def dialogue(messages: list[Message]) -> tuple[Turn, ...]:
    """What the model sees: the current turns, without empty or failed replies."""
    turns = []
    for message in current_messages(messages):
        if message.role is Speaker.ASSISTANT and (not message.content or message.status is ReplyStatus.FAILED):
            continue
        turns.append(Turn(message.role, message.content))
    return tuple(turns)


class ConversationStore(Protocol):
    async def create_conversation(self, conversation: Conversation) -> Conversation: ...

    async def conversation(self, conversation_id: str) -> Conversation | None: ...

    async def conversations_of(self, study_id: str, participant_id: str | None = None) -> list[Conversation]:
        """A study's conversations (one participant's, if given), oldest first."""
        ...

    async def count_conversations(self, participant_id: str) -> int: ...

    async def messages_of(self, conversation_id: str) -> list[Message]: ...

    async def message(self, message_id: str) -> Message | None: ...

    async def append_message(self, message: Message) -> Message:
        """Store a new turn at the end of its conversation (its `seq` is assigned here)."""
        ...

    async def update_reply(self, message_id: str, progress: ReplyProgress) -> None: ...

    async def interrupt_unfinished(self, created_before: float) -> int:
        """Mark replies created before then and left queued or streaming (by a stop or a crash) as interrupted."""
        ...
