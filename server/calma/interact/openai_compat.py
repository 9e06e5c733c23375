"""The OpenAI-compatible backend: vLLM (`vllm serve`), llama.cpp's server, Ollama, hosted APIs.

Speaks the stable part of the contract: `POST {base_url}/chat/completions`
with `stream: true` (server-sent events of `chat.completion.chunk`, ended by
`data: [DONE]`) and `GET {base_url}/models` as the health check. `base_url`
ends in `/v1`. A key, when given, is sent as a bearer token and never logged.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from calma.interact.backend import BackendError, Emit, GenerationRequest, GenerationStats, RequestRejected
from calma.interact.embedded import chat_messages

MAX_ERROR_BODY = 300
BYTES_PER_TOKEN = 3  # fewer than any common tokenizer's average: the estimate errs high
TOKENS_PER_MESSAGE = 8
RETRYABLE_4XX = (408, 429)
UNREACHABLE = "the model's server cannot be reached"
FAILED = "the model's server failed"


class OpenAICompatibleBackend:
    """One OpenAI-compatible server, for one model name on it."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 connect_timeout_s: float = 5.0, read_timeout_s: float = 60.0, context_tokens: int | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.label = self.base_url
        self._context_tokens = context_tokens  # configured; else what the server says, if it does
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=10.0, pool=None)
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    @property
    def context_tokens(self) -> int | None:
        return self._context_tokens

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        """An estimate that errs high: a third of the prompt's UTF-8 bytes, and a few tokens per message."""
        messages = chat_messages(request)
        size = sum(len(m["content"].encode("utf-8")) for m in messages)
        return math.ceil(size / BYTES_PER_TOKEN) + TOKENS_PER_MESSAGE * (len(messages) + 1)

    async def check_health(self) -> None:
        try:
            response = await self._client.get(f"{self.base_url}/models", timeout=5.0)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.base_url} is unreachable: {_describe(exc)}", public=UNREACHABLE) from exc
        if response.status_code != 200:
            raise BackendError(f"{self.base_url}/models answered {response.status_code}", public=FAILED)
        if self._context_tokens is None:
            self._context_tokens = _max_model_len(response, self.model)

    async def generate(self, request: GenerationRequest, emit: Emit) -> GenerationStats:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
            "stream": True,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        pieces = 0
        finish = "stop"
        answered = False  # the server sent its response headers
        try:
            async with self._client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                answered = True
                if response.status_code != 200:
                    text = (await response.aread()).decode("utf-8", "replace")[:MAX_ERROR_BODY]
                    detail = f"{self.base_url} answered {response.status_code}: {text}"
                    if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
                        raise RequestRejected(detail, public=_rejected(response.status_code, text))
                    raise BackendError(detail, public=f"{FAILED} (HTTP {response.status_code})")
                done = False
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names and the blank lines between events
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    chunk = _parse_chunk(data, self.base_url)
                    if "error" in chunk:
                        raise BackendError(f"{self.base_url} reported an error: {str(chunk['error'])[:MAX_ERROR_BODY]}",
                                           public=f"{FAILED} while writing")
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
                        if piece:
                            pieces += 1
                            await emit(piece)
                if not done:
                    raise BackendError(f"{self.base_url} ended the stream before [DONE]",
                                       public="the model's server ended the reply early")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendError(f"{self.base_url} is unreachable: {_describe(exc)}", public=UNREACHABLE) from exc
        except httpx.HTTPError as exc:
            if not answered:
                raise BackendError(f"{self.base_url} did not answer: {_describe(exc)}",
                                   public="the model's server did not answer") from exc
            raise BackendError(f"{self.base_url} failed mid-reply: {_describe(exc)}", public=f"{FAILED} mid-reply") from exc
        return GenerationStats(completion_tokens=pieces, finish_reason=finish)

    async def aclose(self) -> None:
        await self._client.aclose()


def _parse_chunk(data: str, where: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise BackendError(f"{where} sent a chunk that is not JSON: {data[:80]!r}", public=f"{FAILED} while writing") from exc
    if not isinstance(chunk, dict):
        raise BackendError(f"{where} sent a chunk that is not an object", public=f"{FAILED} while writing")
    return chunk


def _rejected(status: int, body: str) -> str:
    """What a participant is told about a request the server refused (its own words are not passed on)."""
    if "context" in body.lower() or "too long" in body.lower() or "maximum" in body.lower():
        return "this conversation has grown too long for the model; start a new conversation"
    return f"the model's server refused this request (HTTP {status})"


def _max_model_len(response: httpx.Response, model: str) -> int | None:
    """vLLM says each model's context length in `GET /models` (`max_model_len`); others do not."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            length = entry.get("max_model_len")
            if isinstance(length, int) and not isinstance(length, bool) and length > 0:
                return length
    return None


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
