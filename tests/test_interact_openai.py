"""Chatting through an OpenAI-compatible model server: llama.cpp's server here, vLLM in a deployment.

There is no GPU for vLLM, so a real `python -m llama_cpp.server` serving the
packaged Gemma 3 270M stands in: the same wire contract (`/v1/models`,
streamed `/v1/chat/completions`). First the backend on its own, then through
CALMA: a participant chats, the model server crashes mid-reply and comes back,
is not there at all, and bad LLM configurations are refused at startup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from calma.interact.backend import BackendError, GenerationRequest, Sampling, Speaker, Turn
from calma.interact.openai_compat import OpenAICompatibleBackend
from tests.helpers.interact import ChatStudy, chat_study, chatting
from tests.helpers.llama_server import MODEL_ALIAS, LlamaServer, llm_config
from tests.helpers.server import REPO, ServerProcess, free_port

ASHOKA = GenerationRequest(
    "You are an education assistant for high school students studying history in India.",
    (Turn(Speaker.USER, "Who was Ashoka?"),),
    Sampling(max_tokens=12),
)


@pytest.fixture
def llama(tmp_path: Path) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path / "llama").start()
    yield server
    server.stop()


def nobody_listens() -> str:
    """The /v1 URL of a port that nothing listens on."""
    return f"http://127.0.0.1:{free_port()}/v1"


def calma_node(tmp_path: Path, url: str, **pool: float) -> ServerProcess:
    """A hub node whose only model is the OpenAI-compatible server at `url`."""
    config = llm_config(tmp_path / "llm.toml", url, **pool)
    node = ServerProcess(tmp_path / "node", extra_args=["--llm-config", str(config)])
    node.start()
    return node


def log_records(node: ServerProcess) -> list[dict[str, Any]]:
    records = []
    for line in node.log().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line some library printed on its own
        if isinstance(record, dict) and "msg" in record:
            records.append(record)
    return records


async def wait_for_log(node: ServerProcess, found: Callable[[list[dict[str, Any]]], bool], timeout: float) -> None:
    """Wait until the node's JSON log satisfies `found`."""
    with anyio.fail_after(timeout):
        while not found(log_records(node)):
            await anyio.sleep(0.1)  # polling the log for a condition, bounded by fail_after


def healthy_again(url: str) -> Callable[[list[dict[str, Any]]], bool]:
    """The pool found `url` unhealthy, and then healthy again."""

    def found(records: list[dict[str, Any]]) -> bool:
        verdicts = [r["msg"] for r in records if r.get("endpoint") == url and r["msg"] in ("endpoint healthy", "endpoint unhealthy")]
        return "endpoint unhealthy" in verdicts and verdicts[-1] == "endpoint healthy"

    return found


# -- the backend on its own --------------------------------------------------------------------


async def test_the_backend_streams_a_reply_in_pieces_from_a_real_server(llama: LlamaServer) -> None:
    backend = OpenAICompatibleBackend(llama.url, MODEL_ALIAS)
    pieces: list[str] = []

    async def emit(piece: str) -> None:
        pieces.append(piece)

    try:
        await backend.check_health()
        with anyio.fail_after(60):
            stats = await backend.generate(ASHOKA, emit)
    finally:
        await backend.aclose()

    assert backend.label == llama.url
    assert len(pieces) >= 2, f"the reply arrives in pieces, not all at once: {pieces}"
    assert "".join(pieces).strip(), "and says something"
    assert stats.completion_tokens == len(pieces)
    assert stats.finish_reason in ("stop", "length")


async def test_a_server_nobody_runs_is_reported_unreachable_naming_its_url() -> None:
    url = nobody_listens()
    backend = OpenAICompatibleBackend(url, MODEL_ALIAS, connect_timeout_s=2.0)
    try:
        with anyio.fail_after(10):
            with pytest.raises(BackendError, match="unreachable") as health:
                await backend.check_health()
            with pytest.raises(BackendError, match="unreachable") as generation:
                await backend.generate(ASHOKA, lambda piece: anyio.sleep(0))
    finally:
        await backend.aclose()
    assert url in str(health.value) and url in str(generation.value), "the logs say where"
    assert url not in health.value.public and url not in generation.value.public, "participants are not told"


