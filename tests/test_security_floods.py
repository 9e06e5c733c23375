"""Floods (issue 15, item 10): what one client or one participant can pile onto a real `calma serve`.

The attacker opens more websockets than any page would, from one address and
from many; holds sockets open by sending a request's head or body a byte at a
time (slowloris); sends a head too big to hold; and, as a participant, fires
A/B trials and canvas labels as fast as the API answers. Each is refused
early and clearly, and nobody else is disturbed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.discuss import FinishedSession, run_session
from tests.helpers.lead import LEAD, sign_in_lead
from tests.helpers.server import ServerProcess

PER_ADDRESS = 3
TOTAL = 5
HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with small caps and short deadlines, so that the attacks reach them quickly."""
    node = ServerProcess(tmp_path_factory.mktemp("floods") / "node", extra_args=[
        "--max-websockets-per-address", str(PER_ADDRESS), "--max-websockets", str(TOTAL),
        "--header-timeout", str(HEADER_TIMEOUT_S), "--body-timeout", str(BODY_TIMEOUT_S),
        "--max-labels-per-participant", "3", "--max-ab-trials-per-participant", "2",
    ])  # fmt: skip
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        yield node
    finally:
        node.stop()


# -- websockets: per address and in all, refused before authentication ---------------------------


@asynccontextmanager
async def live_socket(server: ServerProcess, headers: dict[str, str], source: str = "127.0.0.1") -> AsyncIterator[ClientConnection]:
    """An open /live connection from `source` (any 127.x.y.z is this machine), past its hello frame."""
    async with connect(f"{server.ws_url}/live", additional_headers=headers, max_size=None,
                       local_addr=(source, 0)) as websocket:
        with anyio.fail_after(10):
            await websocket.recv()  # hello: the connection was accepted and authenticated
        yield websocket


async def refused_status(server: ServerProcess, path: str, source: str = "127.0.0.1") -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}{path}", local_addr=(source, 0)):
            pass
    return refused.value


async def open_from(server: ServerProcess, source: str, headers: dict[str, str]) -> bool:
    """Whether a new /live connection from `source` is accepted now."""
    try:
        async with live_socket(server, headers, source):
            return True
    except InvalidStatus:
        return False


async def test_one_address_gets_429_past_its_cap_even_before_signing_in_and_others_are_not_affected(
    capped: ServerProcess,
) -> None:
    lena = sign_in_lead(capped)
    async with AsyncExitStack() as held:
        for _ in range(PER_ADDRESS):  # an attacker's address holds as many as it may
            await held.enter_async_context(live_socket(capped, lena.cookie_headers))

        # One more, to /live or to a room, with or without credentials: refused before anything else looks at it.
        for path in ("/live", "/live?token=forged", "/rooms/any-room"):
            refused = await refused_status(capped, path)
            assert refused.response.status_code == 429, path
            assert int(refused.response.headers["Retry-After"]) > 0
            assert b"too many connections from your address" in refused.response.body

        # Another address is not held back by this one's connections.
        async with live_socket(capped, lena.cookie_headers, source="127.0.0.2"):
            pass

    # Once the connections close, the address may connect again (the server counts them down as they end).
    with anyio.fail_after(10):
        while not await open_from(capped, "127.0.0.1", lena.cookie_headers):
            await anyio.sleep(0.05)  # the server sees the closes a moment after the client: wait for that condition
    assert "websocket refused at the connection cap" in capped.log()


async def test_the_server_wide_cap_answers_503_whatever_the_address(capped: ServerProcess) -> None:
    lena = sign_in_lead(capped)
    async with AsyncExitStack() as held:
        for index in range(TOTAL):  # spread over addresses, each under its own cap
            await held.enter_async_context(live_socket(capped, lena.cookie_headers, source=f"127.0.1.{index + 1}"))
        refused = await refused_status(capped, "/rooms/any-room", source="127.0.2.1")
        assert refused.response.status_code == 503
        assert b"as many connections as it allows" in refused.response.body
        # Plain HTTP still answers: the websocket cap is not the server's end.
        assert httpx.get(f"{capped.http_url}/healthz", timeout=5).status_code == 200


# -- slow clients ------------------------------------------------------------------------------------


