"""Fan-out benchmark: CALMA's board hub against two y-websocket peers, same load, same run.

For every (observers, presence) cell and every server, the server is started fresh
on a free 127.0.0.1 port with a fresh temporary data directory (persistence on),
``fanout_load.mjs`` runs the load, and this script samples the server process
(and its children) with psutil: CPU over the measured window and peak RSS over
the whole run. Once per server it also measures memory per idle connection.

Run from the repository root:

    .venv/bin/python tests/bench/fanout.py --observers 100,500,1500 --presence off,on \
        --duration 20 --rate 20 [--servers calma,pycrdt-websocket,node-reference] [--json OUT]

See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Self, TextIO

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parents[1]
LOADGEN = BENCH_DIR / "fanout_load.mjs"
NODE_SERVER = BENCH_DIR / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
PYCRDT_SERVER = BENCH_DIR / "peers" / "pycrdt_ws_server.py"
HOST = "127.0.0.1"
ALL_SERVERS = ("calma", "pycrdt-websocket", "node-reference")
CONTENDED_PCT = 25.0  # 'other' CPU (% of one core) above which a run is flagged


# ------------------------------------------------------------------ servers


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and where its rooms live."""

    name: str
    argv: Callable[[int, Path], list[str]]
    env: Callable[[int, Path], dict[str, str]]
    url: Callable[[int, str], str]
    version: Callable[[], str]


def _calma_bin() -> str:
    return str(Path(sys.executable).parent / "calma")


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _npm_version(package: str) -> str:
    manifest = BENCH_DIR / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


SERVERS: dict[str, ServerSpec] = {
    "calma": ServerSpec(
        name="calma",
        # warning level: the peers log nothing per connection either
        argv=lambda port, data: [
            _calma_bin(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
            # thousands of clients from this one address: no per-address or total websocket cap
            "--max-websockets-per-address",
            "0",
            "--max-websockets",
            "0",
        ],
        env=lambda port, data: {},
        url=lambda port, room: f"ws://{HOST}:{port}/rooms/{room}",
        version=lambda: _dist_version("calma-studio"),
    ),
    "pycrdt-websocket": ServerSpec(
        name="pycrdt-websocket",
        argv=lambda port, data: [
            sys.executable,
            str(PYCRDT_SERVER),
            "--host",
            HOST,
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        env=lambda port, data: {},
        url=lambda port, room: f"ws://{HOST}:{port}/{room}",
        version=lambda: (
            f"pycrdt-websocket {_dist_version('pycrdt-websocket')}, pycrdt-store "
            f"{_dist_version('pycrdt-store')}, pycrdt {_dist_version('pycrdt')}"
        ),
    ),
    "node-reference": ServerSpec(
        name="node-reference",
        argv=lambda port, data: ["node", str(NODE_SERVER)],
        env=lambda port, data: {"HOST": HOST, "PORT": str(port), "YPERSISTENCE": str(data)},
        url=lambda port, room: f"ws://{HOST}:{port}/{room}",
        version=lambda: (
            f"@y/websocket-server {_npm_version('@y/websocket-server')}, yjs "
            f"{_npm_version('yjs')}, y-leveldb {_npm_version('y-leveldb')}"
        ),
    ),
}


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class ServerProcess:
    """One fresh server: its own port, data dir and log file; stopped by its own pid."""

    def __init__(self, spec: ServerSpec, workdir: Path, startup_timeout: float) -> None:
        self.spec = spec
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"{spec.name}-data-", dir=workdir))
        self.log_path = workdir / f"{spec.name}-{self.port}.log"
        self._log: TextIO = self.log_path.open("w")
        env = {**os.environ, **spec.env(self.port, self.data_dir)}
        self.proc = subprocess.Popen(
            spec.argv(self.port, self.data_dir),
            cwd=str(BENCH_DIR),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + startup_timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{spec.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{spec.name} did not listen within {startup_timeout}s: {self.log_tail()}")
            time.sleep(0.1)

    def url(self, room: str) -> str:
        return self.spec.url(self.port, room)

    def pids(self) -> set[int]:
        return {p.pid for p in self._tree()}

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its children (live and reaped)."""
        total = 0.0
        for i, p in enumerate(self._tree()):
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
                if i == 0:
                    total += t.children_user + t.children_system
        return total

    def rss(self) -> int:
        """Resident set size of the server and its children, bytes."""
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(ValueError):
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM our process group, then SIGKILL after 10 s; return the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.proc.returncode


# ------------------------------------------------------------------ sampling and the load generator


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot, steal included (guest time is already in user)."""
    t = psutil.cpu_times()
    parts = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(t, name, 0.0) for name in parts))


