"""Interact benchmark: the model pool against llama-cpp-python called directly, same model, same run.

For each concurrency C (default 1, 4, 16), C conversations ask the packaged
Gemma 3 270M GGUF one question each, all at the same moment:

- through the pool: a real `calma serve` (its default model: the embedded
  llama.cpp instance, cap 1), C fresh participants of one study, each with a
  /live connection and a new conversation, each sending one `chat.send`;
- directly: one `llama_cpp.Llama` in this process (same file, n_ctx,
  n_threads), the prompt the server builds (`dialogue_prompt`), the same
  sampling and stop strings, the C requests served one at a time, first
  come first served (a FIFO worker thread: one Llama cannot run two
  generations at once, which is why the pool caps it at 1), in the order
  the pool served them.

Per reply: TTFT = first text − send (pool: the first `chat.delta` frame;
direct: the first non-empty piece), tokens/s = completion tokens / (end −
first text), and per round aggregate tokens/s = all tokens / (last end −
first send). The two sides run one after the other for each C (never at the
same time: the machine has 2 cores; the pool first on even repeats, direct
first on odd ones), and the ratios pool / direct are the pool's overhead.

Run from the repository root:

    .venv/bin/python tests/bench/interact.py [--concurrency 1,4,16] [--max-tokens 32] [--repeats 1] [--json OUT]

See tests/bench/README.md. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import msgpack
import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parents[1]
sys.path.insert(0, str(REPO))  # tests.helpers, when run as a script

from calma.interact.backend import GenerationRequest, Speaker, Turn  # noqa: E402
from calma.interact.embedded import DIALOGUE_STOPS, dialogue_prompt, packaged_gguf  # noqa: E402
from tests.helpers.api_client import Person  # noqa: E402
from tests.helpers.interact import ChatStudy, chat_study  # noqa: E402
from tests.helpers.live_client import connect_live, live_url  # noqa: E402
from tests.helpers.server import ServerProcess  # noqa: E402

# One question per conversation: conversation i of every round asks QUESTIONS[i], on both sides.
QUESTIONS = (
    "Who was Ashoka?",
    "What was the Mughal Empire?",
    "Why is the Indus Valley civilisation important?",
    "Who built the Taj Mahal, and why?",
    "What was the Maurya Empire?",
    "Who was Akbar?",
    "What happened at the Battle of Plassey?",
    "What was the Salt March?",
    "Who was Rani Lakshmibai?",
    "What was the Gupta period known for?",
    "Who was Chandragupta Maurya?",
    "What was the Vijayanagara Empire?",
    "Why did the East India Company come to India?",
    "Who was Tipu Sultan?",
    "What was the Quit India Movement?",
    "Who wrote the Arthashastra?",
)
WARMUP_QUESTION = "What is history?"
MAX_CONCURRENCY = len(QUESTIONS)
CONTENDED_PCT = 25.0  # CPU of other processes (% of one core) above which a phase is flagged
REPLY_TIMEOUT_S = 900.0  # the pool's own max_queue_wait_s


# ------------------------------------------------------------------ figures


@dataclass
class ReplyFigures:
    """One reply as its asker saw it; times in seconds from the round's first send."""

    index: int
    question: str
    sent: float
    first_text: float | None = None
    end: float | None = None
    tokens: int = 0
    text: str = ""
    status: str = "complete"
    error: str | None = None
    started: float | None = None  # pool: chat.start arrived (the reply got the model)
    deltas: int = 0  # pool: chat.delta frames (batches of tokens)
    server_ttft_ms: int | None = None  # pool: chat.end's ttft_ms (slot granted → first token, on the server)

    @property
    def ttft(self) -> float | None:
        return None if self.first_text is None else self.first_text - self.sent

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_text is None or self.end is None or self.end <= self.first_text or not self.tokens:
            return None
        return self.tokens / (self.end - self.first_text)


