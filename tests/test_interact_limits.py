"""Interact's limits and refusals: every chat frame and endpoint with malformed, oversized and unauthorized input.

Each refusal says what to do, the connection stays open, and nothing stored is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.api_client import Person
from tests.helpers.interact import ChatStudy, chat_study, chatting
from tests.helpers.server import ServerProcess


@pytest.fixture
def study(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield chat_study(server, max_tokens=4)
    finally:
        server.stop()


async def test_a_message_longer_than_the_study_allows_is_refused_with_the_limit(study: ChatStudy) -> None:
    study.configure(max_prompt_chars=50)
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        answer, _ = await chat.send(conversation["id"], "x" * 51)
        assert answer["type"] == "error" and answer["code"] == "limit"
        assert "51 characters" in answer["message"] and "at most 50" in answer["message"]
        answer, _ = await chat.send(conversation["id"], "y" * 20_001)  # beyond the channel's own bound
        assert answer["type"] == "error" and answer["code"] == "invalid"
        answer, reply = await chat.send(conversation["id"], "Short enough?")
        assert answer["type"] == "ack", "the connection is still open and usable"
        await chat.finished(reply["id"])
    assert len(study.conversation(study.ravi, conversation["id"])["messages"]) == 2, "refused messages are not stored"


async def test_turns_per_minute_are_limited_and_the_refusal_says_how_long_to_wait(study: ChatStudy) -> None:
    study.configure(turns_per_minute=2)
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        for text in ("First question", "Second question"):
            answer, reply = await chat.send(conversation["id"], text)
            assert answer["type"] == "ack"
            await chat.finished(reply["id"])
        answer, _ = await chat.send(conversation["id"], "Third question")
    assert answer["type"] == "error" and answer["code"] == "limit"
    assert "2 messages a minute" in answer["message"]
    assert 0 < answer["retry_after_ms"] <= 60_000


async def test_concurrent_replies_per_participant_and_one_reply_per_conversation(study: ChatStudy) -> None:
    study.configure(max_concurrent_replies=1, max_tokens=400)
    first = study.start_conversation(study.ravi)
    second = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        answer, streaming = await chat.send(first["id"], "Tell me a long story about Delhi.")
        assert answer["type"] == "ack"
        busy, _ = await chat.send(first["id"], "And another thing")
        assert busy["type"] == "error" and busy["code"] == "conflict" and "still being written" in busy["message"]
        over, _ = await chat.send(second["id"], "Meanwhile, here?")
        assert over["type"] == "error" and over["code"] == "limit"
        assert "1 replies being written" in over["message"]
        await chat.stop(streaming["id"])
        await chat.finished(streaming["id"])


async def test_empty_and_malformed_chat_frames_are_refused_as_invalid(study: ChatStudy) -> None:
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        empty, _ = await chat.send(conversation["id"], "   ")
        assert empty["code"] == "invalid" and "empty" in empty["message"]
        for frame in (
            {"type": "chat.send", "text": "no conversation"},
            {"type": "chat.send", "conversation": conversation["id"], "text": "hi", "model": "gpt"},
            {"type": "chat.send", "conversation": "../../etc", "text": "hi"},
            {"type": "chat.send", "conversation": conversation["id"], "text": 42},
            {"type": "chat.stop"},
            {"type": "chat.regenerate", "conversation": None},
        ):
            answer, _ = await chat.live.request(frame)
            assert answer["type"] == "error" and answer["code"] == "invalid", (frame, answer)
        nothing, _ = await chat.regenerate(conversation["id"])
        assert nothing["code"] == "conflict" and "send a message first" in nothing["message"]


async def test_only_the_participant_chats_in_their_conversations(study: ChatStudy) -> None:
    ravis = study.start_conversation(study.ravi)
    invite = study.facilitator.ok("POST", study.path("/invites"), {"group_id": study.group, "role": "observer"}, status=201)
    observer = Person(study.server, "observer").join(invite["token"], "Obi")
    for person in (study.mei, study.facilitator, observer):
        async with chatting(study.server, person) as chat:
            answer, _ = await chat.send(ravis["id"], "Let me in")
            assert answer["type"] == "error" and answer["code"] == "forbidden", (person.label, answer)
    async with chatting(study.server, study.ravi) as ravi, chatting(study.server, study.mei) as mei:
        _, reply = await ravi.send(ravis["id"], "Who built the Taj Mahal?")
        assert (await mei.stop(reply["id"]))["type"] == "ack", "stop is acked, but Mei cannot stop Ravi's reply"
        finished = await ravi.finished(reply["id"])
        assert finished.end is not None and finished.end["status"] == "complete"


def test_starting_conversations_over_rest_checks_role_model_choice_and_limits(study: ChatStudy) -> None:
    invite = study.facilitator.ok("POST", study.path("/invites"), {"group_id": study.group, "role": "observer"}, status=201)
    observer = Person(study.server, "observer").join(invite["token"], "Obi")
    path = study.path("/conversations")
    assert study.facilitator.post(path, {}).status_code == 403
    assert observer.post(path, {}).status_code == 403
    assert httpx.post(study.server.http_url + path, json={}).status_code == 401
    assert study.ravi.post("/api/studies/0123456789abcdef/conversations", {}).status_code == 404
    assigned = study.ravi.post(path, {"model": "gemma-3-270m"})
    assert assigned.status_code == 403 and "assigned" in assigned.json()["detail"]
    study.configure(model_choice="participant")
    unknown = study.ravi.post(path, {"model": "gpt-5"})
    assert unknown.status_code == 422 and "gemma-3-270m" in unknown.json()["detail"]
    assert study.ravi.post(path, {"model": "gemma-3-270m"}).status_code == 201
    assert study.ravi.post(path, {"model": "x" * 101}).status_code == 422
    assert study.ravi.post(path, {"colour": "blue"}).status_code == 422
    assert study.ravi.post(path, {"model": "m" * 300_000}).status_code == 413
    study.configure(max_conversations=1)
    full = study.ravi.post(path, {})
    assert full.status_code == 409 and "limit of 1 conversations" in full.json()["detail"]


def test_interact_settings_are_validated(study: ChatStudy) -> None:
    for bad in ({"temperature": 5}, {"max_tokens": 0}, {"model_choice": "lottery"}, {"turns_per_minute": "6"},
                {"max_concurrent_replies": 11}, {"surprise": 1}):
        response = study.facilitator.patch(study.path(), {"interact": bad})
        assert response.status_code == 422, (bad, response.text)
    assert study.ravi.patch(study.path(), {"interact": {"max_tokens": 10}}).status_code == 403
    settings = study.configure(temperature=0.2)["interact"]
    assert settings["temperature"] == 0.2 and settings["max_tokens"] == 4, "fields left out stay as they were"


def test_the_models_page_says_plainly_the_default_model_is_a_stand_in(study: ChatStudy) -> None:
    models = study.ravi.ok("GET", study.path("/models"))
    assert models["model_choice"] == "assigned"
    assert models["models"] == [{"name": "gemma-3-270m", "stand_in": True}]
    assert "stand-in for demos and tests" in models["notice"]


def test_the_gemma_terms_and_notice_are_passed_on(study: ChatStudy) -> None:
    models = study.ravi.ok("GET", study.path("/models"))
    assert models["terms_url"] == "/legal/gemma-terms"
    terms = httpx.get(study.server.http_url + models["terms_url"])
    assert terms.status_code == 200 and "Gemma Terms of Use" in terms.text
    notice = httpx.get(study.server.http_url + "/legal/NOTICE")
    assert "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms" in notice.text


async def test_two_tabs_sending_at_once_get_one_reply_and_one_refusal(study: ChatStudy) -> None:
    import anyio

    conversation = study.start_conversation(study.ravi)
    answers: list[dict[str, object]] = []
    async with chatting(study.server, study.ravi) as tab_a, chatting(study.server, study.ravi) as tab_b:

        async def send(tab: object, text: str) -> None:
            answer, _ = await tab.send(conversation["id"], text)  # type: ignore[attr-defined]
            answers.append(answer)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send, tab_a, "From the first tab")
            tg.start_soon(send, tab_b, "From the second tab")
        assert sorted(a["type"] for a in answers) == ["ack", "error"]
        refused = next(a for a in answers if a["type"] == "error")
        assert refused["code"] == "conflict"
        reply = next(iter(tab_a.replies.values()), None) or next(iter(tab_b.replies.values()))
        owner = tab_a if reply.id in tab_a.replies else tab_b
        await owner.finished(reply.id)
    messages = study.conversation(study.ravi, conversation["id"])["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"], "one message and one reply, not two of each"