def system_irq_seconds() -> float:
    """CPU seconds all cores spent in interrupts and softirqs (loopback TCP work lands here)."""
    t = psutil.cpu_times()
    return float(getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


ProcSnapshot = dict[int, tuple[float, float, bool]]  # pid -> (create_time, cpu seconds, kernel thread)


def processes_snapshot(exclude: set[int]) -> ProcSnapshot:
    """CPU seconds of every process not in `exclude`, to tell other jobs from kernel work."""
    snap: ProcSnapshot = {}
    for proc in psutil.process_iter(["ppid", "create_time", "cpu_times"]):
        info = proc.info
        if proc.pid in exclude or info.get("cpu_times") is None:
            continue
        t = info["cpu_times"]
        kernel_thread = proc.pid == 2 or info.get("ppid") == 2
        snap[proc.pid] = (info.get("create_time") or 0.0, t.user + t.system, kernel_thread)
    return snap


def snapshot_delta(before: ProcSnapshot, after: ProcSnapshot) -> tuple[float, float]:
    """(user processes, kernel threads) CPU seconds spent between two snapshots."""
    user = kernel = 0.0
    for pid, (created, cpu, kthread) in after.items():
        prev = before.get(pid)
        spent = cpu - prev[1] if prev is not None and prev[0] == created else cpu
        if kthread:
            kernel += max(0.0, spent)
        else:
            user += max(0.0, spent)
    return user, kernel


def wait_for_quiet(max_wait: float, threshold_pct: float) -> float:
    """Wait (bounded) until the machine's busy CPU over 1 s is below threshold_pct of one core.

    Returns the last measured busy percentage; other people's jobs on a shared
    machine would otherwise land in the figures.
    """
    deadline = time.monotonic() + max_wait
    busy = 0.0
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        busy = (system_busy_seconds() - b0) / (time.monotonic() - t0) * 100
        if busy < threshold_pct or time.monotonic() >= deadline:
            return busy


class Sampler:
    """Samples server RSS every `interval` s; kills the server above `max_rss`."""

    def __init__(self, server: ServerProcess, max_rss: int, interval: float = 0.2) -> None:
        self.server = server
        self.max_rss = max_rss
        self.interval = interval
        self.peak_rss = 0
        self.killed_for_rss = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.server.rss()
            self.peak_rss = max(self.peak_rss, rss)
            if rss > self.max_rss and self.server.alive():
                self.killed_for_rss = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.server.proc.pid, signal.SIGKILL)
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LoadGen:
    """The Node load generator as a child process, its JSON event lines in a queue."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            ["node", str(LOADGEN), *args],
            cwd=str(BENCH_DIR),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "noise", "line": line.strip()}
            self.events.put(event)
        self.events.put({"event": "eof"})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if len(self.stderr) < 200:
                self.stderr.append(line.rstrip())

    def next_event(self, deadline: float) -> dict[str, Any]:
        """The next event, or {"event": "timeout"} once `deadline` (monotonic) passes."""
        try:
            return self.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return {"event": "timeout"}

    def tell(self, word: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(word + "\n")
            self.proc.stdin.flush()

    def finish(self) -> None:
        """Wait briefly, then kill our own child if it is still there."""
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# ------------------------------------------------------------------ runs


@dataclass
class Options:
    """The benchmark's settings, identical for every server."""

    duration: float
    rate: float
    warmup: float
    drain: float
    presence_hz: float
    connect_rate: float
    idle_conns: int
    max_rss: int
    startup_timeout: float
    deflate: bool
    observer_query: str
    quiet_wait: float = 0.0
    quiet_threshold: float = 25.0
    room: str = "bench"
    extra: dict[str, Any] = field(default_factory=dict)