@dataclass
class Phase:
    """One side's run of one round: C replies plus what the machine was doing meanwhile."""

    side: str  # "pool" or "direct"
    concurrency: int
    repeat: int
    replies: list[ReplyFigures] = field(default_factory=list)
    wall_s: float = 0.0
    order: list[int] = field(default_factory=list)  # indexes in the order the model served them
    machine_busy_pct: float | None = None
    server_cpu_pct: float | None = None  # calma serve (pool phases)
    bench_cpu_pct: float | None = None  # this process: the /live clients (pool) or llama.cpp itself (direct)
    other_cpu_pct: float | None = None  # everything else: other people's jobs, kernel threads
    quiet_busy_pct: float | None = None  # the machine's busy CPU just before the phase (after waiting for quiet)
    top_others: list[dict[str, Any]] = field(default_factory=list)  # the busiest other processes meanwhile
    load_avg: tuple[float, float, float] | None = None

    @property
    def total_tokens(self) -> int:
        return sum(r.tokens for r in self.replies)

    @property
    def aggregate_tps(self) -> float | None:
        return self.total_tokens / self.wall_s if self.wall_s > 0 else None

    @property
    def model_cpu_s(self) -> float | None:
        """CPU seconds spent serving: calma serve's (pool; the /live clients stand for browsers elsewhere),
        this process's (direct: llama.cpp itself)."""
        pct = self.server_cpu_pct if self.side == "pool" else self.bench_cpu_pct
        return None if pct is None else pct / 100 * self.wall_s

    @property
    def contended(self) -> bool:
        return self.other_cpu_pct is not None and self.other_cpu_pct > CONTENDED_PCT

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "replies"}
        out["replies"] = [{**asdict(r), "ttft": r.ttft, "tokens_per_s": r.tokens_per_s} for r in self.replies]
        out["total_tokens"] = self.total_tokens
        out["aggregate_tps"] = self.aggregate_tps
        out["model_cpu_s"] = self.model_cpu_s
        out["contended"] = self.contended
        return out


class CpuWindow:
    """Machine-wide busy CPU, this process's and the server's, over one phase (% of one core)."""

    def __init__(self, server_pid: int | None) -> None:
        self.me = psutil.Process()
        self.server = psutil.Process(server_pid) if server_pid else None

    def _read(self) -> tuple[float, float, float, float]:
        t = psutil.cpu_times()
        busy = sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
        own = self.me.cpu_times()
        server = 0.0
        if self.server is not None:
            with contextlib.suppress(psutil.Error):
                server = sum(p.cpu_times().user + p.cpu_times().system for p in [self.server, *self.server.children(True)])
        return time.monotonic(), busy, own.user + own.system, server

    def _others(self) -> dict[int, tuple[float, float, str]]:
        """pid → (create time, CPU seconds, command line) of every process but this one and the server's tree."""
        mine = {self.me.pid}
        if self.server is not None:
            with contextlib.suppress(psutil.Error):
                mine |= {self.server.pid, *(p.pid for p in self.server.children(True))}
        out = {}
        for proc in psutil.process_iter(["create_time", "cpu_times", "cmdline", "name"]):
            info = proc.info
            if proc.pid in mine or info.get("cpu_times") is None:
                continue
            command = " ".join(info.get("cmdline") or []) or f"[{info.get('name')}]"
            out[proc.pid] = (info.get("create_time") or 0.0, info["cpu_times"].user + info["cpu_times"].system, command)
        return out

    def __enter__(self) -> CpuWindow:
        self.others_start = self._others()
        self.start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = self._read()
        self.others_stop = self._others()

    def fill(self, phase: Phase) -> None:
        (t0, busy0, own0, srv0), (t1, busy1, own1, srv1) = self.start, self.stop
        span = max(t1 - t0, 1e-9)
        phase.machine_busy_pct = (busy1 - busy0) / span * 100
        phase.bench_cpu_pct = (own1 - own0) / span * 100
        phase.server_cpu_pct = (srv1 - srv0) / span * 100 if self.server is not None else None
        phase.other_cpu_pct = max(0.0, phase.machine_busy_pct - phase.bench_cpu_pct - (phase.server_cpu_pct or 0.0))
        spent = []
        for pid, (created, cpu, command) in self.others_stop.items():
            before = self.others_start.get(pid)
            used = cpu - before[1] if before is not None and before[0] == created else cpu  # new: all its CPU
            spent.append((used, pid, command))
        phase.top_others = [
            {"pid": pid, "cpu_pct": round(used / span * 100, 1), "command": command[:120]}
            for used, pid, command in sorted(spent, reverse=True)[:3] if used / span * 100 >= 1.0
        ]