async def test_the_api_key_is_sent_as_a_bearer_token(tmp_path: Path) -> None:
    guarded = LlamaServer(tmp_path / "llama", api_key="sk-test-key").start()
    with_key = OpenAICompatibleBackend(guarded.url, MODEL_ALIAS, api_key="sk-test-key")
    without = OpenAICompatibleBackend(guarded.url, MODEL_ALIAS)
    try:
        await with_key.check_health()
        with pytest.raises(BackendError, match="answered 401"):
            await without.check_health()
    finally:
        await with_key.aclose()
        await without.aclose()
        guarded.stop()


# -- through CALMA -----------------------------------------------------------------------------


@pytest.fixture
def study(tmp_path: Path, llama: LlamaServer) -> Iterator[ChatStudy]:
    node = calma_node(tmp_path, llama.url, unhealthy_recheck_s=0.5)
    try:
        yield chat_study(node)
    finally:
        node.stop()


async def test_a_participant_chats_with_the_model_on_an_openai_compatible_server(
    study: ChatStudy, llama: LlamaServer
) -> None:
    conversation = study.start_conversation(study.ravi)
    assert conversation["model"] == MODEL_ALIAS
    async with chatting(study.server, study.ravi) as chat:
        answer, reply = await chat.send(conversation["id"], "Who was Ashoka?")
        assert answer["type"] == "ack" and reply["status"] == "queued"
        seen = await chat.finished(reply["id"])

    assert seen.end is not None and seen.end["status"] == "complete", seen.end
    assert seen.deltas >= 2, "the reply streams token by token, not all at once"
    assert seen.end["completion_tokens"] >= seen.deltas and seen.end["ttft_ms"] is not None

    user, assistant = study.conversation(study.ravi, conversation["id"])["messages"]
    assert (user["role"], user["content"]) == ("user", "Who was Ashoka?")
    assert assistant["content"] == seen.text, "what was shown is exactly what is stored"
    assert assistant["status"] == "complete"
    assert assistant["model"] == MODEL_ALIAS and assistant["endpoint"] is None, "participants do not see endpoints"
    assert study.conversation(study.facilitator, conversation["id"])["messages"][1]["endpoint"] == llama.url
    assert assistant["started_at"] <= assistant["first_token_at"] <= assistant["finished_at"]


async def test_a_server_that_dies_mid_reply_leaves_the_text_so_far_and_a_new_message_works_once_it_is_back(
    study: ChatStudy, llama: LlamaServer
) -> None:
    study.configure(max_tokens=200)  # a long reply, so that the crash comes in the middle of it
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        _, reply = await chat.send(conversation["id"], "Who was Ashoka?")
        await chat.until(reply["id"], "chat.delta")
        await anyio.to_thread.run_sync(llama.kill9)
        cut = await chat.finished(reply["id"])

        assert cut.end is not None and cut.end["status"] == "failed", cut.end
        assert "the model's server failed mid-reply" in cut.end["error"]
        assert "the text so far is kept" in cut.end["error"]
        assert cut.text and cut.end["completion_tokens"] < 200

        stored = study.conversation(study.ravi, conversation["id"])["messages"]
        assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "failed")]
        assert stored[0]["content"] == "Who was Ashoka?"
        assert stored[1]["content"] == cut.text, "exactly the text that was shown is kept"
        assert stored[1]["error"] == cut.end["error"]

        # The server comes back on the same port; the pool's health check notices, and chatting goes on.
        await anyio.to_thread.run_sync(llama.start)
        await wait_for_log(study.server, healthy_again(llama.url), timeout=30)
        study.configure(max_tokens=12)
        _, again = await chat.send(conversation["id"], "Tell me more.")
        after = await chat.finished(again["id"])

    assert after.end is not None and after.end["status"] == "complete", after.end
    stored = study.conversation(study.ravi, conversation["id"])["messages"]
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "complete"), ("assistant", "failed"), ("user", "complete"), ("assistant", "complete"),
    ]  # fmt: skip
    assert stored[1]["content"] == cut.text, "the failed reply is still on record as it was"
    assert stored[3]["content"] == after.text
    assert study.conversation(study.facilitator, conversation["id"])["messages"][3]["endpoint"] == llama.url