def options_from_args(args: argparse.Namespace, *, idle_conns: int) -> Options:
    """The settings both benchmark scripts read from their (shared-named) command-line options."""
    return Options(
        duration=args.duration,
        rate=args.rate,
        warmup=args.warmup,
        drain=args.drain,
        presence_hz=args.presence_hz,
        connect_rate=args.connect_rate,
        idle_conns=idle_conns,
        max_rss=args.max_server_rss_mb * 2**20,
        startup_timeout=args.startup_timeout,
        deflate=args.deflate,
        observer_query=args.observer_query,
        quiet_wait=args.quiet_wait,
        quiet_threshold=args.quiet_threshold,
    )


def fanout_args(url: str, observers: int, presence: bool, opts: Options) -> list[str]:
    """The load generator's arguments for one fan-out run (url may be a comma-separated list)."""
    return [
        "--mode",
        "fanout",
        "--url",
        url,
        "--observers",
        str(observers),
        "--rate",
        str(opts.rate),
        "--duration",
        str(opts.duration),
        "--warmup",
        str(opts.warmup),
        "--drain",
        str(opts.drain),
        "--presence",
        "1" if presence else "0",
        "--presence-hz",
        str(opts.presence_hz),
        "--connect-rate",
        str(opts.connect_rate),
        "--deflate",
        "1" if opts.deflate else "0",
    ]


