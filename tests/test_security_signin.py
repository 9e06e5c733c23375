"""An attacker guesses a facilitator's password against a real server; the sign-in throttle slows them down.

The server runs with short delays (`--sign-in-delay 0.5 --sign-in-max-delay 2`) so that waiting them out
is quick; the defaults are 1 s doubling up to 300 s. Each client address here is what uvicorn reports
from `X-Forwarded-For`, as behind a reverse proxy on the same host (uvicorn trusts it from 127.0.0.1).
Nothing sleeps to synchronize: a test that waits out a delay retries until the server lets it in, within
a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from calma.access.sessions import SESSION_COOKIE
from tests.helpers.admin import AdminFailed, calma_admin, create_facilitator
from tests.helpers.server import ServerProcess

FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 4 * FREE_FAILURES
MAX_DELAY_S = 2.0
OWNER = ("olga@example.org", "Olga", "olga's long password")
ATTACKER_ADDRESS = "203.0.113.66"
OWNER_ADDRESS = "198.51.100.7"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    node = ServerProcess(
        tmp_path_factory.mktemp("signin") / "data",
        extra_args=["--sign-in-free-failures", str(FREE_FAILURES), "--sign-in-delay", "0.5",
                    "--sign-in-max-delay", str(MAX_DELAY_S)],
    )  # fmt: skip
    node.start()
    try:
        yield node
    finally:
        node.stop()


def new_facilitator(server: ServerProcess, name: str) -> tuple[str, str]:
    email, password = f"{name.lower()}@example.org", f"{name}'s long password"
    create_facilitator(server.data_dir, email, name, password)
    return email, password


def sign_in(server: ServerProcess, email: str, password: str, address: str) -> httpx.Response:
    return httpx.post(
        f"{server.http_url}/api/session", json={"email": email, "password": password},
        headers={"X-Forwarded-For": address}, timeout=30,
    )  # fmt: skip


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/api/problems/sign-in-throttled"
    return int(response.headers["Retry-After"])


def until_not_throttled(server: ServerProcess, email: str, password: str, address: str, deadline_s: float) -> httpx.Response:
    """Try again until the answer is not 429; fails if that takes longer than `deadline_s`."""
    deadline = time.monotonic() + deadline_s
    while True:
        response = sign_in(server, email, password, address)
        if response.status_code != 429:
            return response
        assert 1 <= int(response.headers["Retry-After"]) <= MAX_DELAY_S
        assert time.monotonic() < deadline, f"still throttled after {deadline_s} s"
        time.sleep(0.05)  # polling the server's answer, bounded by the deadline


def test_guesses_are_slowed_down_and_even_the_right_password_waits_but_the_owner_gets_in_soon(
    server: ServerProcess,
) -> None:
    email, password = new_facilitator(server, "Olga")

    # The attacker's first guesses are answered as wrong; then the account must wait.
    for _ in range(FREE_FAILURES):
        assert sign_in(server, email, "wrong guess 1234", ATTACKER_ADDRESS).status_code == 401
    first_wait = retry_after(sign_in(server, email, "wrong guess 1234", ATTACKER_ADDRESS))
    # Guessing right now does not help: nothing is checked while the delay runs.
    assert retry_after(sign_in(server, email, password, ATTACKER_ADDRESS)) >= 1

    # The delays grow with each further failure and stop at the cap.
    waits = [first_wait]
    for _ in range(4):
        assert until_not_throttled(server, email, "wrong guess 1234", ATTACKER_ADDRESS, MAX_DELAY_S + 5).status_code == 401
        waits.append(retry_after(sign_in(server, email, "wrong guess 1234", ATTACKER_ADDRESS)))
    assert waits == sorted(waits) and waits[0] < waits[-1] == MAX_DELAY_S, waits

    # The owner, at home on another address, is held back by the account's delay only, never past the cap.
    throttled_at = time.monotonic()
    assert retry_after(sign_in(server, email, password, OWNER_ADDRESS)) <= MAX_DELAY_S
    response = until_not_throttled(server, email, password, OWNER_ADDRESS, MAX_DELAY_S + 5)
    assert response.status_code == 200, response.text
    assert time.monotonic() - throttled_at <= MAX_DELAY_S + 5

    # Her success clears the account's failures: the next wrong guess is free again, and no more.
    assert sign_in(server, email, "wrong guess 1234", ATTACKER_ADDRESS).status_code == 401


async def test_a_burst_of_simultaneous_guesses_is_counted_before_any_password_is_checked(server: ServerProcess) -> None:
    email, password = new_facilitator(server, "Bruno")
    async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as http:

        async def guess(index: int) -> int:
            body = {"email": email, "password": f"burst guess {index:04d}"}
            return (await http.post("/api/session", json=body, headers={"X-Forwarded-For": "203.0.113.90"})).status_code

        statuses = await asyncio.gather(*(guess(i) for i in range(40)))
    # Only the free failures were checked at all; every other guess was refused unseen.
    assert sorted(statuses) == [401] * FREE_FAILURES + [429] * (40 - FREE_FAILURES), statuses
    assert until_not_throttled(server, email, password, "198.51.100.90", MAX_DELAY_S + 5).status_code == 200


def test_one_address_spraying_many_accounts_is_slowed_down_without_hurting_anyone_else(server: ServerProcess) -> None:
    email, password = new_facilitator(server, "Sasha")
    sprayer = "203.0.113.120"
    for index in range(ADDRESS_FREE_FAILURES):
        assert sign_in(server, f"nobody{index}@example.org", "wrong guess 1234", sprayer).status_code == 401
    # A new account, never guessed at: the address itself must wait now.
    assert retry_after(sign_in(server, "nobody-new@example.org", "wrong guess 1234", sprayer)) >= 1
    assert retry_after(sign_in(server, email, password, sprayer)) >= 1
    # Sasha, from her own address, is not affected.
    assert sign_in(server, email, password, OWNER_ADDRESS).status_code == 200


def test_signing_in_many_times_from_one_address_never_throttles_it(server: ServerProcess) -> None:
    """A classroom behind one NAT: successful sign-ins take back what they counted on the address."""
    email, password = new_facilitator(server, "Nadia")
    classroom = "203.0.113.150"
    for _ in range(ADDRESS_FREE_FAILURES + 5):
        assert sign_in(server, email, password, classroom).status_code == 200


def test_malformed_sign_ins_are_refused_before_the_throttle_counts_them(server: ServerProcess) -> None:
    email, password = new_facilitator(server, "Milo")
    for body in ({"email": email}, {"email": email, "password": "x" * 5000}, {"email": "x" * 400, "password": "p"}):
        response = httpx.post(f"{server.http_url}/api/session", json=body, headers={"X-Forwarded-For": "203.0.113.200"})
        assert response.status_code in (400, 422), response.text
    assert sign_in(server, email, password, "203.0.113.200").status_code == 200


def test_an_operator_resets_a_locked_out_password_with_the_cli(server: ServerProcess) -> None:
    email, password = new_facilitator(server, "Rhea")
    old_session = sign_in(server, email, password, OWNER_ADDRESS).cookies[SESSION_COOKIE]
    for _ in range(FREE_FAILURES):
        assert sign_in(server, email, "wrong guess 1234", ATTACKER_ADDRESS).status_code == 401
    assert retry_after(sign_in(server, email, password, OWNER_ADDRESS)) >= 1

    new_password = "rhea's brand new password"
    out = calma_admin(server.data_dir, "reset-password", "--email", email.upper(), "--password-stdin", stdin=new_password + "\n")
    assert f"new password set for {email}" in out and "1 session(s) signed out" in out

    # The new password works at once (the delay is lifted), the old one no longer, and the old session is gone.
    assert sign_in(server, email, new_password, OWNER_ADDRESS).status_code == 200
    assert sign_in(server, email, password, OWNER_ADDRESS).status_code == 401
    me = httpx.get(f"{server.http_url}/api/me", headers={"Cookie": f"{SESSION_COOKIE}={old_session}"})
    assert me.status_code == 401

    with pytest.raises(AdminFailed, match="there is no facilitator with the email 'ghost@example.org'"):
        calma_admin(server.data_dir, "reset-password", "--email", "ghost@example.org", "--password-stdin", stdin="long enough pw\n")
    with pytest.raises(AdminFailed, match="at least 8 characters"):
        calma_admin(server.data_dir, "reset-password", "--email", email, "--password-stdin", stdin="short\n")
    with pytest.raises(AdminFailed, match="is not an email address"):
        calma_admin(server.data_dir, "reset-password", "--email", "not-an-email", "--password-stdin", stdin="long enough pw\n")


def test_the_throttle_outlives_a_restart(tmp_path: Path) -> None:
    """Counters live in the store of record: restarting (or crashing) the server does not reset them."""
    node = ServerProcess(tmp_path / "data", extra_args=["--sign-in-delay", "600", "--sign-in-max-delay", "600"])
    node.start()
    try:
        create_facilitator(node.data_dir, *OWNER)
        for _ in range(5):
            assert sign_in(node, OWNER[0], "wrong guess 1234", ATTACKER_ADDRESS).status_code == 401
        assert retry_after(sign_in(node, OWNER[0], OWNER[2], ATTACKER_ADDRESS)) > 500
        node.kill9()
        node.start()
        assert retry_after(sign_in(node, OWNER[0], OWNER[2], OWNER_ADDRESS)) > 500  # however slow the restart
    finally:
        node.stop()


async def test_a_burst_is_counted_one_guess_at_a_time_on_either_store(database_url: str, tmp_path: Path) -> None:
    """On PostgreSQL the guesses run in concurrent transactions: still only the free failures get checked."""
    node = ServerProcess(tmp_path / "data", extra_args=["--database", database_url, "--sign-in-delay", "600", "--sign-in-max-delay", "600"])
    node.start()
    try:
        calma_admin(node.data_dir, "create-facilitator", "--database", database_url, "--email", OWNER[0],
                    "--name", OWNER[1], "--password-stdin", stdin=OWNER[2] + "\n")  # fmt: skip
        async with httpx.AsyncClient(base_url=node.http_url, timeout=60) as http:

            async def guess(index: int) -> int:
                body = {"email": OWNER[0], "password": f"burst guess {index:04d}"}
                return (await http.post("/api/session", json=body, headers={"X-Forwarded-For": ATTACKER_ADDRESS})).status_code

            statuses = await asyncio.gather(*(guess(i) for i in range(30)))
        assert sorted(statuses) == [401] * FREE_FAILURES + [429] * (30 - FREE_FAILURES), statuses
        assert retry_after(sign_in(node, OWNER[0], OWNER[2], OWNER_ADDRESS)) > 500
        # The operator lifts it with a new password, on this store too.
        calma_admin(node.data_dir, "reset-password", "--database", database_url, "--email", OWNER[0], "--password-stdin",
                    stdin="a brand new password\n")  # fmt: skip
        assert sign_in(node, OWNER[0], "a brand new password", OWNER_ADDRESS).status_code == 200
    finally:
        node.stop()
