"""Starts and supervises `calma cluster`: a private redis-server, an embed worker, N `calma serve` nodes, the router.

Children run in their own sessions, so a Ctrl-C reaches only the supervisor,
which stops them in order. Everything runs in one anyio task group: each child has a task that waits for
its exit and logs it; Ctrl-C or SIGTERM cancels the group, and the shielded
clean-up stops the nodes and the embedding worker (SIGTERM, then SIGKILL after
a grace), then Redis. Redis exiting does not stop the cluster: the supervisor
starts it again on the same port and data dir (its AOF keeps what it had
acknowledged), with a growing delay, while the nodes stay up and reconnect; it
gives up, and stops the cluster, only if Redis keeps dying within
`REDIS_CRASH_LOOP_S` of starting `REDIS_MAX_QUICK_EXITS` times in a row. The nodes run with `--embed-workers`: they share the one
model in the `calma embed-worker` process instead of loading one each.
The ports and pids are written to DATA_DIR/cluster.json for tools and tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from calma.access.sandbox import sandbox_default
from calma.cluster.router import Backend, Router

log = logging.getLogger("calma.cluster")

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
REDIS_RESTART_DELAY_S = 0.2  # before the first restart; doubled after each quick exit, up to REDIS_RESTART_MAX_DELAY_S
REDIS_RESTART_MAX_DELAY_S = 5.0
REDIS_CRASH_LOOP_S = 10.0  # Redis that exits sooner than this after starting counts as a quick exit
REDIS_MAX_QUICK_EXITS = 5


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ClusterConfig:
    nodes: int
    port: int = 8000
    host: str = "127.0.0.1"
    data_dir: Path = Path("calma-cluster")
    database: str | None = None
    redis_port: int | None = None
    log_level: str = "info"
    extra_serve_args: list[str] = field(default_factory=list)
    # Sandbox rooms on every node; None: on only when the router listens on loopback (calma.access.sandbox).
    sandbox_rooms: bool | None = None

    def sandbox_flag(self) -> str:
        """What the nodes are told: they listen on loopback behind the router (a proxy), so it is always explicit."""
        on = sandbox_default(self.host) if self.sandbox_rooms is None else self.sandbox_rooms
        return "--sandbox-rooms" if on else "--no-sandbox-rooms"


@dataclass
class Child:
    name: str
    process: Process
    expected_exit: bool = False
    started_at: float = field(default_factory=time.monotonic)


async def _ask(host: str, port: int, request: bytes, answer: bytes) -> bool:
    """Whether a TCP request to host:port is answered with something starting with `answer`."""
    try:
        with anyio.fail_after(2):
            async with await anyio.connect_tcp(host, port) as stream:
                await stream.send(request)
                return (await stream.receive(1024)).startswith(answer)
    except (OSError, TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError):
        return False


async def _wait_until_answers(child: Child, host: str, port: int, request: bytes, answer: bytes) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not await _ask(host, port, request, answer):
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} did not answer on port {port} within {START_TIMEOUT_S}s")
        await anyio.sleep(0.05)  # polling a condition, bounded by the deadline


async def _stop(child: Child) -> None:
    child.expected_exit = True
    if child.process.returncode is not None:
        return
    child.process.terminate()
    with anyio.move_on_after(STOP_GRACE_S):
        log.info("%s stopped (exit %s)", child.name, await child.process.wait())
        return
    log.warning("%s did not stop within %ss; killing it", child.name, STOP_GRACE_S)
    child.process.kill()
    log.info("%s killed (exit %s)", child.name, await child.process.wait())


async def run_cluster(config: ClusterConfig) -> int:
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        print("calma cluster: redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 1
    data_dir = config.data_dir.resolve()
    (data_dir / "redis").mkdir(parents=True, exist_ok=True)
    redis_port = config.redis_port or free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    children: list[Child] = []  # Redis first: the clean-up stops it last
    failed = False
    state: dict[str, Any] = {}  # DATA_DIR/cluster.json, once everything is up
    redis_cmd = [
        redis_binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(data_dir / "redis"),
        "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
        "--save", "", "--logfile", str(data_dir / "redis" / "redis.log"),
    ]  # fmt: skip

    async def watch(child: Child) -> None:
        code = await child.process.wait()
        if child.expected_exit:
            log.info("%s stopped (exit %s)", child.name, code)
            return
        log.error("%s exited unexpectedly with %s", child.name, code)

    async def start_redis() -> Child:
        child = Child("redis-server", await anyio.open_process(redis_cmd, stdin=None, stdout=None, stderr=None, start_new_session=True))
        if children:
            children[0] = child  # the one the clean-up stops last
        else:
            children.append(child)
        await _wait_until_answers(child, "127.0.0.1", redis_port, b"PING\r\n", b"+PONG")
        log.info("redis-server on %s (pid %d)", redis_url, child.process.pid)
        return child

    async def keep_redis_up(child: Child) -> None:
        """Start Redis again whenever it exits unexpectedly; stop the cluster if it keeps dying at once."""
        nonlocal failed
        quick_exits = 0
        while True:
            code = await child.process.wait()
            if child.expected_exit:
                return
            quick_exits = quick_exits + 1 if time.monotonic() - child.started_at < REDIS_CRASH_LOOP_S else 1
            if quick_exits >= REDIS_MAX_QUICK_EXITS:
                log.error("redis-server exited with %s, %d times in a row within %ss of starting; stopping the cluster",
                          code, quick_exits, REDIS_CRASH_LOOP_S)
                failed = True
                tg.cancel_scope.cancel()
                return
            delay = min(REDIS_RESTART_DELAY_S * 2 ** (quick_exits - 1), REDIS_RESTART_MAX_DELAY_S)
            log.error("redis-server exited unexpectedly with %s; starting it again in %ss (the nodes stay up and reconnect)",
                      code, delay)
            await anyio.sleep(delay)
            try:
                child = await start_redis()
            except (RuntimeError, TimeoutError, OSError) as exc:
                log.error("redis-server did not start again: %s", exc)
                child = children[0]
                if child.process.returncode is None:
                    await _stop(child)
                    child.expected_exit = False  # counts as a quick exit, not as a stop
                continue
            if state:
                state["redis"]["pid"] = child.process.pid
                write_state()

    def write_state() -> None:
        (data_dir / "cluster.json").write_text(json.dumps(state, indent=2))

    async def on_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("received %s; stopping the cluster", signal.Signals(signum).name)
                tg.cancel_scope.cancel()
                return

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(on_signals)
            tg.start_soon(keep_redis_up, await start_redis())

            embed_command = [
                sys.executable, "-m", "calma", "embed-worker", "--redis", redis_url, "--log-level", config.log_level,
            ]  # fmt: skip
            embed_worker = Child("embed-worker", await anyio.open_process(embed_command, stdin=None, stdout=None, stderr=None, start_new_session=True))
            children.append(embed_worker)
            tg.start_soon(watch, embed_worker)  # without it the nodes' embedding calls fail, and say why
            log.info("embed-worker started (pid %d)", embed_worker.process.pid)

            backends = []
            nodes: list[Child] = []
            for index in range(config.nodes):
                port = free_port()
                command = [
                    sys.executable, "-m", "calma", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--data-dir", str(data_dir), "--redis", redis_url,
                    "--embed-workers", "--log-level", config.log_level, config.sandbox_flag(), *config.extra_serve_args,
                ]  # fmt: skip
                if config.database:  # else every node shares the SQLite file in the data dir
                    command += ["--database", config.database]
                node = Child(f"node {index} (port {port})", await anyio.open_process(command, stdin=None, stdout=None, stderr=None, start_new_session=True))
                children.append(node)
                nodes.append(node)
                tg.start_soon(watch, node)  # the router fails over to the other nodes
                backends.append(Backend("127.0.0.1", port))
            for node, backend in zip(nodes, backends, strict=True):
                await _wait_until_answers(
                    node, backend.host, backend.port, b"GET /healthz HTTP/1.0\r\nHost: calma\r\n\r\n", b"HTTP/1.1 200"
                )
                log.info("%s healthy (pid %d)", node.name, node.process.pid)

            router = Router(backends, host=config.host, port=config.port)
            started = asyncio.Event()
            tg.start_soon(router.serve, started)
            await started.wait()
            state = {
                "router": f"http://{config.host}:{config.port}",
                "supervisor_pid": os.getpid(),
                "redis": {"url": redis_url, "pid": children[0].process.pid},
                "embed_worker": {"pid": embed_worker.process.pid},
                "nodes": [
                    {"url": f"http://{b.host}:{b.port}", "port": b.port, "pid": c.process.pid}
                    for b, c in zip(backends, nodes, strict=True)
                ],
                "database": "postgresql" if config.database else str(data_dir / "calma.sqlite3"),
            }
            write_state()
            print(
                f"calma cluster: {config.nodes} nodes behind http://{config.host}:{config.port} (Redis {redis_url}); "
                "Ctrl-C stops everything",
                file=sys.stderr,
                flush=True,
            )
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"calma cluster: {exc}", file=sys.stderr)
        failed = True
    finally:
        with anyio.CancelScope(shield=True):
            workers, redis = children[1:], children[:1]  # the nodes and the embedding worker
            async with anyio.create_task_group() as stopper:
                for child in workers:
                    stopper.start_soon(_stop, child)
            for child in redis:  # last: the nodes may still write to it while draining
                await _stop(child)
            (data_dir / "cluster.json").unlink(missing_ok=True)
    return 1 if failed else 0


def main(config: ClusterConfig) -> int:
    from calma.observability.logs import configure

    configure(config.log_level)
    return anyio.run(run_cluster, config)