def run_fanout(spec: ServerSpec, observers: int, presence: bool, opts: Options, workdir: Path) -> dict[str, Any]:
    """One fresh server, one load run; the load generator's result plus server figures."""
    out: dict[str, Any] = {"server": spec.name, "observers": observers, "presence": presence}
    try:
        server = ServerProcess(spec, workdir, opts.startup_timeout)
    except RuntimeError as exc:
        return {**out, "error": str(exc)}
    url = server.url(opts.room)
    if opts.observer_query:
        url += "?" + opts.observer_query
    args = fanout_args(url, observers, presence, opts)
    budget = 60 + observers / opts.connect_rate * 2 + opts.warmup + opts.duration + opts.drain + 60
    deadline = time.monotonic() + budget
    result: dict[str, Any] | None = None
    cpu0 = cpu1 = None
    busy0 = busy1 = irq0 = irq1 = t0 = t1 = 0.0
    procs0: ProcSnapshot = {}
    procs1: ProcSnapshot = {}
    rss_at_start = server.rss()
    with Sampler(server, opts.max_rss) as sampler:
        load = LoadGen(args)
        while True:
            event = load.next_event(deadline)
            kind = event.get("event")
            if kind == "measure_start":
                cpu0, busy0, irq0, t0 = (
                    server.cpu_seconds(),
                    system_busy_seconds(),
                    system_irq_seconds(),
                    time.monotonic(),
                )
                procs0 = processes_snapshot({os.getpid(), load.proc.pid, *server.pids()})
            elif kind == "measure_end":
                cpu1, busy1, irq1, t1 = (
                    server.cpu_seconds(),
                    system_busy_seconds(),
                    system_irq_seconds(),
                    time.monotonic(),
                )
                procs1 = processes_snapshot({os.getpid(), load.proc.pid, *server.pids()})
            elif kind == "connected":
                out["connect"] = event
            elif kind == "result":
                result = event
            elif kind == "error":
                out.setdefault("loadgen_errors", []).append(event.get("error"))
            elif kind in ("eof", "timeout"):
                if kind == "timeout":
                    out.setdefault("loadgen_errors", []).append(f"no result within {budget:.0f}s")
                break
        load.finish()
    alive = server.alive()
    log_tail = server.log_tail()
    exit_code = server.stop()
    out["server_alive_at_end"] = alive
    out["server_exit_code"] = None if alive else exit_code
    if cpu0 is not None and cpu1 is not None and t1 > t0:
        out["server_cpu_pct"] = (cpu1 - cpu0) / (t1 - t0) * 100
        out["machine_busy_pct"] = (busy1 - busy0) / (t1 - t0) * 100
        out["irq_cpu_pct"] = (irq1 - irq0) / (t1 - t0) * 100
        other_user, kernel_threads = snapshot_delta(procs0, procs1)
        out["other_processes_cpu_pct"] = other_user / (t1 - t0) * 100  # live at both ends of the window
        out["kernel_threads_cpu_pct"] = kernel_threads / (t1 - t0) * 100
    out["server_peak_rss_mb"] = sampler.peak_rss / 2**20
    out["server_rss_at_start_mb"] = rss_at_start / 2**20
    out["killed_for_rss"] = sampler.killed_for_rss
    if load.stderr:
        out["loadgen_stderr"] = load.stderr[-20:]
    if result is None:
        out["error"] = "load generator gave no result"
        out["server_log_tail"] = log_tail
    else:
        out.update({k: v for k, v in result.items() if k not in ("event", "observers", "presence")})
        if "machine_busy_pct" in out and out.get("client_cpu_pct") is not None:
            # every busy CPU second that is not the server, the load generator or interrupt
            # work: other jobs (including short-lived ones), kernel threads, this script
            out["other_cpu_pct"] = max(
                0.0, out["machine_busy_pct"] - out["server_cpu_pct"] - out["client_cpu_pct"] - out["irq_cpu_pct"]
            )
        if result.get("closes") or not alive:
            out["server_log_tail"] = log_tail
    return out


def run_idle(spec: ServerSpec, opts: Options, workdir: Path) -> dict[str, Any]:
    """RSS growth per idle, synced connection: one anchor connection, then `idle_conns` more."""
    out: dict[str, Any] = {"server": spec.name, "conns": opts.idle_conns}
    try:
        server = ServerProcess(spec, workdir, opts.startup_timeout)
    except RuntimeError as exc:
        return {**out, "error": str(exc)}
    load = LoadGen(
        [
            "--mode",
            "idle",
            "--url",
            server.url(opts.room + "-idle"),
            "--conns",
            str(opts.idle_conns),
            "--connect-rate",
            str(opts.connect_rate),
            "--deflate",
            "1" if opts.deflate else "0",
        ]
    )
    deadline = time.monotonic() + 120 + opts.idle_conns / opts.connect_rate * 2
    rss0 = rss1 = None
    with Sampler(server, opts.max_rss) as sampler:
        while True:
            event = load.next_event(deadline)
            kind = event.get("event")
            if kind == "anchor_ready":
                time.sleep(1.5)
                rss0 = server.rss()
                load.tell("go")
            elif kind == "ready":
                out["synced"] = event.get("synced")
                out["failed"] = event.get("failed")
                out["connect_s"] = event.get("connect_s")
                time.sleep(3.0)
                rss1 = server.rss()
                load.tell("stop")
            elif kind == "result":
                out["closes"] = event.get("closes")
                out["errors"] = event.get("errors")
            elif kind in ("eof", "timeout"):
                if kind == "timeout":
                    out["error"] = "idle run timed out"
                break
        load.finish()
    server.stop()
    out["killed_for_rss"] = sampler.killed_for_rss
    if rss0 is not None and rss1 is not None and out.get("synced"):
        out["rss_before_mb"] = rss0 / 2**20
        out["rss_after_mb"] = rss1 / 2**20
        out["kib_per_conn"] = (rss1 - rss0) / 1024 / int(out["synced"])
    elif "error" not in out:
        out["error"] = "no RSS figures"
    return out


