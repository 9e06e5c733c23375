"""Interact in tests: a study whose participants chat with a real model, and a participant's chat client.

`chat_study` sets up, on a running server, a facilitator with the pilot study
(short replies, so that tests stay quick), one group with Interact opened for
it, and two participants who joined by invite. `Chat` is one participant's /live connection with the
conversation helpers a browser page would have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.live_client import Frame, LiveClient, connect_live, live_url
from tests.helpers.server import ServerProcess

FACILITATOR = ("fatima@example.org", "Fatima", "fatima's long password")


@dataclass
class ChatStudy:
    server: ServerProcess
    facilitator: Person
    study: str
    group: str
    ravi: Person
    mei: Person

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    def configure(self, **interact: Any) -> dict[str, Any]:
        """PATCH the study's interact settings; the study as it is now."""
        study: dict[str, Any] = self.facilitator.ok("PATCH", self.path(), {"interact": interact})
        return study

    def start_conversation(self, person: Person, model: str | None = None) -> dict[str, Any]:
        body = {} if model is None else {"model": model}
        conversation: dict[str, Any] = person.ok("POST", self.path("/conversations"), body, status=201)
        return conversation

    def conversation(self, person: Person, conversation_id: str) -> dict[str, Any]:
        detail: dict[str, Any] = person.ok("GET", self.path(f"/conversations/{conversation_id}"))
        return detail


def chat_study(server: ServerProcess, *, max_tokens: int = 12, **interact: Any) -> ChatStudy:
    create_facilitator(server.data_dir, *FACILITATOR)
    facilitator = Person(server, "facilitator").sign_in(FACILITATOR[0], FACILITATOR[2])
    study = facilitator.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    facilitator.ok("PATCH", f"/api/studies/{study}", {"interact": {"max_tokens": max_tokens, **interact}})
    group = facilitator.ok("POST", f"/api/studies/{study}/groups", {"name": "Online group"}, status=201)["id"]
    # Interact opens after Familiarize; these tests are about chatting, so the facilitator opens it for the group.
    facilitator.ok("PUT", f"/api/studies/{study}/stage-overrides", {"group_id": group, "stage": "interact", "state": "open"})

    def join(name: str) -> Person:
        invite = facilitator.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"}, status=201)
        return Person(server, name).join(invite["token"], name)

    return ChatStudy(server, facilitator, study, group, join("Ravi"), join("Mei"))


@dataclass
class Reply:
    """One reply as the participant saw it arrive."""

    id: str
    frames: list[Frame] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(f["text"] for f in self.frames if f["type"] == "chat.delta")

    @property
    def deltas(self) -> int:
        return sum(1 for f in self.frames if f["type"] == "chat.delta")

    @property
    def end(self) -> Frame | None:
        return next((f for f in self.frames if f["type"] == "chat.end"), None)


@dataclass
class Chat:
    """A participant's chat page, reduced to its connection."""

    live: LiveClient
    replies: dict[str, Reply] = field(default_factory=dict)

    async def send(self, conversation: str, text: str) -> tuple[Frame, Frame]:
        """Send a message; the acked request's answer frame and the reply's chat.turn message (or the error)."""
        answer, before = await self.live.request({"type": "chat.send", "conversation": conversation, "text": text})
        turns = [f["message"] for f in before if f["type"] == "chat.turn"]
        self._keep(before)
        if answer["type"] == "ack":
            assert [t["role"] for t in turns] == ["user", "assistant"], turns
            self.replies.setdefault(turns[1]["id"], Reply(turns[1]["id"]))
            return answer, turns[1]
        return answer, {}

    async def regenerate(self, conversation: str) -> tuple[Frame, Frame]:
        answer, before = await self.live.request({"type": "chat.regenerate", "conversation": conversation})
        self._keep(before)
        turns = [f["message"] for f in before if f["type"] == "chat.turn"]
        if answer["type"] == "ack":
            self.replies.setdefault(turns[0]["id"], Reply(turns[0]["id"]))
            return answer, turns[0]
        return answer, {}

    async def stop(self, reply: str) -> Frame:
        answer, before = await self.live.request({"type": "chat.stop", "reply": reply})
        self._keep(before)
        return answer

    def _keep(self, frames: list[Frame]) -> None:
        for frame in frames:
            if frame["type"].startswith("chat.") and "reply" in frame:
                self.replies.setdefault(frame["reply"], Reply(frame["reply"])).frames.append(frame)

    async def until(self, reply: str, kind: str, timeout: float = 60.0) -> Reply:
        """Read frames until `reply` has a frame of `kind`; the reply so far."""
        with anyio.fail_after(timeout):
            while not any(f["type"] == kind for f in self.replies.setdefault(reply, Reply(reply)).frames):
                self._keep([await self.live.recv(timeout)])
        return self.replies[reply]

    async def finished(self, reply: str, timeout: float = 60.0) -> Reply:
        return await self.until(reply, "chat.end", timeout)


@asynccontextmanager
async def chatting(server: ServerProcess, person: Person) -> AsyncIterator[Chat]:
    async with connect_live(live_url(server), person.cookie_headers) as live:
        yield Chat(live)
