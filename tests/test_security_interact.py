"""Interact under attack (issue 15, items 10 and 16), against real servers and real models.

A participant pastes a conversation longer than the model can read, asks for
replies longer than the server allows, and piles up requests; a model server
refuses a request or is gone; a hub node crashes mid-reply while another
node serves. Each case ends with a clear message to the participant, the
endpoint's address never shown to them or to anonymous `/healthz` callers, no
retries of a request the model server refused, and the crashed node's reply
marked interrupted within seconds, not an hour.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.helpers.api_client import Person
from tests.helpers.interact import FACILITATOR, ChatStudy, chat_study, chatting
from tests.helpers.llama_server import MODEL_ALIAS, LlamaServer, llm_config
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import ServerProcess, free_port

HISTORY = "The Mughal emperor Akbar ruled northern India and met scholars of many faiths at Fatehpur Sikri. "


def embedded_config(path: Path, **pool: int) -> Path:
    """An LLM config with the packaged model embedded, and these [pool] settings."""
    lines = ["[[models]]", 'name = "gemma-3-270m"', 'kind = "embedded"', "[pool]",
             *(f"{key} = {value}" for key, value in pool.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield chat_study(server, max_tokens=8, max_prompt_chars=20_000)
    finally:
        server.stop()


@pytest.fixture
def budgeted(tmp_path: Path) -> Iterator[ChatStudy]:
    """The server's token budget set low: replies of at most 24 tokens, prompts of at most 300, one request waiting."""
    config = embedded_config(tmp_path / "llm.toml", max_reply_tokens=24, max_prompt_tokens=300,
                             max_waiting_per_participant=1)
    server = ServerProcess(tmp_path / "node", extra_args=["--llm-config", str(config)])
    server.start()
    try:
        yield chat_study(server, max_tokens=4000, max_prompt_chars=20_000)
    finally:
        server.stop()


# -- the embedded model: one slot, a token budget ------------------------------------------------


async def test_a_message_beyond_the_models_context_is_refused_before_it_is_queued(embedded: ChatStudy) -> None:
    s = embedded
    conversation = s.start_conversation(s.ravi)
    async with chatting(s.server, s.ravi) as chat:
        sent_at = time.monotonic()
        answer, _ = await chat.send(conversation["id"], HISTORY * 130)  # about 12,000 characters: over 2,048 tokens
        assert answer["type"] == "error" and answer["code"] == "limit", answer
        assert time.monotonic() - sent_at < 20, "refused by counting, not by running the model"
        assert "tokens" in answer["message"] and "start a new conversation" in answer["message"]
        assert "gemma-3-270m's context of 2048 tokens" in answer["message"]
        assert s.conversation(s.ravi, conversation["id"])["messages"] == [], "nothing was stored or queued"

        answer, reply = await chat.send(conversation["id"], "Who was Akbar?")
        assert answer["type"] == "ack"
        assert (await chat.finished(reply["id"])).end["status"] == "complete"  # type: ignore[index]


async def test_a_study_cannot_ask_for_more_reply_tokens_than_the_server_allows(budgeted: ChatStudy) -> None:
    s = budgeted
    conversation = s.start_conversation(s.ravi)
    async with chatting(s.server, s.ravi) as chat:
        answer, reply = await chat.send(conversation["id"], "Tell me everything about the Maurya empire.")
        assert answer["type"] == "ack"
        end = (await chat.finished(reply["id"])).end
    assert end is not None and end["status"] == "complete" and end["completion_tokens"] <= 24
    stored = s.conversation(s.ravi, conversation["id"])["messages"][1]
    assert stored["sampling"]["max_tokens"] == 24, "the reply ran on the server's budget, not the study's 4000"


async def test_a_prompt_over_the_servers_budget_is_refused_with_what_to_do(budgeted: ChatStudy) -> None:
    s = budgeted
    conversation = s.start_conversation(s.ravi)
    async with chatting(s.server, s.ravi) as chat:
        answer, _ = await chat.send(conversation["id"], HISTORY * 20)  # about 1,900 characters: over 300 tokens
    assert answer["type"] == "error" and answer["code"] == "limit"
    assert "this server's limit per request (300)" in answer["message"]
    assert "start a new conversation" in answer["message"]


