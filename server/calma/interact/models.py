"""Which models this server offers and where they run: the LLM configuration, and the pool built from it.

The default is one embedded model: the packaged Gemma 3 270M on llama.cpp
(a stand-in for demos and tests). `calma serve --model PATH.gguf` swaps in
any GGUF; `--llm-config FILE.toml` lists models and their endpoints
(docs: deploy/vllm/README.md):

    [[models]]
    name = "llama-3.1-70b"          # what studies and participants see
    kind = "openai"                 # vLLM, llama.cpp's server, Ollama, a hosted API
    served_model = "meta-llama/Llama-3.1-70B-Instruct"
    [[models.endpoints]]
    url = "http://gpu-0:8000/v1"
    max_concurrent = 32
    api_key_env = "VLLM_API_KEY"    # optional: the key is read from this variable
    # n_ctx = 8192                  # optional: the context length (vLLM says it itself)

    [[models]]
    name = "gemma-3-270m"
    kind = "embedded"
    path = "/models/other.gguf"     # optional: the packaged model by default
    instances = 1

    [pool]                          # optional: the pool's timeouts and the token budget
    max_reply_tokens = 1024         # the most tokens any reply may generate (a study asking more gets this)
    max_prompt_tokens = 8192        # the most tokens a prompt (system prompt and conversation) may hold
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calma.interact.embedded import LlamaCppBackend
from calma.interact.openai_compat import OpenAICompatibleBackend
from calma.interact.pool import ModelPool, PoolEndpoint, PoolSettings
from calma.interact.slots import Slots

DEFAULT_MODEL = "gemma-3-270m"
KINDS = ("embedded", "openai")
INTEGER_POOL_SETTINGS = {  # name: (lowest, highest)
    "max_attempts": (1, 10),
    "max_reply_tokens": (1, 131_072),
    "max_prompt_tokens": (16, 1_048_576),
    "max_waiting_per_participant": (1, 1000),
    "max_waiting": (1, 1_000_000),
}


class LLMConfigError(ValueError):
    """The LLM configuration is unusable; the message says where and why."""


@dataclass(frozen=True)
class EndpointConfig:
    url: str
    max_concurrent: int = 4
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    kind: str = "embedded"
    path: Path | None = None  # embedded: the GGUF (None: the packaged stand-in)
    instances: int = 1  # embedded: model copies in memory, each generating one reply at a time
    n_threads: int | None = None
    n_ctx: int | None = 2048  # openai: None unless configured (the server may say)
    served_model: str | None = None  # openai: the model name on the server (default: `name`)
    endpoints: tuple[EndpointConfig, ...] = ()

    @property
    def stand_in(self) -> bool:
        """True for the packaged base model: fine for demos and tests, not for a study."""
        return self.kind == "embedded" and self.path is None


@dataclass(frozen=True)
class LLMSettings:
    models: tuple[ModelConfig, ...] = (ModelConfig(DEFAULT_MODEL),)
    pool: PoolSettings = field(default_factory=PoolSettings)

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]


def embedded_model(path: Path | None) -> LLMSettings:
    """`--model PATH.gguf`: one embedded model, named after the file."""
    if path is None:
        return LLMSettings()
    if not path.is_file():
        raise LLMConfigError(f"--model: no file at {path}")
    return LLMSettings(models=(ModelConfig(name=path.stem[:100], path=path),))


def load_llm_config(path: Path, environ: dict[str, str] | None = None) -> LLMSettings:
    """Read a TOML file of models and endpoints (see the module docstring)."""
    env = os.environ if environ is None else environ
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LLMConfigError(f"{path}: {exc}") from exc
    raw_models = document.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise LLMConfigError(f"{path}: needs at least one [[models]] table")
    models = [_model(raw, f"{path}: models[{index}]", env) for index, raw in enumerate(raw_models)]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise LLMConfigError(f"{path}: model names must be unique ({', '.join(names)})")
    pool = _pool(document.get("pool", {}), f"{path}: [pool]")
    return LLMSettings(models=tuple(models), pool=pool)


def _pool(raw: Any, where: str) -> PoolSettings:
    values = _only(raw, set(PoolSettings.__dataclass_fields__), where)
    for key, value in values.items():
        if key in INTEGER_POOL_SETTINGS:
            _int(values, key, 0, where, *INTEGER_POOL_SETTINGS[key])
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86_400:
            raise LLMConfigError(f"{where}: {key} must be a number of seconds above 0 and at most 86400")
    return PoolSettings(**{k: (v if k in INTEGER_POOL_SETTINGS else float(v)) for k, v in values.items()})


def _model(raw: Any, where: str, env: dict[str, str]) -> ModelConfig:
    if not isinstance(raw, dict):
        raise LLMConfigError(f"{where}: must be a table")
    allowed = {"name", "kind", "path", "instances", "n_threads", "n_ctx", "served_model", "endpoints"}
    _only(raw, allowed, where)
    name, kind = raw.get("name"), raw.get("kind", "embedded")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise LLMConfigError(f"{where}: name must be a string of 1 to 100 characters")
    if kind not in KINDS:
        raise LLMConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "embedded":
        path = Path(raw["path"]) if "path" in raw else None
        if path is not None and not path.is_file():
            raise LLMConfigError(f"{where}: no GGUF file at {path}")
        threads = _int(raw, "n_threads", 1, where, 1, 256) if "n_threads" in raw else None
        return ModelConfig(name=name, kind=kind, path=path, instances=_int(raw, "instances", 1, where, 1, 64),
                           n_threads=threads, n_ctx=_int(raw, "n_ctx", 2048, where, 128, 131072))
    endpoints = raw.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        raise LLMConfigError(f"{where}: an openai model needs at least one [[models.endpoints]] with a url")
    parsed = []
    for index, endpoint in enumerate(endpoints):
        at = f"{where}.endpoints[{index}]"
        _only(endpoint, {"url", "max_concurrent", "api_key_env"}, at)
        url = endpoint.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise LLMConfigError(f"{at}: url must be an http(s) URL (the API's base, usually ending in /v1)")
        key_env = endpoint.get("api_key_env")
        if key_env is not None and key_env not in env:
            raise LLMConfigError(f"{at}: the environment variable {key_env} (its API key) is not set")
        parsed.append(EndpointConfig(url=url, max_concurrent=_int(endpoint, "max_concurrent", 4, at, 1, 1024),
                                     api_key=env[key_env] if key_env else None))
    n_ctx = _int(raw, "n_ctx", 2048, where, 128, 1_048_576) if "n_ctx" in raw else None
    return ModelConfig(name=name, kind=kind, served_model=raw.get("served_model") or name, endpoints=tuple(parsed),
                       n_ctx=n_ctx)


def _only(raw: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LLMConfigError(f"{where}: must be a table")
    unknown = set(raw) - allowed
    if unknown:
        raise LLMConfigError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    return raw


def _int(raw: dict[str, Any], key: str, default: int, where: str, low: int, high: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise LLMConfigError(f"{where}: {key} must be an integer from {low} to {high}")
    return value


def build_pool(llm: LLMSettings, *, shared_slots: Slots | None = None, cache_dir: Path | None = None) -> ModelPool:
    """The pool of every configured model's endpoints (nothing is loaded or contacted until it runs)."""
    endpoints: list[PoolEndpoint] = []
    for model in llm.models:
        if model.kind == "embedded":
            for instance in range(model.instances):
                backend = LlamaCppBackend(model.path, name=model.name, instance=instance, n_ctx=model.n_ctx or 2048,
                                          n_threads=model.n_threads, cache_dir=cache_dir)
                endpoints.append(PoolEndpoint(model.name, backend, max_concurrent=1))
        else:
            for endpoint in model.endpoints:
                remote = OpenAICompatibleBackend(
                    endpoint.url, model.served_model or model.name, api_key=endpoint.api_key,
                    # the pool's own timeouts decide; httpx's read timeout only catches a server gone silent
                    read_timeout_s=max(llm.pool.first_token_timeout_s, llm.pool.idle_timeout_s) + 5.0,
                    context_tokens=model.n_ctx,
                )
                endpoints.append(PoolEndpoint(model.name, remote, max_concurrent=endpoint.max_concurrent, shared=True))
    return ModelPool(endpoints, settings=llm.pool, shared_slots=shared_slots)
