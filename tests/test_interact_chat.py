"""A participant chats with the embedded model (the packaged Gemma 3 270M on llama.cpp) over /live.

Real server, real model, real websockets; replies are kept short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.interact import ChatStudy, chat_study, chatting
from tests.helpers.server import ServerProcess

PILOT_PROMPT = "You are an education assistant for high school students studying history in India."


@pytest.fixture
def study(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield chat_study(server)
    finally:
        server.stop()


async def test_a_reply_streams_token_by_token_and_is_stored_with_how_it_was_made(study: ChatStudy) -> None:
    conversation = study.start_conversation(study.ravi)
    assert conversation["model"] == "gemma-3-270m"
    async with chatting(study.server, study.ravi) as chat:
        answer, reply = await chat.send(conversation["id"], "Who was Ashoka?")
        assert answer["type"] == "ack"
        assert reply["status"] == "queued" and reply["content"] == ""
        seen = await chat.finished(reply["id"])

    kinds = [f["type"] for f in seen.frames]
    assert "chat.start" in kinds and kinds[-1] == "chat.end"
    assert seen.deltas >= 2, "the reply arrives in pieces, not all at once"
    assert seen.end is not None and seen.end["status"] == "complete"
    assert seen.end["ttft_ms"] is not None and seen.end["completion_tokens"] >= seen.deltas

    stored = study.conversation(study.ravi, conversation["id"])
    user, assistant = stored["messages"]
    assert (user["role"], user["content"], user["seq"]) == ("user", "Who was Ashoka?", 1)
    assert assistant["role"] == "assistant" and assistant["seq"] == 2
    assert assistant["content"] == seen.text, "what was shown is exactly what is stored"
    assert assistant["status"] == "complete" and assistant["complete"]
    assert assistant["model"] == "gemma-3-270m" and assistant["endpoint"].startswith("embedded:gemma-3-270m")
    assert assistant["system_prompt"].startswith(PILOT_PROMPT)
    assert assistant["sampling"]["max_tokens"] == 12 and assistant["sampling"]["temperature"] == 0.7
    assert assistant["started_at"] <= assistant["first_token_at"] <= assistant["finished_at"]


async def test_the_facilitator_reads_every_conversation_and_participants_only_their_own(study: ChatStudy) -> None:
    ravis = study.start_conversation(study.ravi)
    meis = study.start_conversation(study.mei)
    listed = study.facilitator.ok("GET", study.path("/conversations"))["conversations"]
    assert {c["id"] for c in listed} == {ravis["id"], meis["id"]}
    own = study.ravi.ok("GET", study.path("/conversations"))["conversations"]
    assert [c["id"] for c in own] == [ravis["id"]]
    assert study.ravi.get(study.path(f"/conversations/{meis['id']}")).status_code == 404
    assert study.mei.get(study.path(f"/conversations?participant_id={study.ravi.me['participant_id']}")).status_code == 404
    only_mei = study.facilitator.ok("GET", study.path(f"/conversations?participant_id={study.mei.me['participant_id']}"))
    assert [c["id"] for c in only_mei["conversations"]] == [meis["id"]]
