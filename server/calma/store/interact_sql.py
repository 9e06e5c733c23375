"""The `ConversationStore` in SQL, for both stores of record (migration 3's tables).

Like `studies_sql.py`: `?` placeholders, one transaction per method, JSON as
text. A message's `seq` is assigned inside the insert's transaction (the
unique index on conversation and seq guards it).
"""

from __future__ import annotations

import json
import time
from typing import Any

from calma.interact.backend import Speaker
from calma.interact.conversations import Conversation, Message, ReplyProgress, ReplyStatus, UNFINISHED
from calma.store.base import StoreError
from calma.store.sql import Row, SQLDatabase

CONVERSATION_COLUMNS = "id, study_id, group_id, participant_id, model, title, created_at, updated_at"
MESSAGE_COLUMNS = (
    "id, conversation_id, seq, role, content, status, replaces, model, endpoint, system_prompt, sampling, error,"
    " completion_tokens, created_at, started_at, first_token_at, finished_at"
)


class SQLConversationStore:
    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    async def create_conversation(self, conversation: Conversation) -> Conversation:
        c = conversation
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (c.id, c.study_id, c.group_id, c.participant_id, c.model, c.title, c.created_at, c.updated_at),
            )
        return conversation

    async def conversation(self, conversation_id: str) -> Conversation | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
        return None if row is None else _conversation(row)

    async def conversations_of(self, study_id: str, participant_id: str | None = None) -> list[Conversation]:
        async with self._db.transaction(write=False) as tx:
            if participant_id is None:
                rows = await tx.all(
                    f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE study_id = ? ORDER BY created_at, id",
                    (study_id,),
                )
            else:
                rows = await tx.all(
                    f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE study_id = ? AND participant_id = ?"
                    " ORDER BY created_at, id",
                    (study_id, participant_id),
                )
        return [_conversation(row) for row in rows]

    async def count_conversations(self, participant_id: str) -> int:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT COUNT(*) AS n FROM conversations WHERE participant_id = ?", (participant_id,))
        return int(row["n"]) if row else 0

    async def messages_of(self, conversation_id: str) -> list[Message]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            )
        return [_message(row) for row in rows]

    async def message(self, message_id: str) -> Message | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return None if row is None else _message(row)

    async def append_message(self, message: Message) -> Message:
        m = message
        async with self._db.transaction(write=True) as tx:
            row = await tx.one(
                "SELECT COALESCE(MAX(seq), 0) AS last FROM messages WHERE conversation_id = ?", (m.conversation_id,)
            )
            seq = int(row["last"] if row else 0) + 1
            await tx.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m.id, m.conversation_id, seq, m.role.value, m.content, m.status.value, m.replaces, m.model,
                 m.endpoint, m.system_prompt, None if m.sampling is None else json.dumps(m.sampling), m.error,
                 m.completion_tokens, m.created_at, m.started_at, m.first_token_at, m.finished_at),
            )
            await tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (m.created_at, m.conversation_id))
        return Message(**{**m.__dict__, "seq": seq})

    async def update_reply(self, message_id: str, progress: ReplyProgress) -> None:
        p = progress
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute(
                "UPDATE messages SET content = ?, status = ?, endpoint = COALESCE(?, endpoint),"
                " started_at = COALESCE(?, started_at), first_token_at = COALESCE(?, first_token_at),"
                " finished_at = ?, completion_tokens = ?, error = ? WHERE id = ?",
                (p.content, p.status.value, p.endpoint, p.started_at, p.first_token_at, p.finished_at,
                 p.completion_tokens, p.error, message_id),
            )
        if changed != 1:
            raise StoreError(f"no message {message_id!r} to update")

    async def interrupt_unfinished(self, created_before: float) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute(
                "UPDATE messages SET status = ?, finished_at = ?, error = ? WHERE status IN (?, ?) AND created_at < ?",
                (ReplyStatus.INTERRUPTED.value, time.time(), "the server stopped before the reply ended",
                 *(status.value for status in UNFINISHED), created_before),
            )


def _conversation(row: Row) -> Conversation:
    return Conversation(**{key: row[key] for key in CONVERSATION_COLUMNS.split(", ")})


def _message(row: Row) -> Message:
    values: dict[str, Any] = {key: row[key] for key in MESSAGE_COLUMNS.split(", ")}
    values["role"] = Speaker(values["role"])
    values["status"] = ReplyStatus(values["status"])
    values["sampling"] = None if values["sampling"] is None else json.loads(values["sampling"])
    return Message(**values)