def raw_connection(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    sock.settimeout(timeout)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def test_a_client_dribbling_its_headers_is_cut_off_within_the_header_timeout(capped: ServerProcess) -> None:
    sock = raw_connection(capped)
    opened = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: calma\r\n")
    closed_after = None
    try:
        for index in range(40):  # a header line every 0.25 s: never complete, never idle
            sock.sendall(f"X-Slow-{index}: {'a' * 8}\r\n".encode())
            sock.settimeout(0.25)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            answer += read_until_closed(sock, 5)
            closed_after = time.monotonic() - opened
            break
    except (BrokenPipeError, ConnectionResetError):
        closed_after = time.monotonic() - opened
        answer = b""
    finally:
        sock.close()
    assert closed_after is not None, "the server kept a dribbling client's connection for 10 s"
    assert HEADER_TIMEOUT_S - 0.5 <= closed_after <= HEADER_TIMEOUT_S + 3, closed_after
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_a_client_that_connects_and_says_nothing_is_closed_within_the_header_timeout(capped: ServerProcess) -> None:
    sock = raw_connection(capped)
    opened = time.monotonic()
    try:
        answer = read_until_closed(sock, HEADER_TIMEOUT_S + 5)
    finally:
        sock.close()
    assert time.monotonic() - opened <= HEADER_TIMEOUT_S + 3
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_sent_too_slowly_is_cut_off_within_the_body_timeout(capped: ServerProcess) -> None:
    sock = raw_connection(capped)
    sock.sendall(b"POST /api/session HTTP/1.1\r\nHost: calma\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"email\": ")
    opened = time.monotonic()
    try:
        read_until_closed(sock, BODY_TIMEOUT_S + 5)
    finally:
        sock.close()
    assert time.monotonic() - opened <= BODY_TIMEOUT_S + 3


def test_a_head_too_big_to_hold_gets_431_and_the_server_answers_the_next_client(capped: ServerProcess) -> None:
    sock = raw_connection(capped)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: calma\r\n")
        try:
            for _ in range(20):  # 20 x 8 KiB headers, over the 64 KiB head limit
                sock.sendall(b"X-Big: " + b"b" * 8192 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed as soon as it had read too much
        answer = read_until_closed(sock, 10)
    except ConnectionResetError:
        answer = b"(reset)"
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 431") or answer == b"(reset)", answer[:100]
    assert httpx.get(f"{capped.http_url}/healthz", timeout=5).status_code == 200


def test_a_normal_client_keeps_its_connection_between_requests(capped: ServerProcess) -> None:
    with httpx.Client(base_url=capped.http_url, timeout=5) as client:
        first = client.get("/healthz")
        second = client.get("/healthz")  # the same kept-alive connection, well within the deadlines
    assert first.status_code == second.status_code == 200


# -- what one participant may pile up ------------------------------------------------------------


@dataclass
class Group:
    facilitator: Person
    study: str
    group: str
    ravi: Person
    mei: Person

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"


@pytest.fixture
def labelling(capped: ServerProcess) -> Group:
    """A new study with one group of two participants, set up by Lena."""
    lena = sign_in_lead(capped)
    study = lena.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "Online group"}, status=201)["id"]

    def join(name: str) -> Person:
        invite = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"}, status=201)
        return Person(capped, name).join(invite["token"], name)

    return Group(lena, study, group, join("Ravi"), join("Mei"))


async def test_a_participant_writes_at_most_their_quota_of_canvas_labels(labelling: Group) -> None:
    s = labelling
    ravi = s.ravi
    for text in ("Accuracy", "Balance", "Empathy"):
        ravi.ok("POST", s.path("/canvas/labels"), {"text": text}, status=201)
    again = ravi.request("POST", s.path("/canvas/labels"), json={"text": "accuracy"})
    assert again.status_code == 201, "writing one of your own labels again is not a new label"
    over = ravi.request("POST", s.path("/canvas/labels"), json={"text": "Curiosity"})
    assert over.status_code == 429 and over.headers["content-type"] == "application/problem+json"
    assert over.json()["type"] == "/api/problems/limit-reached"
    assert "3 labels on this canvas" in over.json()["detail"]
    # Mei's quota is her own; the facilitator has none.
    s.mei.ok("POST", s.path("/canvas/labels"), {"text": "Curiosity"}, status=201)
    s.facilitator.ok("POST", s.path("/canvas/labels"), {"text": "Fairness", "group_id": s.group}, status=201)
    cards = s.facilitator.ok("GET", s.path(f"/canvas?group_id={s.group}"))["cards"]
    assert cards == 5


async def test_labels_fired_at_once_are_placed_one_at_a_time_and_never_past_the_quota(labelling: Group) -> None:
    s = labelling
    statuses: list[int] = []

    async def write(index: int) -> None:
        response = await anyio.to_thread.run_sync(
            lambda: s.mei.request("POST", s.path("/canvas/labels"), json={"text": f"Label number {index}"}))
        statuses.append(response.status_code)

    async with anyio.create_task_group() as tg:
        for index in range(8):
            tg.start_soon(write, index)
    assert statuses.count(201) <= 3 and set(statuses) <= {201, 429}, statuses
    cards = s.facilitator.ok("GET", s.path(f"/canvas?group_id={s.group}"))["cards"]
    assert cards == statuses.count(201) <= 3


@pytest.fixture
async def ab_session(capped: ServerProcess) -> FinishedSession:
    lead = sign_in_lead(capped)
    session = await run_session(capped, lead, "Floods A/B")
    lead.ok("PATCH", session.path(), {"interact": {"max_tokens": 4}})
    return session


async def test_a_participant_runs_one_ab_trial_at_a_time_and_at_most_their_quota(ab_session: FinishedSession) -> None:
    s = ab_session
    arms = {"a": {"model": "gemma-3-270m", "system_prompt": "Be brief."},
            "b": {"model": "gemma-3-270m", "system_prompt": "Be kind."}}
    test = s.lead.ok("POST", s.path("/ab-tests"), {"group_id": s.group, "name": "Brief vs kind", **arms}, status=201)
    trials = s.path(f"/ab-tests/{test['id']}/trials")
    ravi = s.people["Ravi"]

    statuses: list[int] = []

    async def fire() -> None:
        response = await anyio.to_thread.run_sync(lambda: ravi.request("POST", trials, json={"prompt": "Who was Babur?"}))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert "still being answered" in response.json()["detail"]

    async with anyio.create_task_group() as tg:  # four at once: one is answered, the rest wait their turn
        for _ in range(4):
            tg.start_soon(fire)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 429}, statuses

    while statuses.count(201) < 2:
        response = ravi.request("POST", trials, json={"prompt": "Who was Humayun?"})
        assert response.status_code == 201, response.text
        statuses.append(201)
    over = ravi.request("POST", trials, json={"prompt": "Who was Akbar?"})
    assert over.status_code == 429 and over.json()["type"] == "/api/problems/limit-reached"
    assert "as many as one person may (2)" in over.json()["detail"]
    assert s.lead.ok("GET", s.path(f"/ab-tests/{test['id']}/results"))["trials"] == 2