# ------------------------------------------------------------------ report


def _fmt(value: Any, spec: str = ".1f", missing: str = "-") -> str:
    if value is None:
        return missing
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def print_report(runs: list[dict[str, Any]], idle: list[dict[str, Any]], servers: list[str]) -> None:
    """The results table, the calma/peer ratios and the idle-memory table."""
    head = (
        f"{'server':<17}{'obs':>5} {'pres':<4}{'p50 ms':>8}{'p95 ms':>9}{'p99 ms':>9}{'deliv':>8}"
        f"{'sent/s':>8}{'deliv/s':>9}{'srv CPU%':>9}{'peakRSS MB':>11}{'cli CPU%':>9}{'cli lag':>8}{'irq%':>6}{'other%':>7}  notes"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        lat = r.get("latency_ms") or {}
        notes = []
        if r.get("error"):
            notes.append(f"ERROR: {r['error'][:120]}")
        if r.get("observers_synced") is not None and r.get("observers_synced") != r["observers"]:
            notes.append(f"synced {r.get('observers_synced')}/{r['observers']}")
        if r.get("closes"):
            notes.append("closes " + ", ".join(f"{k}×{v}" for k, v in r["closes"].items()))
        if r.get("errors"):
            notes.append("client errors " + ", ".join(f"{k}×{v}" for k, v in list(r["errors"].items())[:3]))
        if r.get("reconnects"):
            notes.append(f"reconnects {r['reconnects']}")
        if (r.get("other_cpu_pct") or 0) > CONTENDED_PCT:
            notes.append("CONTENDED (other jobs on the machine)")
        if r.get("killed_for_rss"):
            notes.append("server killed: RSS limit")
        elif r.get("server_alive_at_end") is False:
            notes.append(f"server died (exit {r.get('server_exit_code')})")
        if r.get("loadgen_errors"):
            notes.append("loadgen: " + "; ".join(str(e)[:80] for e in r["loadgen_errors"]))
        print(
            f"{r['server']:<17}{r['observers']:>5} {'on' if r['presence'] else 'off':<4}"
            f"{_fmt(lat.get('p50')):>8}{_fmt(lat.get('p95')):>9}{_fmt(lat.get('p99')):>9}"
            f"{_fmt(r.get('delivered_fraction'), '.4f'):>8}{_fmt(r.get('send_rate')):>8}"
            f"{_fmt(r.get('deliveries_per_s'), '.0f'):>9}{_fmt(r.get('server_cpu_pct')):>9}"
            f"{_fmt(r.get('server_peak_rss_mb')):>11}{_fmt(r.get('client_cpu_pct')):>9}"
            f"{_fmt(r.get('client_loop_lag_p99_ms'), '.0f'):>8}"
            f"{_fmt(r.get('irq_cpu_pct'), '.0f'):>6}"
            f"{_fmt(r.get('other_cpu_pct'), '.0f'):>7}  {'; '.join(notes)}"
        )

    if "calma" in servers and len(servers) > 1:
        print(
            "\nratios calma / peer (p99 latency: <1 is better; delivered: >1 is better; CPU: <1 is better;"
            "\n  '-': one side delivered nothing within the drain, so there is no latency to compare)"
        )
        by_key = {(r["server"], r["observers"], r["presence"]): r for r in runs}
        cells = sorted({(r["observers"], r["presence"]) for r in runs})
        print(f"{'obs':>5} {'pres':<4} {'peer':<17}{'p99':>8}{'deliv':>8}{'CPU':>8}")
        for obs, pres in cells:
            ours = by_key.get(("calma", obs, pres))
            for peer in servers:
                if peer == "calma" or ours is None:
                    continue
                other = by_key.get((peer, obs, pres))
                if other is None:
                    continue
                print(
                    f"{obs:>5} {'on' if pres else 'off':<4} {peer:<17}"
                    f"{_fmt(_ratio(_p99(ours), _p99(other)), '.3g'):>8}"
                    f"{_fmt(_ratio(ours.get('delivered_fraction'), other.get('delivered_fraction')), '.3g'):>8}"
                    f"{_fmt(_ratio(ours.get('server_cpu_pct'), other.get('server_cpu_pct')), '.3g'):>8}"
                )

    if idle:
        print("\nmemory per idle connection (server RSS growth / synced connections)")
        print(
            f"{'server':<17}{'conns':>6}{'synced':>8}{'RSS before MB':>15}{'RSS after MB':>14}{'KiB/conn':>10}  notes"
        )
        for r in idle:
            print(
                f"{r['server']:<17}{r['conns']:>6}{_fmt(r.get('synced'), 'd'):>8}{_fmt(r.get('rss_before_mb')):>15}"
                f"{_fmt(r.get('rss_after_mb')):>14}{_fmt(r.get('kib_per_conn')):>10}  {r.get('error', '')}"
            )


def _p99(run: dict[str, Any]) -> float | None:
    return (run.get("latency_ms") or {}).get("p99")


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


# ------------------------------------------------------------------ main


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def environment(servers: list[str]) -> dict[str, Any]:
    """What the figures were measured on."""
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "servers": {name: SERVERS[name].version() for name in servers},
    }


