"""Outages: PostgreSQL stops under a real `calma serve`, Redis dies under a node and under `calma cluster`.

What a user must see: while PostgreSQL is down the API answers at once with a
503 problem and a `Retry-After` (not after a 10 s wait per request, which piles
up every worker's requests), and serves again once it is back; a node that
cannot reach Redis says so on /healthz (503 `degraded`: a load balancer takes
it out of rotation) and is healthy again once Redis is back; and `calma
cluster` keeps its nodes up through a Redis crash and serves again afterwards,
with nothing anyone had seen lost.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.postgres import _postgres_bin
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import ServerProcess, free_port
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts
from tests.test_cluster import start_cluster, stop_cluster

PASSWORD = "lena's long password"
FAST_S = 1.0  # "at once": well under the pool's 10 s acquire timeout


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)  # polling a condition, bounded by the deadline


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


# --- a PostgreSQL server of our own, which we may stop ---------------------------------------------------------


class StoppablePostgres:
    """A private PostgreSQL cluster (initdb/pg_ctl in a temp dir, on a free port) that a test stops and starts.

    Never the machine's server: other tests and people use that one.
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.fail("the outage tests need initdb and pg_ctl (PostgreSQL's server package)", pytrace=False)
        self.pg_ctl = pg_ctl
        self.base = Path(tempfile.mkdtemp(prefix="calma-pg-outage-"))
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            account = pwd.getpwnam("postgres")
            os.chown(self.base, account.pw_uid, account.pw_gid)
            self.base.chmod(0o700)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self.as_user, *command], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{' '.join(command)}: {result.stderr or result.stdout}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart or a failover does: every connection is terminated."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    server = StoppablePostgres()
    server.start()
    yield server
    server.remove()