async def test_a_server_that_is_not_there_fails_the_reply_at_once_saying_it_is_unreachable(tmp_path: Path) -> None:
    url = nobody_listens()
    node = calma_node(tmp_path, url)
    try:
        study = chat_study(node)
        conversation = study.start_conversation(study.ravi)
        async with chatting(node, study.ravi) as chat:
            began = time.monotonic()
            _, reply = await chat.send(conversation["id"], "Who was Ashoka?")
            seen = await chat.finished(reply["id"], timeout=30)
            took = time.monotonic() - began
        assert seen.end is not None and seen.end["status"] == "failed"
        error = seen.end["error"]
        assert ("cannot be reached" in error or "unavailable" in error) and url not in error, error
        assert seen.text == "" and took < 20, f"it fails fast ({took:.1f} s), it does not hang"
        stored = study.conversation(study.ravi, conversation["id"])["messages"][1]
        assert (stored["status"], stored["content"], stored["error"]) == ("failed", "", seen.end["error"])
    finally:
        node.stop()


async def test_a_server_that_died_since_its_last_health_check_is_retried_then_reported_unreachable(
    study: ChatStudy, llama: LlamaServer
) -> None:
    conversation = study.start_conversation(study.ravi)
    await wait_for_log(study.server, lambda records: any(r["msg"] == "endpoint healthy" for r in records), timeout=30)
    await anyio.to_thread.run_sync(llama.kill9)  # the pool still believes it healthy: it tries, and retries
    async with chatting(study.server, study.ravi) as chat:
        _, reply = await chat.send(conversation["id"], "Who was Ashoka?")
        seen = await chat.finished(reply["id"], timeout=30)
    assert seen.end is not None and seen.end["status"] == "failed"
    assert "cannot be reached" in seen.end["error"] and llama.url not in seen.end["error"], seen.end["error"]
    failures = [r for r in log_records(study.server) if r["msg"] == "generation failed"]
    assert failures and all("unreachable" in r["error"] for r in failures), failures


# -- configurations that are refused -------------------------------------------------------------

OPENAI_MODEL = '[[models]]\nname = "vllm-model"\nkind = "openai"\n'


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[[models]\nname = 'broken'\n", "Expected"),  # not TOML
        (OPENAI_MODEL + 'flavour = "spicy"\n[[models.endpoints]]\nurl = "http://gpu-0:8000/v1"\n', "unknown keys ['flavour']"),
        (OPENAI_MODEL + '[[models.endpoints]]\nurl = "http://gpu-0:8000/v1"\nmax_concurent = 4\n', "unknown keys ['max_concurent']"),
        (
            OPENAI_MODEL + '[[models.endpoints]]\nurl = "http://gpu-0:8000/v1"\napi_key_env = "CALMA_TEST_UNSET_KEY"\n',
            "the environment variable CALMA_TEST_UNSET_KEY (its API key) is not set",
        ),
        (OPENAI_MODEL + '[[models.endpoints]]\nurl = "gpu-0:8000/v1"\n', "url must be an http(s) URL"),
        (OPENAI_MODEL + '[[models.endpoints]]\nurl = "ftp://gpu-0/v1"\n', "url must be an http(s) URL"),
        (OPENAI_MODEL, "needs at least one [[models.endpoints]]"),
        (OPENAI_MODEL + '[[models.endpoints]]\nurl = "http://gpu-0:8000/v1"\n[pool]\nhealth_interval_s = "soon"\n',
         "health_interval_s must be a number of seconds"),
        (OPENAI_MODEL + '[[models.endpoints]]\nurl = "http://gpu-0:8000/v1"\n[pool]\nmax_attempts = -1\n',
         "max_attempts must be an integer from 1 to 10"),
        ('[[models]]\nname = "cpu"\nkind = "embedded"\nn_threads = 0\n', "n_threads must be an integer from 1"),
    ],
    ids=["malformed", "unknown-model-key", "unknown-endpoint-key", "missing-api-key", "no-scheme", "not-http", "no-endpoint",
         "pool-not-a-number", "pool-attempts", "threads"],
)
def test_calma_serve_refuses_a_bad_llm_config_naming_the_problem(tmp_path: Path, toml: str, problem: str) -> None:
    config = tmp_path / "llm.toml"
    config.write_text(toml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CALMA_TEST_UNSET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "calma", "serve", "--host", "127.0.0.1", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "data"), "--llm-config", str(config)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert problem in result.stderr, result.stderr
    assert str(config) in result.stderr, "the message names the file"