async def test_a_participant_cannot_pile_up_requests_for_the_model(budgeted: ChatStudy) -> None:
    s = budgeted
    first = s.start_conversation(s.ravi)
    second = s.start_conversation(s.ravi)
    async with chatting(s.server, s.ravi) as chat:
        answer, reply = await chat.send(first["id"], "Tell me a long story about Delhi.")
        assert answer["type"] == "ack"
        # The study allows two replies at once; the server allows one request per participant in the pool.
        over, _ = await chat.send(second["id"], "And one about Agra?")
        assert over["type"] == "error" and over["code"] == "limit", over
        assert "1 requests waiting for or using the model" in over["message"]
        await chat.finished(reply["id"])
        answer, reply = await chat.send(second["id"], "And one about Agra?")
        assert answer["type"] == "ack", "once the first is done, the next is taken"
        await chat.finished(reply["id"])
    assert len(s.conversation(s.ravi, second["id"])["messages"]) == 2, "the refused message was not stored"


# -- an OpenAI-compatible endpoint: refusals not retried, its address never shown ----------------------


@pytest.fixture
def llama(tmp_path: Path) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path / "llama", n_ctx=512).start()
    yield server
    server.stop()


def openai_study(tmp_path: Path, url: str, name: str, *, n_ctx: int | None = None) -> ChatStudy:
    config = llm_config(tmp_path / f"{name}.toml", url)
    if n_ctx is not None:
        config.write_text(config.read_text().replace('kind = "openai"', f'kind = "openai"\nn_ctx = {n_ctx}'))
    server = ServerProcess(tmp_path / name, extra_args=["--llm-config", str(config)])
    server.start()
    return chat_study(server, max_tokens=8)


def completions_posted(llama: LlamaServer) -> list[str]:
    return re.findall(r'"POST /v1/chat/completions HTTP/1.1" (\d{3})', llama.log())