def check_prerequisites(servers: list[str]) -> list[str]:
    """Problems that would make a run meaningless, as messages."""
    problems = []
    if shutil.which("node") is None:
        problems.append("node is not on PATH")
    if not (BENCH_DIR / "node_modules" / "ws").is_dir() or not (BENCH_DIR / "node_modules" / "yjs").is_dir():
        problems.append("Node packages missing: run `npm ci --prefix tests/bench`")
    if "node-reference" in servers and not NODE_SERVER.is_file():
        problems.append("@y/websocket-server missing: run `npm ci --prefix tests/bench`")
    if "calma" in servers and not Path(_calma_bin()).exists():
        problems.append(f"{_calma_bin()} not found (install the project into this venv)")
    if "pycrdt-websocket" in servers and _dist_version("pycrdt-websocket") == "not installed":
        problems.append("pycrdt-websocket is not installed in this Python")
    return problems


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fan-out benchmark: calma vs pycrdt-websocket vs the Node reference.")
    parser.add_argument("--observers", default="100,500,1500", help="comma-separated observer counts")
    parser.add_argument("--presence", default="off,on", help="comma-separated: off, on")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--rate", type=float, default=20.0, help="writer updates per second")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of writer traffic before measuring")
    parser.add_argument("--drain", type=float, default=5.0, help="max seconds to wait for stragglers")
    parser.add_argument("--presence-hz", type=float, default=1.0, help="awareness updates per client per second")
    parser.add_argument("--connect-rate", type=float, default=250.0, help="new connections per second")
    parser.add_argument("--idle-conns", type=int, default=1000, help="idle connections for memory/conn (0: skip)")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS))
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--max-server-rss-mb", type=int, default=8192, help="kill a server above this RSS")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate (off: cheaper client)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        help="before each run, wait up to this many seconds for the machine to be idle",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a run that other jobs contended")
    parser.add_argument(
        "--quiet-threshold", type=float, default=25.0, help="'idle' means busy CPU below this %% of one core"
    )
    parser.add_argument("--observer-query", default="", help="query string added to every room URL, e.g. observe=1")
    args = parser.parse_args(argv)
    args.observer_counts = [int(x) for x in _csv(args.observers)]
    args.presence_modes = [{"off": False, "on": True}[x] for x in _csv(args.presence)]
    args.server_names = _csv(args.servers)
    unknown = [s for s in args.server_names if s not in SERVERS]
    if unknown:
        parser.error(f"unknown servers {unknown}; known: {', '.join(SERVERS)}")
    if any(n < 1 or n > 5000 for n in args.observer_counts):
        parser.error("observer counts must be within 1..5000")
    if args.duration + args.warmup + args.drain > 600:
        parser.error("warmup + duration + drain must stay within 600 s")
    return args


