"""A participant chats with the embedded model (the packaged Gemma 3 270M on llama.cpp) over /live.

Real server, real model, real websockets; replies are kept short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
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
    assert assistant["model"] == "gemma-3-270m" and assistant["endpoint"] is None, "where models run is not theirs to see"
    managed = study.conversation(study.facilitator, conversation["id"])["messages"][1]
    assert managed["endpoint"].startswith("embedded:gemma-3-270m"), "the facilitator sees it"
    assert assistant["system_prompt"].startswith(PILOT_PROMPT)
    assert assistant["sampling"]["max_tokens"] == 12 and assistant["sampling"]["temperature"] == 0.7
    assert assistant["started_at"] <= assistant["first_token_at"] <= assistant["finished_at"]

    metrics = httpx.get(study.server.http_url + "/metrics").text
    assert 'calma_interact_replies_total{model="gemma-3-270m",status="complete"} 1.0' in metrics
    assert 'calma_interact_time_to_first_token_seconds_count{model="gemma-3-270m"} 1.0' in metrics
    health = httpx.get(study.server.http_url + "/healthz").json()
    (model,) = health["models"]
    assert model["model"] == "gemma-3-270m" and model["waiting"] == 0
    assert model["endpoints"] == 1 and model["healthy"] == 1, "anonymous /healthz counts endpoints, never names them"


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


async def test_stop_keeps_what_was_shown_and_frees_the_model_for_the_next_message(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server, max_tokens=400)
        conversation = study.start_conversation(study.ravi)
        async with chatting(server, study.ravi) as chat:
            _, reply = await chat.send(conversation["id"], "Tell me everything about the Mughal empire.")
            await chat.until(reply["id"], "chat.delta")
            assert (await chat.stop(reply["id"]))["type"] == "ack"
            stopped = await chat.finished(reply["id"])
            assert stopped.end is not None and stopped.end["status"] == "stopped"
            assert stopped.end["completion_tokens"] < 400

            study.configure(max_tokens=6)
            _, again = await chat.send(conversation["id"], "And Akbar?")
            finished = await chat.finished(again["id"], timeout=60)
            assert finished.end is not None and finished.end["status"] == "complete", "the slot was freed"

        messages = study.conversation(study.ravi, conversation["id"])["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "complete"), ("assistant", "stopped"), ("user", "complete"), ("assistant", "complete")
        ]
        assert messages[1]["content"] == stopped.text and messages[1]["content"], "the partial reply is kept"
        assert messages[1]["error"] == "stopped" and not messages[1]["complete"]
    finally:
        server.stop()


async def test_a_participant_who_leaves_mid_reply_stops_it_and_the_partial_reply_is_kept(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server, max_tokens=400)
        conversation = study.start_conversation(study.ravi)
        async with chatting(server, study.ravi) as chat:
            _, reply = await chat.send(conversation["id"], "Describe the Maurya empire in detail.")
            seen = await chat.until(reply["id"], "chat.delta")
        shown = seen.text  # the page closed here

        def stored() -> dict[str, object]:
            return study.conversation(study.ravi, conversation["id"])["messages"][1]  # type: ignore[no-any-return]

        await _eventually(lambda: stored()["status"] == "stopped")
        reply_record = stored()
        assert reply_record["error"] == "the participant left"
        assert str(reply_record["content"]).startswith(shown) and reply_record["content"]
    finally:
        server.stop()


async def test_regenerate_replaces_the_last_reply_and_keeps_the_old_one_on_record(study: ChatStudy) -> None:
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        _, first = await chat.send(conversation["id"], "What was the Silk Road?")
        await chat.finished(first["id"])
        answer, second = await chat.regenerate(conversation["id"])
        assert answer["type"] == "ack" and second["replaces"] == first["id"]
        await chat.finished(second["id"])
    messages = study.conversation(study.ravi, conversation["id"])["messages"]
    assert [m["seq"] for m in messages] == [1, 2, 3]
    assert messages[2]["id"] == second["id"] and messages[2]["replaces"] == first["id"]
    assert messages[1]["id"] == first["id"] and messages[1]["status"] == "complete"


async def _eventually(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    import anyio

    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.05)  # polling a stored state, bounded by the timeout


def two_models_config(path: Path) -> Path:
    """Two embedded models (the packaged GGUF under two names), as a study with several models would have."""
    path.write_text(
        '[[models]]\nname = "tutor-a"\nkind = "embedded"\n\n[[models]]\nname = "tutor-b"\nkind = "embedded"\n'
    )
    return path


async def test_a_study_with_several_models_assigns_them_in_turn_or_lets_participants_pick(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "node", extra_args=["--llm-config", str(two_models_config(tmp_path / "llm.toml"))])
    server.start()
    try:
        study = chat_study(server, max_tokens=4)
        models = study.ravi.ok("GET", study.path("/models"))
        assert models["model_choice"] == "assigned" and [m["name"] for m in models["models"]] == ["tutor-a", "tutor-b"]
        assert models["notice"] is not None, "both are the packaged stand-in"
        assigned = [study.start_conversation(study.ravi)["model"] for _ in range(3)]
        assert assigned == ["tutor-a", "tutor-b", "tutor-a"], "one per conversation, in turn"

        study.configure(model_choice="participant")
        picked = study.start_conversation(study.mei, model="tutor-b")
        assert picked["model"] == "tutor-b"
        async with chatting(server, study.mei) as chat:
            _, reply = await chat.send(picked["id"], "Hello?")
            await chat.finished(reply["id"])
        assert study.conversation(study.mei, picked["id"])["messages"][1]["model"] == "tutor-b"

        study.facilitator.ok("PATCH", study.path(), {"deployment_context": {"models": ["tutor-a"]}})
        assert [m["name"] for m in study.ravi.ok("GET", study.path("/models"))["models"]] == ["tutor-a"]
    finally:
        server.stop()


async def test_a_crash_mid_reply_keeps_what_was_streamed_marked_interrupted(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server, max_tokens=400)
        conversation = study.start_conversation(study.ravi)
        async with chatting(server, study.ravi) as chat:
            _, reply = await chat.send(conversation["id"], "Tell me about the Indus Valley civilisation.")
            seen = await chat.until(reply["id"], "chat.delta")
            server.kill9()
        server.start()
        user, partial = study.conversation(study.ravi, conversation["id"])["messages"]
        assert user["content"] == "Tell me about the Indus Valley civilisation."
        assert partial["status"] == "interrupted" and not partial["complete"]
        assert partial["content"].startswith(seen.text) and partial["content"], "what was shown survived the crash"
        assert "stopped before the reply ended" in partial["error"]
    finally:
        server.stop()