class VLLMLike:
    """A minimal OpenAI-compatible endpoint that answers as vLLM does when a prompt exceeds the model's context:
    HTTP 400 before streaming. (llama_cpp.server cannot be made to: it starts its stream, then breaks it.)
    `max_model_len`, if given, is said in `GET /v1/models`, as vLLM does."""

    def __init__(self, max_model_len: int | None = None) -> None:
        self.port = free_port()
        self.posts = 0
        self.max_model_len = max_model_len
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _app(self) -> Starlette:
        async def models(request: Request) -> JSONResponse:
            entry: dict[str, object] = {"id": MODEL_ALIAS, "object": "model"}
            if self.max_model_len is not None:
                entry["max_model_len"] = self.max_model_len
            return JSONResponse({"object": "list", "data": [entry]})

        async def completions(request: Request) -> JSONResponse:
            self.posts += 1
            await request.body()
            return JSONResponse({"object": "error", "type": "BadRequestError", "code": 400, "message": (
                "This model's maximum context length is 512 tokens. However, you requested 1200 tokens "
                "(1192 in the messages, 8 in the completion). Please reduce the length of the messages or completion.")},
                status_code=400)

        return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", completions, methods=["POST"])])

    def __enter__(self) -> VLLMLike:
        self._server = uvicorn.Server(uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the stand-in endpoint did not start"
            time.sleep(0.02)  # polling a condition (started), bounded by the deadline
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


async def test_a_request_the_model_server_refuses_with_a_4xx_is_not_retried_and_its_words_are_not_shown(
    tmp_path: Path,
) -> None:
    with VLLMLike() as endpoint:
        s = openai_study(tmp_path, endpoint.url, "refusing")
        try:
            conversation = s.start_conversation(s.ravi)
            async with chatting(s.server, s.ravi) as chat:
                answer, reply = await chat.send(conversation["id"], "Who was Akbar?")
                assert answer["type"] == "ack", "without a known context nothing can be refused before"
                end = (await chat.finished(reply["id"])).end
            assert end is not None and end["status"] == "failed"
            assert "too long for the model" in end["error"] and "start a new conversation" in end["error"]
            assert str(endpoint.port) not in end["error"] and "1200 tokens" not in end["error"]
            assert endpoint.posts == 1, "a request the server refused is sent once, not retried on the pool's attempts"
            assert "the model's server refused a request" in s.server.log()
            health = httpx.get(f"{s.server.http_url}/healthz", timeout=5).json()
            assert health["models"][0]["healthy"] == 1, "the endpoint is not held responsible for the request"
        finally:
            s.server.stop()


async def test_a_context_length_the_server_says_is_learned_and_a_long_prompt_never_reaches_it(tmp_path: Path) -> None:
    with VLLMLike(max_model_len=512) as endpoint:
        s = openai_study(tmp_path, endpoint.url, "learning")
        try:
            conversation = s.start_conversation(s.ravi)
            async with chatting(s.server, s.ravi) as chat:
                answer, _ = await chat.send(conversation["id"], HISTORY * 35)  # about 3,300 characters
            assert answer["type"] == "error" and answer["code"] == "limit"
            assert "gemma-3-270m's context of 512 tokens" in answer["message"]
            assert endpoint.posts == 0
        finally:
            s.server.stop()


async def test_participants_and_anonymous_callers_never_see_where_the_model_runs(
    tmp_path: Path, llama: LlamaServer
) -> None:
    s = openai_study(tmp_path, llama.url, "addresses")
    try:
        conversation = s.start_conversation(s.ravi)
        async with chatting(s.server, s.ravi) as chat:
            answer, reply = await chat.send(conversation["id"], "Who was Akbar?")
            assert answer["type"] == "ack"
            await chat.finished(reply["id"])
        stored = s.conversation(s.ravi, conversation["id"])["messages"][1]
        assert stored["status"] == "complete" and stored["endpoint"] is None, "participants do not see where models run"
        managed = s.conversation(s.facilitator, conversation["id"])["messages"][1]
        assert managed["endpoint"] == llama.url, "the facilitator does"
        health = httpx.get(f"{s.server.http_url}/healthz", timeout=5).json()
        assert str(llama.port) not in json.dumps(health)
        assert health["models"] == [{"model": "gemma-3-270m", "waiting": 0, "endpoints": 1, "healthy": 1}]

        llama.kill9()  # the model server is gone: the reply fails without saying where it was
        async with chatting(s.server, s.ravi) as chat:
            answer, reply = await chat.send(conversation["id"], "And who was Babur?")
            assert answer["type"] == "ack"
            end = (await chat.finished(reply["id"], timeout=120)).end
        assert end is not None and end["status"] == "failed", end
        for secret in (str(llama.port), "127.0.0.1", "http", "ConnectError"):
            assert secret not in end["error"], end["error"]
        health_text = httpx.get(f"{s.server.http_url}/healthz", timeout=5).text
        assert str(llama.port) not in health_text and "Connect" not in health_text
        assert str(llama.port) in s.server.log(), "the log keeps the address, for whoever runs the server"
    finally:
        s.server.stop()


async def test_with_the_context_length_configured_a_long_conversation_is_refused_before_the_server_sees_it(
    tmp_path: Path, llama: LlamaServer
) -> None:
    s = openai_study(tmp_path, llama.url, "known-context", n_ctx=512)
    try:
        conversation = s.start_conversation(s.ravi)
        before = len(completions_posted(llama))
        async with chatting(s.server, s.ravi) as chat:
            answer, _ = await chat.send(conversation["id"], HISTORY * 35)
        assert answer["type"] == "error" and answer["code"] == "limit"
        assert "gemma-3-270m's context of 512 tokens" in answer["message"]
        assert completions_posted(llama)[before:] == [], "the model server never saw it"
    finally:
        s.server.stop()


# -- a node crashes mid-reply while another serves ---------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis")
    process.start()
    yield process
    process.stop()


async def test_a_crashed_nodes_reply_is_marked_interrupted_by_another_node_within_seconds(
    tmp_path: Path, redis_server: RedisProcess, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALMA_DATABASE_URL", postgres_url)
    secret = tmp_path / "shared-secret.key"
    node_1, node_2 = (
        ServerProcess(tmp_path / f"node-{index}", extra_args=[
            "--database", postgres_url, "--redis", redis_server.url, "--secret-file", str(secret)])  # fmt: skip
        for index in (1, 2)
    )
    node_1.start()
    node_2.start()
    try:
        s = chat_study(node_1, max_tokens=400)
        conversation = s.start_conversation(s.ravi)
        async with chatting(node_1, s.ravi) as chat:
            _, reply = await chat.send(conversation["id"], "Tell me about the Indus Valley civilisation.")
            seen = await chat.until(reply["id"], "chat.delta")
            node_1.kill9()  # mid-reply; node 2 keeps serving
        crashed_at = time.monotonic()

        facilitator = Person(node_2, "Fatima").sign_in(FACILITATOR[0], FACILITATOR[2])
        path = f"/api/studies/{s.study}/conversations/{conversation['id']}"
        with anyio.fail_after(60):
            while (partial := facilitator.ok("GET", path)["messages"][1])["status"] == "streaming":
                await anyio.sleep(0.5)  # waiting on a condition (the sweep), bounded by fail_after
        assert partial["status"] == "interrupted", partial
        assert time.monotonic() - crashed_at < 45, "marked within the node lease, not after an hour"
        assert partial["content"].startswith(seen.text) and partial["content"], "what was shown is kept"
        assert "stopped before it ended" in partial["error"]
        assert "its replies in flight are marked interrupted" in node_2.log()
    finally:
        node_1.stop()
        node_2.stop()