def run_with_retries(
    spec: ServerSpec, observers: int, presence: bool, opts: Options, workdir: Path, retries: int
) -> dict[str, Any]:
    """Run a cell; while other jobs contended for the CPU, run it again (at most `retries` times).

    The least contended attempt is kept, whatever its figures; the others are
    summarised under "other_attempts". The same rule holds for every server.
    """
    attempts: list[dict[str, Any]] = []
    for attempt in range(retries + 1):
        busy_before = wait_for_quiet(opts.quiet_wait, opts.quiet_threshold) if opts.quiet_wait > 0 else None
        run = run_fanout(spec, observers, presence, opts, workdir)
        run["machine_busy_before_pct"] = busy_before
        attempts.append(run)
        lat = run.get("latency_ms") or {}
        print(
            f"    p99 {_fmt(lat.get('p99'))} ms, delivered {_fmt(run.get('delivered_fraction'), '.4f')}, "
            f"server CPU {_fmt(run.get('server_cpu_pct'))}%, client CPU {_fmt(run.get('client_cpu_pct'))}%, "
            f"other {_fmt(run.get('other_cpu_pct'), '.0f')}%" + (f", error: {run['error']}" if run.get("error") else ""),
            flush=True,
        )
        if (run.get("other_cpu_pct") or 0.0) <= CONTENDED_PCT:
            break
        if attempt < retries:
            print("    contended by other jobs; running it again", flush=True)
    best = min(attempts, key=lambda r: r.get("other_cpu_pct") or 0.0)
    best["other_attempts"] = [
        {
            "other_cpu_pct": r.get("other_cpu_pct"),
            "p99_ms": (r.get("latency_ms") or {}).get("p99"),
            "delivered_fraction": r.get("delivered_fraction"),
            "server_cpu_pct": r.get("server_cpu_pct"),
        }
        for r in attempts
        if r is not best
    ]
    return best


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="calma-fanout-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = check_prerequisites(args.server_names)
    if problems:
        for p in problems:
            print(f"fanout.py: {p}", file=sys.stderr)
        return 2
    fd_limit = raise_fd_limit()
    opts = options_from_args(args, idle_conns=args.idle_conns)
    env = environment(args.server_names)
    env["fd_limit"] = fd_limit
    print(f"# fan-out benchmark  {env['when']}  {env['cpus']} CPUs  node {env['node']}  python {env['python']}")
    for name, version in env["servers"].items():
        print(f"#   {name}: {version}")
    print(
        f"# writer {opts.rate:g} updates/s, warm-up {opts.warmup:g} s, measured {opts.duration:g} s, "
        f"presence {opts.presence_hz:g} Hz per client when on, connect {opts.connect_rate:g}/s\n",
        flush=True,
    )

    runs: list[dict[str, Any]] = []
    idle: list[dict[str, Any]] = []
    with work_directory() as workdir:
        if opts.idle_conns > 0:
            for name in args.server_names:
                print(f"... idle memory: {name} ({opts.idle_conns} connections)", flush=True)
                if opts.quiet_wait > 0:
                    wait_for_quiet(opts.quiet_wait, opts.quiet_threshold)
                idle.append(run_idle(SERVERS[name], opts, workdir))
        for observers in args.observer_counts:
            for presence in args.presence_modes:
                for name in args.server_names:
                    print(f"... {name}: {observers} observers, presence {'on' if presence else 'off'}", flush=True)
                    runs.append(run_with_retries(SERVERS[name], observers, presence, opts, workdir, args.retries))
    print()
    print_report(runs, idle, args.server_names)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"environment": env, "options": vars(opts), "runs": runs, "idle": idle}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
