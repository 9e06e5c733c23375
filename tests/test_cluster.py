"""`calma cluster`: redis-server, hub nodes and the room-hashing router as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import psutil
import pytest

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from calma.cluster.router import BadRequest, node_for_room, parse_head, room_of, room_order
from tests.helpers.server import REPO, free_port
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


# --- the routing hash -------------------------------------------------------------------------------------------


def test_a_room_always_hashes_to_the_same_node() -> None:
    assert [node_for_room(f"room-{i}", 3) for i in range(200)] == [node_for_room(f"room-{i}", 3) for i in range(200)]
    # The hash depends on nothing but the room and the node count: not the process, its hash seed or the ports.
    assert [node_for_room(room, 3) for room in ("alpha", "beta", "gamma", "delta", "demo")] == [2, 0, 1, 2, 1]
    script = "from calma.cluster.router import node_for_room; print([node_for_room(f'r{i}', 3) for i in range(50)])"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert other.stdout.strip() == str([node_for_room(f"r{i}", 3) for i in range(50)])


def test_rooms_spread_over_the_nodes_and_a_removed_node_moves_only_its_rooms() -> None:
    rooms = [f"room-{i}" for i in range(3000)]
    counts = [0, 0, 0]
    for room in rooms:
        counts[node_for_room(room, 3)] += 1
    assert all(800 < count < 1200 for count in counts), counts
    for room in rooms:
        order = room_order(room, 3)
        assert sorted(order) == [0, 1, 2]
        # Fallback order: without the home node, the room goes to the next in its own order.
        assert order[1] in (0, 1, 2) and order[1] != order[0]
    assert node_for_room("only", 1) == 0


def test_room_of_a_request_target() -> None:
    assert room_of("/rooms/demo") == "demo"
    assert room_of("/rooms/demo?token=abc") == "demo"
    assert room_of("/rooms/caf%C3%A9") == "café"
    assert room_of("/rooms/") is None
    assert room_of("/live") is None
    assert room_of("/api/studies") is None


def test_parse_head_accepts_http_1_and_refuses_garbage() -> None:
    head = parse_head(b"GET /rooms/a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    assert head.target == "/rooms/a" and head.is_upgrade
    assert b"Connection: close" not in head.encode("127.0.0.1")
    plain = parse_head(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: close\r\n" in plain.encode("127.0.0.1") and b"keep-alive" not in plain.encode("127.0.0.1")
    for bad in (
        b"garbage\r\n\r\n",
        b"GET /x HTTP/2.0\r\n\r\n",
        b"GET x HTTP/1.1\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"G(T /x HTTP/1.1\r\n\r\n",
        b"\r\n\r\n",
    ):
        with pytest.raises(BadRequest) as caught:
            parse_head(bad)
        assert caught.value.status == 400


# --- a real cluster ---------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def room_url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.port}/rooms/{room}"

    def state(self) -> dict:
        return json.loads((self.data_dir / "cluster.json").read_text())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_cluster(tmp_path: Path, nodes: int, timeout: float = 60.0, *args: str) -> Cluster:
    port = free_port()
    data_dir = tmp_path / "cluster"
    log_path = tmp_path / "cluster.log"
    command = [
        sys.executable, "-m", "calma", "cluster", "--nodes", str(nodes), "--port", str(port),
        "--data-dir", str(data_dir), "--log-level", "warning", *args,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    cluster = Cluster(process, port, data_dir, log_path)
    deadline = time.monotonic() + timeout
    while not (data_dir / "cluster.json").exists():
        if process.poll() is not None:
            raise RuntimeError(f"calma cluster exited with {process.returncode}:\n{cluster.log()}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"calma cluster not ready after {timeout}s:\n{cluster.log()}")
        time.sleep(0.05)  # polling a condition (the state file, written once the router listens), bounded
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    if cluster.process.poll() is None:
        cluster.process.send_signal(signal.SIGTERM)
        try:
            cluster.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.process.kill()
            cluster.process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = start_cluster(tmp_path, 2)
    try:
        yield running
    finally:
        stop_cluster(running)


def connections(node_url: str) -> float:
    for line in httpx.get(f"{node_url}/metrics", timeout=5).text.splitlines():
        if line.startswith("calma_connections "):
            return float(line.split()[1])
    raise AssertionError("no calma_connections in /metrics")


async def test_clients_through_the_router_converge(cluster: Cluster) -> None:
    url = cluster.room_url("through-the-router")
    async with connect_doc(url) as ana, connect_doc(url) as ben:
        add_label(ana.doc, "from Ana")
        add_label(ben.doc, "from Ben")
        both = {"from Ana", "from Ben"}
        await ana.wait_for(lambda doc: set(label_texts(doc)) == both)
        await ben.wait_for(lambda doc: set(label_texts(doc)) == both)


async def test_a_room_lands_on_its_hashed_node(cluster: Cluster) -> None:
    nodes = [node["url"] for node in cluster.state()["nodes"]]
    rooms: dict[int, str] = {}
    for i in range(100):  # the first room homed on each node
        rooms.setdefault(node_for_room(f"room-{i}", 2), f"room-{i}")
    assert sorted(rooms) == [0, 1]
    for home, room in rooms.items():
        async with connect_doc(cluster.room_url(room)), connect_doc(cluster.room_url(room)):
            assert connections(nodes[home]) == 2
            assert connections(nodes[1 - home]) == 0


async def test_a_cluster_on_a_public_address_refuses_sandbox_rooms(tmp_path: Path) -> None:
    # The router listens on every address; its nodes listen on loopback, which alone would turn
    # sandbox rooms on in each of them: an anonymous client must still be refused (4401), nothing stored.
    public = start_cluster(tmp_path, 1, 60.0, "--host", "0.0.0.0")
    try:
        websocket = await connect(public.room_url("demo"), max_size=None)
        try:
            await websocket.send(b"\x00\x00\x01\x00")  # a sync step 1 of an empty document
        except ConnectionClosed:
            pass
        with anyio.fail_after(10):
            with pytest.raises(ConnectionClosed):
                while True:
                    await websocket.recv()
        assert websocket.close_code == 4401, (websocket.close_code, websocket.close_reason)
    finally:
        stop_cluster(public)


def test_healthz_and_other_paths_through_the_router(cluster: Cluster) -> None:
    response = httpx.get(f"{cluster.url}/healthz", timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "ok"
    with httpx.Client(timeout=5) as client:  # keep-alive on the client side: the router closes after each request
        assert [client.get(f"{cluster.url}/healthz").status_code for _ in range(4)] == [200] * 4
    assert httpx.get(f"{cluster.url}/api/openapi.json", timeout=5).status_code == 200


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_and_oversized_heads_get_400_and_431(cluster: Cluster) -> None:
    malformed = raw_request(cluster.port, b"this is not http\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400 ")
    assert b"application/problem+json" in malformed
    oversized = raw_request(cluster.port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    assert oversized.startswith(b"HTTP/1.1 431 ")
    bad_header = raw_request(cluster.port, b"GET /healthz HTTP/1.1\r\nno colon\r\n\r\n")
    assert bad_header.startswith(b"HTTP/1.1 400 ")
    # The router still serves after all that.
    assert httpx.get(f"{cluster.url}/healthz", timeout=5).status_code == 200


def test_sigterm_stops_the_cluster_and_leaves_no_child_processes(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path, 2)
    try:
        state = cluster.state()
        pids = [state["redis"]["pid"], *(node["pid"] for node in state["nodes"])]
        assert all(psutil.pid_exists(pid) for pid in pids)
        descendants = psutil.Process(cluster.process.pid).children(recursive=True)
        assert {child.pid for child in descendants} >= set(pids)
        cluster.process.send_signal(signal.SIGTERM)
        assert cluster.process.wait(timeout=30) == 0, cluster.log()
        _gone, alive = psutil.wait_procs(descendants, timeout=5)
        assert alive == [], f"left running: {alive}"
        assert not (cluster.data_dir / "cluster.json").exists()
    finally:
        stop_cluster(cluster)


def test_a_router_without_a_live_backend_answers_502(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path, 1)
    try:
        node_pid = cluster.state()["nodes"][0]["pid"]
        node = psutil.Process(node_pid)
        node.kill()
        node.wait(timeout=10)
        response = httpx.get(f"{cluster.url}/healthz", timeout=10)
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        assert cluster.process.poll() is None  # a node's death is logged, not fatal
        deadline = time.monotonic() + 10
        while "exited unexpectedly" not in cluster.log():
            assert time.monotonic() < deadline, cluster.log()
            time.sleep(0.05)  # polling a condition (the supervisor's log line), bounded by the deadline
    finally:
        stop_cluster(cluster)


async def test_a_room_fails_over_to_the_next_node_when_its_home_node_dies(cluster: Cluster) -> None:
    room = "fail-over"
    home = cluster.state()["nodes"][node_for_room(room, 2)]
    async with connect_doc(cluster.room_url(room)) as writer, connect_doc(cluster.room_url(room)) as witness:
        add_label(writer.doc, "before the crash")
        await witness.wait_for(lambda doc: "before the crash" in label_texts(doc))
    node = psutil.Process(home["pid"])
    node.kill()
    node.wait(timeout=10)
    async with connect_doc(cluster.room_url(room)) as reconnected:  # the router tries the room's next node
        assert "before the crash" in label_texts(reconnected.doc)
