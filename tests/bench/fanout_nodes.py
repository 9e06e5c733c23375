"""Fan-out benchmark over 1, 2, 3 … CALMA hub nodes sharing one room through Redis.

For every (nodes, observers, presence) cell: a private ``redis-server`` on a free
127.0.0.1 port (AOF on, ``appendfsync everysec``, no RDB snapshots, data in a
temporary directory), then N ``calma serve --redis redis://127.0.0.1:PORT/0``
nodes on free ports sharing one temporary data directory (one SQLite store of
record). ``fanout_load.mjs`` spreads the observers round-robin over the nodes'
room URLs and puts the writer on node 0, so for N > 1 most observers get the
writer's updates through Redis. Every figure is per node, side by side per N.
Redis and the nodes are stopped (SIGTERM, SIGKILL after 10 s) after each cell.

Run from the repository root:

    .venv/bin/python tests/bench/fanout_nodes.py --nodes 1,2,3 --observers 1500 \
        --presence off --duration 20 [--json OUT]

Reuses fanout.py's process, sampling and load-generator pieces; see
tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import (  # noqa: E402  (a script next to fanout.py, not a package)
    HOST,
    LoadGen,
    Options,
    Sampler,
    ServerProcess,
    ServerSpec,
    _calma_bin,
    _csv,
    _dist_version,
    _fmt,
    check_prerequisites,
    environment,
    fanout_args,
    options_from_args,
    raise_fd_limit,
    system_busy_seconds,
    system_irq_seconds,
    wait_for_quiet,
    work_directory,
)

MAX_NODES = 8


def redis_spec() -> ServerSpec:
    """A private redis-server: AOF every second, no RDB, data in the given directory."""
    return ServerSpec(
        name="redis",
        argv=lambda port, data: [
            "redis-server",
            "--bind",
            HOST,
            "--port",
            str(port),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            str(data),
        ],
        env=lambda port, data: {},
        url=lambda port, room: f"redis://{HOST}:{port}/0",
        version=lambda: subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    )


def node_spec(index: int, redis_url: str, shared_data: Path) -> ServerSpec:
    """One calma hub node; every node of a cell uses the same data directory (its own is unused)."""
    return ServerSpec(
        name=f"calma-node{index}",
        argv=lambda port, data: [
            _calma_bin(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--redis",
            redis_url,
            "--data-dir",
            str(shared_data),
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
    )


def run_nodes(nodes: int, observers: int, presence: bool, opts: Options, workdir: Path) -> dict[str, Any]:
    """Redis + `nodes` calma nodes, one load run; per-node CPU and peak RSS."""
    out: dict[str, Any] = {"nodes": nodes, "observers": observers, "presence": presence}
    shared = Path(tempfile.mkdtemp(prefix=f"calma-shared-{nodes}-", dir=workdir))
    redis: ServerProcess | None = None
    servers: list[ServerProcess] = []
    try:
        try:
            redis = ServerProcess(redis_spec(), workdir, opts.startup_timeout)
            redis_url = redis.url("")
            for i in range(nodes):  # one at a time: the first creates the store and secret
                servers.append(ServerProcess(node_spec(i, redis_url, shared), workdir, opts.startup_timeout))
        except RuntimeError as exc:
            return {**out, "error": str(exc)}
        query = f"?{opts.observer_query}" if opts.observer_query else ""
        observer_urls = ",".join(s.url(opts.room) + query for s in servers)
        args = [*fanout_args(observer_urls, observers, presence, opts), "--writer-url", servers[0].url(opts.room)]
        budget = 60 + observers / opts.connect_rate * 2 + opts.warmup + opts.duration + opts.drain + 60
        deadline = time.monotonic() + budget
        everyone = [*servers, redis]
        cpu0: list[float] = []
        cpu1: list[float] = []
        busy0 = busy1 = irq0 = irq1 = t0 = t1 = 0.0
        result: dict[str, Any] | None = None
        with contextlib.ExitStack() as stack:
            samplers = [stack.enter_context(Sampler(s, opts.max_rss)) for s in everyone]
            load = LoadGen(args)
            while True:
                event = load.next_event(deadline)
                kind = event.get("event")
                if kind == "measure_start":
                    cpu0 = [s.cpu_seconds() for s in everyone]
                    busy0, irq0, t0 = system_busy_seconds(), system_irq_seconds(), time.monotonic()
                elif kind == "measure_end":
                    cpu1 = [s.cpu_seconds() for s in everyone]
                    busy1, irq1, t1 = system_busy_seconds(), system_irq_seconds(), time.monotonic()
                elif kind == "result":
                    result = event
                elif kind == "error":
                    out.setdefault("loadgen_errors", []).append(event.get("error"))
                elif kind in ("eof", "timeout"):
                    if kind == "timeout":
                        out.setdefault("loadgen_errors", []).append(f"no result within {budget:.0f}s")
                    break
            load.finish()
        alive = [s.alive() for s in everyone]
        dead_logs = {s.spec.name: s.log_tail() for s, ok in zip(everyone, alive, strict=True) if not ok}
        window = t1 - t0
        cpu = [(b - a) / window * 100 for a, b in zip(cpu0, cpu1, strict=True)] if cpu0 and cpu1 and window > 0 else []
        out["node_cpu_pct"] = cpu[:-1] if cpu else [None] * nodes
        out["redis_cpu_pct"] = cpu[-1] if cpu else None
        out["node_peak_rss_mb"] = [s.peak_rss / 2**20 for s in samplers[:-1]]
        out["redis_peak_rss_mb"] = samplers[-1].peak_rss / 2**20
        if window > 0:
            out["machine_busy_pct"] = (busy1 - busy0) / window * 100
            out["irq_cpu_pct"] = (irq1 - irq0) / window * 100
        out["processes_dead_at_end"] = [s.spec.name for s, ok in zip(everyone, alive, strict=True) if not ok]
        if dead_logs:
            out["dead_log_tails"] = dead_logs
        if load.stderr:
            out["loadgen_stderr"] = load.stderr[-20:]
        if result is None:
            out["error"] = "load generator gave no result"
            out["log_tails"] = {s.spec.name: s.log_tail() for s in everyone}
        else:
            out.update({k: v for k, v in result.items() if k not in ("event", "observers", "presence")})
            if result.get("closes"):
                out["log_tails"] = {s.spec.name: s.log_tail() for s in everyone}
        return out
    finally:
        for s in reversed(servers):  # nodes first, then redis (AOF flushed on SIGTERM)
            s.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(shared, ignore_errors=True)


def print_report(runs: list[dict[str, Any]], max_nodes: int) -> None:
    """One row per cell; per-node CPU% and peak RSS side by side."""
    node_cols = "".join(f"{f'n{i} CPU%':>9}{f'n{i} MB':>8}" for i in range(max_nodes))
    head = (
        f"{'nodes':>5}{'obs':>6} {'pres':<4}{'p50 ms':>8}{'p95 ms':>9}{'p99 ms':>9}{'deliv':>8}"
        f"{node_cols}{'sum CPU%':>9}{'redis%':>8}{'redisMB':>8}{'cli CPU%':>9}{'cli lag':>8}{'irq%':>6}  notes"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        lat = r.get("latency_ms") or {}
        cpus = list(r.get("node_cpu_pct") or [])
        rsss = list(r.get("node_peak_rss_mb") or [])
        cells = ""
        for i in range(max_nodes):
            cells += f"{_fmt(cpus[i] if i < len(cpus) else None):>9}{_fmt(rsss[i] if i < len(rsss) else None, '.0f'):>8}"
        total = sum(c for c in cpus if c is not None) if any(c is not None for c in cpus) else None
        notes = []
        if r.get("error"):
            notes.append(f"ERROR: {r['error'][:120]}")
        if r.get("observers_synced") is not None and r.get("observers_synced") != r["observers"]:
            notes.append(f"synced {r.get('observers_synced')}/{r['observers']}")
        if r.get("closes"):
            notes.append("closes " + ", ".join(f"{k}×{v}" for k, v in r["closes"].items()))
        if r.get("errors"):
            notes.append("client errors " + ", ".join(f"{k}×{v}" for k, v in list(r["errors"].items())[:3]))
        if r.get("processes_dead_at_end"):
            notes.append("died: " + ", ".join(r["processes_dead_at_end"]))
        if r.get("loadgen_errors"):
            notes.append("loadgen: " + "; ".join(str(e)[:80] for e in r["loadgen_errors"]))
        print(
            f"{r['nodes']:>5}{r['observers']:>6} {'on' if r['presence'] else 'off':<4}"
            f"{_fmt(lat.get('p50')):>8}{_fmt(lat.get('p95')):>9}{_fmt(lat.get('p99')):>9}"
            f"{_fmt(r.get('delivered_fraction'), '.4f'):>8}{cells}{_fmt(total):>9}"
            f"{_fmt(r.get('redis_cpu_pct')):>8}{_fmt(r.get('redis_peak_rss_mb'), '.0f'):>8}"
            f"{_fmt(r.get('client_cpu_pct')):>9}{_fmt(r.get('client_loop_lag_p99_ms'), '.0f'):>8}"
            f"{_fmt(r.get('irq_cpu_pct'), '.0f'):>6}  {'; '.join(notes)}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fan-out benchmark over several calma nodes sharing Redis.")
    parser.add_argument("--nodes", default="1,2,3", help="comma-separated node counts")
    parser.add_argument("--observers", default="1500", help="comma-separated observer counts")
    parser.add_argument("--presence", default="off", help="comma-separated: off, on")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--rate", type=float, default=20.0, help="writer updates per second")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--presence-hz", type=float, default=1.0)
    parser.add_argument("--connect-rate", type=float, default=250.0)
    parser.add_argument("--max-server-rss-mb", type=int, default=8192, help="kill a process above this RSS")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--observer-query", default="", help="query string added to the observers' room URLs")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="max s to wait for an idle machine per run")
    parser.add_argument("--quiet-threshold", type=float, default=25.0)
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    args.node_counts = [int(x) for x in _csv(args.nodes)]
    args.observer_counts = [int(x) for x in _csv(args.observers)]
    args.presence_modes = [{"off": False, "on": True}[x] for x in _csv(args.presence)]
    if any(n < 1 or n > MAX_NODES for n in args.node_counts):
        parser.error(f"node counts must be within 1..{MAX_NODES}")
    if any(n < 1 or n > 5000 for n in args.observer_counts):
        parser.error("observer counts must be within 1..5000")
    if args.duration + args.warmup + args.drain > 600:
        parser.error("warmup + duration + drain must stay within 600 s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = check_prerequisites(["calma"])
    if shutil.which("redis-server") is None:
        problems.append("redis-server is not on PATH")
    if problems:
        for p in problems:
            print(f"fanout_nodes.py: {p}", file=sys.stderr)
        return 2
    fd_limit = raise_fd_limit()
    opts = options_from_args(args, idle_conns=0)
    env = environment(["calma"])
    env["redis"] = redis_spec().version()
    env["fd_limit"] = fd_limit
    print(f"# fan-out over nodes  {env['when']}  {env['cpus']} CPUs  node {env['node']}  python {env['python']}")
    print(f"#   calma: {env['servers']['calma']}; {env['redis']}")
    print(
        f"# writer {opts.rate:g} updates/s on node 0, observers round-robin over the nodes, warm-up "
        f"{opts.warmup:g} s, measured {opts.duration:g} s, presence {opts.presence_hz:g} Hz per client when on\n",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    with work_directory() as workdir:
        for observers in args.observer_counts:
            for presence in args.presence_modes:
                for nodes in args.node_counts:
                    print(f"... {nodes} node(s): {observers} observers, presence {'on' if presence else 'off'}", flush=True)
                    busy = wait_for_quiet(opts.quiet_wait, opts.quiet_threshold) if opts.quiet_wait > 0 else None
                    run = run_nodes(nodes, observers, presence, opts, workdir)
                    run["machine_busy_before_pct"] = busy
                    lat = run.get("latency_ms") or {}
                    print(
                        f"    p99 {_fmt(lat.get('p99'))} ms, delivered {_fmt(run.get('delivered_fraction'), '.4f')}, "
                        f"node CPU {', '.join(_fmt(c) for c in run.get('node_cpu_pct') or [])}%"
                        + (f", error: {run['error']}" if run.get("error") else ""),
                        flush=True,
                    )
                    runs.append(run)
    print()
    print_report(runs, max(args.node_counts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"environment": env, "options": vars(opts), "nodes": args.node_counts, "runs": runs}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
