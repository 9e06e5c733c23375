"""A real OpenAI-compatible model server for tests: llama-cpp-python's `python -m llama_cpp.server`.

It serves the packaged Gemma 3 270M (the same GGUF the embedded backend runs)
at `http://127.0.0.1:<free port>/v1` under the name `gemma-3-270m`, and stands
in for vLLM, which needs a GPU. Its output goes to a log file in the test's
temp dir; `kill9` crashes it (a model server dying mid-reply) and `start`
brings it back on the same port.

The GGUF carries no chat template, so without `--chat_format` llama-cpp-python
falls back to its "llama-2" format (`[INST] … [/INST]`), whose markers mean
nothing to Gemma's tokenizer. We pick "gemma": it frames the turns with Gemma's
own `<start_of_turn>user` / `<start_of_turn>model` special tokens and stops at
`<end_of_turn>`, which is what this base model saw in pretraining, so it
answers in several tokens instead of ending at once or echoing `[INST]`.
("gemma" drops the system message; that does not matter for these tests.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from calma.interact.embedded import packaged_gguf
from tests.helpers.server import REPO, free_port

MODEL_ALIAS = "gemma-3-270m"
CHAT_FORMAT = "gemma"


class LlamaServer:
    """Starts, kills (-9) and restarts one `llama_cpp.server` process on a fixed free port."""

    def __init__(self, log_dir: Path, *, port: int | None = None, n_ctx: int = 2048, api_key: str | None = None) -> None:
        self.log_dir = log_dir
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.api_key = api_key  # if set, every request must carry it as a bearer token
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / f"llama-server-{self.port}.log"

    @property
    def url(self) -> str:
        """The base URL an OpenAI client is given (it ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(packaged_gguf()), "--model_alias", MODEL_ALIAS, "--chat_format", CHAT_FORMAT,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", "1",  # one of the two cores; the hub nodes and the test need the other
            # By default a request that arrives while another streams cuts that one short (it gets [DONE]
            # early, looking complete). Off, the second waits for the first, as a server at capacity would:
            # a test that breaks a cap sees it in the timings rather than in silently truncated replies.
            "--interrupt_requests", "false",
        ]  # fmt: skip
        if self.api_key is not None:
            command += ["--api_key", self.api_key]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                if httpx.get(f"{self.url}/models", headers=headers, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"llama_cpp.server not ready after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.1)  # polling a condition (GET /v1/models), bounded by the deadline

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """Crash it, as a model server that dies mid-reply (the port is free again once this returns)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def llm_config(path: Path, url: str, *, max_concurrent: int = 1, **pool: float) -> Path:
    """An LLM config TOML with one OpenAI-compatible model on one endpoint (and [pool] settings, if given)."""
    lines = [
        "[[models]]",
        f'name = "{MODEL_ALIAS}"',
        'kind = "openai"',
        "[[models.endpoints]]",
        f'url = "{url}"',
        f"max_concurrent = {max_concurrent}",
    ]
    if pool:
        lines += ["[pool]", *(f"{key} = {value}" for key, value in pool.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