def test_while_postgresql_is_down_requests_answer_503_at_once_and_serve_again_when_it_is_back(
    tmp_path: Path, stoppable_postgres: StoppablePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALMA_DATABASE_URL", stoppable_postgres.url)  # `calma serve` and `calma admin` both read it
    node = ServerProcess(tmp_path / "data")
    node.start()
    try:
        create_facilitator(node.data_dir, "lena@example.org", "Lena", PASSWORD)
        lena = Person(node, "Lena").sign_in("lena@example.org", PASSWORD)
        assert lena.get("/api/studies").status_code == 200

        stoppable_postgres.stop()  # the database goes away under the running node

        # The first request finds the pool's connection dead; the node probes, learns the server is down and
        # answers at once (before the fix every request waited out the 10 s pool timeout).
        first, first_s = timed(lambda: lena.get("/api/studies"))
        assert first.status_code == 503, first.text
        assert first_s < 5, f"the first request took {first_s:.1f}s"
        # Every later request answers at once, with a problem that says when to come back.
        for _ in range(5):
            response, took_s = timed(lambda: lena.get("/api/studies"))
            assert response.status_code == 503, response.text
            assert took_s < FAST_S, f"a request while PostgreSQL is down took {took_s:.2f}s"
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"] == "/api/problems/unavailable" and problem["status"] == 503
            assert "PostgreSQL" in problem["detail"] and "unreachable" in problem["detail"]
            assert 1 <= int(response.headers["retry-after"]) <= 5
        health, took_s = timed(lambda: httpx.get(f"{node.http_url}/healthz", timeout=30))
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert took_s < FAST_S, f"/healthz while PostgreSQL is down took {took_s:.2f}s"
        assert node.process is not None and node.process.poll() is None, "the node stays up"

        stoppable_postgres.start()  # back: the node reconnects by itself, nobody restarts it
        wait_until(lambda: lena.get("/api/studies").status_code == 200, 20, "the API serves again")
        assert httpx.get(f"{node.http_url}/healthz", timeout=10).json()["status"] == "ok"
        created = lena.post("/api/studies", {"template": "pilot"})
        assert created.status_code == 201, created.text  # writes go through again too
    finally:
        node.stop()


# --- Redis under one node --------------------------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis")
    process.start()
    yield process
    process.stop()


async def test_a_node_that_cannot_reach_redis_says_degraded_on_healthz_until_redis_is_back(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    node = ServerProcess(tmp_path / "data", extra_args=["--redis", redis_server.url])
    node.start()
    healthz = f"{node.http_url}/healthz"
    try:
        url = node.room_url("through-an-outage")
        async with connect_doc(url) as writer, connect_doc(url) as witness:
            add_label(writer.doc, "before Redis died")
            await witness.wait_for(lambda doc: "before Redis died" in label_texts(doc))
        assert httpx.get(healthz, timeout=10).json()["status"] == "ok"

        assert redis_server.process is not None
        redis_server.process.kill()  # Redis crashes
        redis_server.process.wait(timeout=10)

        # The node cannot relay updates to the other nodes: a load balancer must take it out of rotation.
        response, took_s = timed(lambda: httpx.get(healthz, timeout=30))
        assert response.status_code == 503, response.text
        assert response.json()["status"] == "degraded" and response.json()["redis"] == "unreachable"
        assert took_s < 5, f"/healthz took {took_s:.1f}s to notice"
        assert node.process is not None and node.process.poll() is None, "the node stays up"

        redis_server.start()  # same port and data dir: the AOF brings back what Redis had acknowledged
        wait_until(lambda: httpx.get(healthz, timeout=10).status_code == 200, 20, "/healthz is ok again")
        assert httpx.get(healthz, timeout=10).json()["status"] == "ok"
        async with connect_doc(url) as writer, connect_doc(url) as witness:  # and relays again
            assert "before Redis died" in label_texts(writer.doc)
            add_label(writer.doc, "after Redis came back")
            await witness.wait_for(lambda doc: "after Redis came back" in label_texts(doc))
    finally:
        node.stop()


# --- Redis under `calma cluster` -------------------------------------------------------------------------------


async def test_calma_cluster_keeps_its_nodes_through_a_redis_crash_and_serves_again(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path, 2)
    try:
        state = cluster.state()
        node_pids = [node["pid"] for node in state["nodes"]]
        first, second = (node["url"].replace("http://", "ws://") + "/rooms/shared" for node in state["nodes"])
        async with connect_doc(first) as ana, connect_doc(second) as ben:  # one client on each node
            add_label(ana.doc, "seen before the crash")
            await ben.wait_for(lambda doc: "seen before the crash" in label_texts(doc))

        redis = psutil.Process(state["redis"]["pid"])
        redis.kill()  # Redis crashes under the cluster
        redis.wait(timeout=10)

        # The supervisor starts Redis again; the nodes stay up and reconnect; nobody does anything.
        def redis_restarted() -> bool:
            assert cluster.process.poll() is None, f"calma cluster stopped when Redis died:\n{cluster.log()}"
            now = json.loads((cluster.data_dir / "cluster.json").read_text())
            return now["redis"]["pid"] != state["redis"]["pid"] and psutil.pid_exists(now["redis"]["pid"])

        wait_until(redis_restarted, 30, f"Redis started again:\n{cluster.log()}")
        wait_until(lambda: httpx.get(f"{cluster.url}/healthz", timeout=10).status_code == 200, 30,
                   f"the cluster is healthy again:\n{cluster.log()}")  # fmt: skip
        assert cluster.process.poll() is None, cluster.log()
        assert [node["pid"] for node in cluster.state()["nodes"]] == node_pids
        assert all(psutil.pid_exists(pid) for pid in node_pids), "no node was stopped"

        async with connect_doc(first) as ana, connect_doc(second) as ben:
            assert "seen before the crash" in label_texts(ana.doc)  # nothing anyone had seen is lost
            add_label(ben.doc, "after Redis came back")
            await ana.wait_for(lambda doc: "after Redis came back" in label_texts(doc))
    finally:
        stop_cluster(cluster)