def machine_busy_pct(seconds: float = 1.0) -> float:
    t0, b0 = time.monotonic(), _busy()
    time.sleep(seconds)
    return (_busy() - b0) / (time.monotonic() - t0) * 100


def _busy() -> float:
    t = psutil.cpu_times()
    return float(sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal")))


def wait_for_quiet(max_wait: float, threshold_pct: float) -> float:
    """Wait (bounded) until the machine's busy CPU over 1 s is below threshold_pct of one core; the last figure."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = machine_busy_pct()
        if busy < threshold_pct or time.monotonic() >= deadline:
            return busy


# ------------------------------------------------------------------ through the pool


@dataclass
class PoolSide:
    """A running `calma serve` with one study set up for chatting."""

    server: ServerProcess
    study: ChatStudy
    system_prompt: str
    sampling: dict[str, Any]
    joined: int = 0

    @classmethod
    def start(cls, data_dir: Path, max_tokens: int) -> PoolSide:
        server = ServerProcess(data_dir)
        server.start(timeout=60)
        try:
            study = chat_study(server, max_tokens=max_tokens)
            settings = study.configure(temperature=0.0, max_tokens=max_tokens, turns_per_minute=120,
                                       max_concurrent_replies=10, max_conversations=1000)
            system_prompt = study.facilitator.ok("GET", study.path())["deployment_context"]["system_prompt"]
        except BaseException:
            server.stop()
            raise
        return cls(server, study, system_prompt, settings["interact"])

    def participants(self, count: int) -> list[Person]:
        """`count` participants who never chatted: each waits in the pool's fair queue as a newcomer."""
        people = []
        for _ in range(count):
            self.joined += 1
            name = f"Bench {self.joined}"
            invite = self.study.facilitator.ok(
                "POST", self.study.path("/invites"), {"group_id": self.study.group, "role": "participant"}, status=201
            )
            people.append(Person(self.server, name).join(invite["token"], name))
        return people

    async def round(self, questions: list[str], repeat: int, cpu_server_pid: int | None) -> Phase:
        people = self.participants(len(questions))
        conversations = [self.study.start_conversation(person)["id"] for person in people]
        phase = Phase("pool", len(questions), repeat)
        async with contextlib.AsyncExitStack() as stack:
            lives = [await stack.enter_async_context(connect_live(live_url(self.server), p.cookie_headers)) for p in people]
            with CpuWindow(cpu_server_pid) as window:
                t0 = time.perf_counter()
                replies = await asyncio.gather(
                    *(ask_over_live(live.websocket, index, cid, question, t0)
                      for index, (live, cid, question) in enumerate(zip(lives, conversations, questions, strict=True)))
                )
                phase.wall_s = max((r.end or 0.0) for r in replies)
            window.fill(phase)
        phase.replies = list(replies)
        phase.order = [r.index for r in sorted(replies, key=lambda r: r.started if r.started is not None else 1e9)]
        return phase

    def warm_up(self) -> ReplyFigures:
        """One reply before measuring: the server loads the model on first use."""
        person = self.participants(1)[0]
        conversation = self.study.start_conversation(person)["id"]

        async def ask() -> ReplyFigures:
            async with connect_live(live_url(self.server), person.cookie_headers) as live:
                return await ask_over_live(live.websocket, 0, conversation, WARMUP_QUESTION, time.perf_counter())

        return asyncio.run(ask())


async def ask_over_live(websocket: Any, index: int, conversation: str, question: str, t0: float) -> ReplyFigures:
    """Send one chat.send and read this connection's frames until the reply's chat.end (times from t0)."""
    reply = ReplyFigures(index, question, sent=time.perf_counter() - t0)
    await websocket.send(msgpack.packb({"type": "chat.send", "id": "q", "conversation": conversation, "text": question}))
    reply_id: str | None = None
    pieces: list[str] = []
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while True:
        try:
            data = await asyncio.wait_for(websocket.recv(), timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            reply.status, reply.error = "timeout", f"no chat.end within {REPLY_TIMEOUT_S:g} s"
            break
        now = time.perf_counter() - t0
        frame = msgpack.unpackb(data, raw=False)
        kind = frame.get("type")
        if kind == "error" and frame.get("id") == "q":
            reply.status, reply.error = "refused", f"{frame.get('code')}: {frame.get('message')}"
            break
        if kind == "chat.turn" and frame["message"]["role"] == "assistant":
            reply_id = frame["message"]["id"]
        elif reply_id is None and "reply" in frame:
            reply_id = frame["reply"]  # one reply per connection: its frames, even if one came before its chat.turn
        if reply_id is None or frame.get("reply") != reply_id:
            continue
        if kind == "chat.start":
            reply.started = now
        elif kind == "chat.delta":
            if reply.first_text is None:
                reply.first_text = now
            reply.deltas += 1
            pieces.append(frame["text"])
        elif kind == "chat.end":
            reply.end = now
            reply.tokens = int(frame.get("completion_tokens") or 0)
            reply.status = str(frame.get("status"))
            reply.error = frame.get("error")
            reply.server_ttft_ms = frame.get("ttft_ms")
            break
    reply.text = "".join(pieces)
    return reply


# ------------------------------------------------------------------ directly


class DirectSide:
    """One llama_cpp.Llama as the server loads it, and a FIFO worker thread that runs one generation at a time."""

    def __init__(self, model_path: Path, *, n_ctx: int, n_threads: int, system_prompt: str,
                 sampling: dict[str, Any]) -> None:
        from llama_cpp import Llama

        self.llama = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        if self.llama.metadata.get("tokenizer.chat_template"):
            raise SystemExit("this GGUF has a chat template; the server would use create_chat_completion, not this prompt")
        self.system_prompt = system_prompt
        self.options: dict[str, Any] = {
            "max_tokens": sampling["max_tokens"],
            "temperature": sampling["temperature"],
            "top_p": sampling["top_p"],
            "stream": True,
        }
        self.jobs: queue.Queue[tuple[ReplyFigures, float, threading.Event] | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="direct-llama", daemon=True)
        self.worker.start()

    def prompt(self, question: str) -> str:
        """Exactly what LlamaCppBackend sends for a one-turn conversation."""
        return dialogue_prompt(GenerationRequest(self.system_prompt, (Turn(Speaker.USER, question),)))

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            reply, t0, done = job
            try:
                self._generate(reply, t0)
            except Exception as exc:  # reported in the figures, the run goes on
                reply.status, reply.error = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                done.set()

    def _generate(self, reply: ReplyFigures, t0: float) -> None:
        """LlamaCppBackend._run, minus the hand-over to the event loop: count and time the pieces it would emit."""
        chunks = self.llama.create_completion(self.prompt(reply.question), stop=list(DIALOGUE_STOPS), **self.options)
        leading = True
        pieces: list[str] = []
        for chunk in chunks:
            piece = chunk["choices"][0].get("text")
            if not piece:
                continue
            if leading:  # as the server: the space after "Assistant:" is dropped, a blank piece is not shown
                piece = piece.lstrip()
                if not piece:
                    continue
                leading = False
            if reply.first_text is None:
                reply.first_text = time.perf_counter() - t0
            reply.tokens += 1  # the server's completion_tokens: pieces emitted (ReplyWriter.tokens)
            pieces.append(piece)
        reply.end = time.perf_counter() - t0
        reply.text = "".join(pieces)

    def round(self, questions: list[tuple[int, str]], repeat: int, concurrency: int,
              server_pid: int | None = None) -> Phase:
        """Submit every request at once, in `questions`' order; the worker serves them first come, first served."""
        phase = Phase("direct", concurrency, repeat)
        with CpuWindow(server_pid) as window:  # the idle server's CPU is counted apart, not as other%
            t0 = time.perf_counter()
            waits = []
            for index, question in questions:
                reply = ReplyFigures(index, question, sent=time.perf_counter() - t0)
                done = threading.Event()
                self.jobs.put((reply, t0, done))
                phase.replies.append(reply)
                waits.append(done)
            for done in waits:
                if not done.wait(REPLY_TIMEOUT_S):
                    break
            phase.wall_s = max((r.end or 0.0) for r in phase.replies)
        window.fill(phase)
        phase.order = [index for index, _ in questions]
        phase.replies.sort(key=lambda r: r.index)
        return phase

    def warm_up(self) -> ReplyFigures:
        phase = self.round([(0, WARMUP_QUESTION)], repeat=-1, concurrency=1)
        return phase.replies[0]

    def close(self) -> None:
        self.jobs.put(None)
        self.worker.join(timeout=REPLY_TIMEOUT_S)
        self.llama.close()


# ------------------------------------------------------------------ report


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(phases: list[Phase]) -> dict[str, Any]:
    """Figures of every reply of one side at one concurrency, over all repeats."""
    replies = [r for p in phases for r in p.replies]
    ttfts = [r.ttft for r in replies if r.ttft is not None]
    rates = [r.tokens_per_s for r in replies if r.tokens_per_s is not None]
    tokens = sum(p.total_tokens for p in phases)
    wall = sum(p.wall_s for p in phases)
    cpu = [p.model_cpu_s for p in phases]
    cpu_s = sum(c for c in cpu if c is not None) if cpu and None not in cpu else None
    return {
        "replies": len(replies),
        "ok": sum(1 for r in replies if r.status == "complete"),
        "ttft_p50_s": percentile(ttfts, 50),
        "ttft_p95_s": percentile(ttfts, 95),
        "tokens_per_s_mean": statistics.fmean(rates) if rates else None,
        "tokens": tokens,
        "wall_s": wall,
        "aggregate_tps": tokens / wall if wall > 0 else None,
        "mean_tokens": tokens / len(replies) if replies else None,
        "cpu_ms_per_token": cpu_s / tokens * 1000 if cpu_s is not None and tokens else None,
        "deltas_per_reply": statistics.fmean(r.deltas for r in replies) if replies else None,
        "server_ttft_p50_ms": percentile([float(r.server_ttft_ms) for r in replies if r.server_ttft_ms is not None], 50),
        "contended_phases": sum(1 for p in phases if p.contended),
        "other_cpu_pct_max": max((p.other_cpu_pct or 0.0) for p in phases) if phases else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _f(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(concurrencies: list[int], phases: list[Phase]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    head = (f"{'C':>3} {'side':<7}{'n':>4}{'p50 TTFT s':>12}{'p95 TTFT s':>12}{'tok/s mean':>12}"
            f"{'agg tok/s':>11}{'CPU ms/tok':>11}{'tok/reply':>10}{'deltas':>8}{'other%':>8}")
    print(head)
    print("-" * len(head))
    for c in concurrencies:
        row: dict[str, Any] = {}
        for side in ("pool", "direct"):
            s = summarise([p for p in phases if p.side == side and p.concurrency == c])
            row[side] = s
            flag = " CONTENDED" if s["contended_phases"] else ""
            deltas = _f(s["deltas_per_reply"], ".1f") if side == "pool" else "-"
            print(f"{c:>3} {side:<7}{s['ok']:>4}{_f(s['ttft_p50_s']):>12}{_f(s['ttft_p95_s']):>12}"
                  f"{_f(s['tokens_per_s_mean']):>12}{_f(s['aggregate_tps']):>11}{_f(s['cpu_ms_per_token'], '.0f'):>11}"
                  f"{_f(s['mean_tokens'], '.1f'):>10}"
                  f"{deltas:>8}{_f(s['other_cpu_pct_max'], '.0f'):>8}{flag}")
        pool, direct = row["pool"], row["direct"]
        row["ratios"] = {
            "ttft_p50": ratio(pool["ttft_p50_s"], direct["ttft_p50_s"]),
            "ttft_p95": ratio(pool["ttft_p95_s"], direct["ttft_p95_s"]),
            "tokens_per_s_mean": ratio(pool["tokens_per_s_mean"], direct["tokens_per_s_mean"]),
            "aggregate_tps": ratio(pool["aggregate_tps"], direct["aggregate_tps"]),
            "cpu_per_token": ratio(pool["cpu_ms_per_token"], direct["cpu_ms_per_token"]),
        }
        r = row["ratios"]
        print(f"{c:>3} {'pool/direct':<11}{_f(r['ttft_p50']):>12}{_f(r['ttft_p95']):>12}"
              f"{_f(r['tokens_per_s_mean']):>12}{_f(r['aggregate_tps']):>11}{_f(r['cpu_per_token']):>11}")
        print()
        summary[str(c)] = row
    print("ratios pool/direct: TTFT above 1 = the pool answers later; tok/s below 1 = the pool streams slower;")
    print("CPU ms/tok: calma serve's CPU (pool) or llama.cpp's in this process (direct) per token; above 1 = the pool")
    print("spends more CPU per token. other% = the highest CPU share of other processes during a phase (% of one core).")
    return summary


# ------------------------------------------------------------------ main


def environment(model_path: Path, n_threads: int, n_ctx: int) -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "calma": version("calma-studio"),
        "llama_cpp_python": version("llama_cpp_python"),
        "model": str(model_path),
        "model_bytes": model_path.stat().st_size,
        "n_threads": n_threads,
        "n_ctx": n_ctx,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Interact benchmark: the model pool vs llama-cpp-python directly.")
    parser.add_argument("--concurrency", default="1,4,16", help=f"comma-separated conversations at once (≤ {MAX_CONCURRENCY})")
    parser.add_argument("--max-tokens", type=int, default=32, help="per reply (the study's max_tokens), 1..4096")
    parser.add_argument("--repeats", type=int, default=1, help="rounds per concurrency and side; figures pool every reply")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="before each phase, wait up to this many s for the machine to be quiet")
    parser.add_argument("--quiet-threshold", type=float, default=25.0, help="quiet: busy CPU below this %% of one core")
    parser.add_argument("--retries", type=int, default=2,
                        help="re-runs of a round (both sides) that other jobs contended; the least contended is kept")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(part) for part in args.concurrency.split(",") if part.strip()]
    except ValueError:
        parser.error("--concurrency: comma-separated integers")
    if not args.levels or any(not 1 <= c <= MAX_CONCURRENCY for c in args.levels):
        parser.error(f"--concurrency: each from 1 to {MAX_CONCURRENCY}")
    if not 1 <= args.max_tokens <= 4096:
        parser.error("--max-tokens: from 1 to 4096")
    if not 1 <= args.repeats <= 20:
        parser.error("--repeats: from 1 to 20")
    if not 0 <= args.retries <= 5:
        parser.error("--retries: from 0 to 5")
    return args


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="calma-bench-interact-") as tmp:
        yield Path(tmp)


def run_phase(label: str, args: argparse.Namespace, run: Any) -> Phase:
    quiet = wait_for_quiet(args.quiet_wait, args.quiet_threshold)
    load = os.getloadavg()
    phase: Phase = run()
    phase.quiet_busy_pct, phase.load_avg = quiet, load
    bad = [r for r in phase.replies if r.status != "complete"]
    flag = "  CONTENDED" if phase.contended else ""
    if phase.contended and phase.top_others:
        top = phase.top_others[0]
        flag += f" (busiest other: {top['command'][:60]} {top['cpu_pct']:.0f}%)"
    print(f"... {label}: {phase.total_tokens} tokens in {phase.wall_s:.1f} s "
          f"({_f(phase.aggregate_tps)} tok/s), machine {phase.machine_busy_pct:.0f}% busy, "
          f"other {phase.other_cpu_pct:.0f}%{flag}" + (f", {len(bad)} not complete: {bad[0].error}" if bad else ""),
          flush=True)
    return phase


def run_round(pool: PoolSide, direct: DirectSide, c: int, repeat: int, server_pid: int,
              args: argparse.Namespace) -> list[Phase]:
    """Both sides at concurrency c, one after the other: pool first on even repeats, direct first on odd ones.

    The direct side serves the requests in the order the pool served them when the pool went first (its fair
    queue serves newcomers in order of arrival), in the order of sending otherwise.
    """
    questions = list(QUESTIONS[:c])

    def through_pool() -> Phase:
        return run_phase(f"pool   C={c:<2} #{repeat + 1}", args, lambda: asyncio.run(pool.round(questions, repeat, server_pid)))

    def directly(order: list[int]) -> Phase:
        jobs = [(i, QUESTIONS[i]) for i in order]
        return run_phase(f"direct C={c:<2} #{repeat + 1}", args, lambda: direct.round(jobs, repeat, c, server_pid))

    if repeat % 2 == 0:
        served = through_pool()
        return [served, directly(served.order)]
    first = directly(list(range(c)))
    return [first, through_pool()]


def run_round_with_retries(pool: PoolSide, direct: DirectSide, c: int, repeat: int, server_pid: int,
                           args: argparse.Namespace, discarded: list[Phase]) -> list[Phase]:
    """A round again (both sides) while other jobs contended either side, at most --retries times.

    The least contended attempt is kept, whatever its figures; the others go to `discarded` (in the JSON).
    """
    attempts = [run_round(pool, direct, c, repeat, server_pid, args)]
    while any(p.contended for p in attempts[-1]) and len(attempts) <= args.retries:
        print("    contended by other jobs; running the round again", flush=True)
        attempts.append(run_round(pool, direct, c, repeat, server_pid, args))
    kept = min(attempts, key=lambda pair: max(p.other_cpu_pct or 0.0 for p in pair))
    discarded += [p for pair in attempts if pair is not kept for p in pair]
    return kept


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model_path = packaged_gguf()
    n_threads = max(1, (os.cpu_count() or 2) // 2)  # LlamaCppBackend._load's default
    n_ctx = 2048  # ModelConfig.n_ctx's default
    env = environment(model_path, n_threads, n_ctx)
    load_before = os.getloadavg()
    print(f"# interact benchmark  {env['when']}  {env['cpus']} CPUs  python {env['python']}  "
          f"llama-cpp-python {env['llama_cpp_python']}  calma {env['calma']}")
    print(f"# model {model_path.name} ({env['model_bytes'] / 2**20:.0f} MiB), n_ctx {n_ctx}, n_threads {n_threads}; "
          f"max_tokens {args.max_tokens}, temperature 0, concurrency {args.concurrency}, repeats {args.repeats}")
    print(f"# load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)

    phases: list[Phase] = []
    discarded: list[Phase] = []
    warm: dict[str, Any] = {}
    with work_directory() as workdir:
        pool = PoolSide.start(workdir / "node", args.max_tokens)
        direct: DirectSide | None = None
        try:
            assert pool.server.process is not None
            server_pid = pool.server.process.pid
            sampling = pool.sampling
            print(f"# study sampling: temperature {sampling['temperature']}, top_p {sampling['top_p']}, "
                  f"max_tokens {sampling['max_tokens']}; stops {list(DIALOGUE_STOPS)!r}", flush=True)
            warm["pool"] = asdict(pool.warm_up())
            direct = DirectSide(model_path, n_ctx=n_ctx, n_threads=n_threads, system_prompt=pool.system_prompt,
                                sampling=sampling)
            warm["direct"] = asdict(direct.warm_up())
            for repeat in range(args.repeats):
                for c in args.levels:
                    phases += run_round_with_retries(pool, direct, c, repeat, server_pid, args, discarded)
        finally:
            if direct is not None:
                direct.close()
            server_log = pool.server.log()
            pool.server.stop()

    load_after = os.getloadavg()
    print()
    summary = print_report(args.levels, phases)
    same = sum(
        1 for p, d in zip((p for p in phases if p.side == "pool"), (p for p in phases if p.side == "direct"), strict=True)
        for rp, rd in zip(p.replies, d.replies, strict=True) if rp.text == rd.text
    )
    total = sum(len(p.replies) for p in phases if p.side == "pool")
    print(f"identical reply text pool vs direct: {same}/{total} (greedy decoding, same prompts)")
    reordered = sum(1 for p in phases if p.side == "pool" and p.order != sorted(p.order))
    print(f"rounds the pool served out of sending order: {reordered}")
    print(f"rounds run again because other jobs contended them: {len(discarded) // 2} (the table keeps the least "
          "contended attempt of each)")
    print(f"# load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json:
        document = {
            "environment": env,
            "options": {"concurrency": args.levels, "max_tokens": args.max_tokens, "repeats": args.repeats,
                        "quiet_wait": args.quiet_wait, "quiet_threshold": args.quiet_threshold,
                        "retries": args.retries},
            "sampling": sampling,
            "system_prompt": pool.system_prompt,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "warm_up": warm,
            "summary": summary,
            "identical_text": {"same": same, "of": total},
            "phases": [p.as_json() for p in phases],
            "discarded_contended_phases": [p.as_json() for p in discarded],
            "server_log_tail": server_log[-3000:],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
