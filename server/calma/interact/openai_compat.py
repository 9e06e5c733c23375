"""The OpenAI-compatible backend: vLLM (`vllm serve`), llama.cpp's server, Ollama, hosted APIs.

Speaks the stable part of the contract: `POST {base_url}/chat/completions`
with `stream: true` (server-sent events of `chat.completion.chunk`, ended by
`data: [DONE]`) and `GET {base_url}/models` as the health check. `base_url`
ends in `/v1`. A key, when given, is sent as a bearer token and never logged.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from calma.interact.backend import BackendError, Emit, GenerationRequest, GenerationStats
from calma.interact.embedded import chat_messages

MAX_ERROR_BODY = 300


class OpenAICompatibleBackend:
    """One OpenAI-compatible server, for one model name on it."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 connect_timeout_s: float = 5.0, read_timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.label = self.base_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=10.0, pool=None)
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def check_health(self) -> None:
        try:
            response = await self._client.get(f"{self.base_url}/models", timeout=5.0)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.base_url} is unreachable: {_describe(exc)}") from exc
        if response.status_code != 200:
            raise BackendError(f"{self.base_url}/models answered {response.status_code}")

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
                    raise BackendError(f"{self.base_url} answered {response.status_code}: {text}")
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
                        raise BackendError(f"{self.base_url} reported an error: {str(chunk['error'])[:MAX_ERROR_BODY]}")
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
                        if piece:
                            pieces += 1
                            await emit(piece)
                if not done:
                    raise BackendError(f"{self.base_url} ended the stream before [DONE]")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendError(f"{self.base_url} is unreachable: {_describe(exc)}") from exc
        except httpx.HTTPError as exc:
            if not answered:
                raise BackendError(f"{self.base_url} did not answer: {_describe(exc)}") from exc
            raise BackendError(f"{self.base_url} failed mid-reply: {_describe(exc)}") from exc
        return GenerationStats(completion_tokens=pieces, finish_reason=finish)

    async def aclose(self) -> None:
        await self._client.aclose()


def _parse_chunk(data: str, where: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise BackendError(f"{where} sent a chunk that is not JSON: {data[:80]!r}") from exc
    if not isinstance(chunk, dict):
        raise BackendError(f"{where} sent a chunk that is not an object")
    return chunk


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
