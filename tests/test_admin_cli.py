"""`calma admin` against a data dir: facilitator accounts and tokens, as an operator uses them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.admin import AdminFailed, admin_token, calma_admin, create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.room_probe import READ_ONLY, probe_room
from tests.helpers.server import ServerProcess


def test_a_facilitator_account_is_created_with_an_argon2id_hash(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    out = calma_admin(
        data_dir, "create-facilitator", "--email", "Ana@Example.org", "--name", "Ana", "--password-stdin",
        stdin="ana's long password\n",
    )  # fmt: skip
    assert "ana@example.org" in out
    with sqlite3.connect(data_dir / "calma.sqlite3") as conn:
        email, password_hash = conn.execute("SELECT email, password_hash FROM facilitators").fetchone()
    assert email == "ana@example.org"
    assert password_hash.startswith("$argon2id$") and "long password" not in password_hash


@pytest.mark.parametrize(
    ("email", "password", "words"),
    [
        ("not-an-email", "a long enough password", "not an email"),
        ("bo@example.org", "short", "at least 8"),
        ("ana@example.org", "a long enough password", "already exists"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(tmp_path: Path, email: str, password: str, words: str) -> None:
    data_dir = tmp_path / "data"
    create_facilitator(data_dir, "ana@example.org", "Ana", "ana's long password")
    with pytest.raises(AdminFailed) as failed:
        create_facilitator(data_dir, email, "Someone", password)
    assert failed.value.returncode == 1
    assert words in failed.value.stderr


@pytest.fixture
def study(server: ServerProcess) -> tuple[ServerProcess, Person, str, str]:
    create_facilitator(server.data_dir, "ana@example.org", "Ana", "ana's long password")
    ana = Person(server, "Ana").sign_in("ana@example.org", "ana's long password")
    study_id = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group_id = ana.ok("POST", f"/api/studies/{study_id}/groups", {"name": "A"}, status=201)["id"]
    return server, ana, study_id, group_id


def test_a_participant_token_creates_the_participant_once_and_then_reuses_them(
    study: tuple[ServerProcess, Person, str, str],
) -> None:
    server, ana, study_id, group_id = study
    first = admin_token(server.data_dir, study=study_id, group=group_id, role="participant", name="Ravi")
    second = admin_token(server.data_dir, study=study_id, group=group_id, role="participant", name="Ravi")
    assert first != second
    ravi, again = Person(server, "Ravi").with_token(first), Person(server, "Ravi").with_token(second)
    assert ravi.me["participant_id"] == again.me["participant_id"]
    assert [p["display_name"] for p in ana.ok("GET", f"/api/studies/{study_id}/participants")["participants"]] == ["Ravi"]
    listed = ana.ok("GET", f"/api/studies/{study_id}/invites")["invites"]
    assert {i["created_by"] for i in listed} == {None}  # issued by `calma admin`, revocable like any invite


async def test_a_token_works_as_query_parameter_on_a_room(study: tuple[ServerProcess, Person, str, str]) -> None:
    server, _, study_id, group_id = study
    token = admin_token(server.data_dir, study=study_id, group=group_id, role="participant", name="Ravi")
    room = server.room_url(f"study-{study_id}.group-{group_id}.board")
    assert await probe_room(f"{room}?token={token}") == READ_ONLY  # admitted; the board is the server's
    edits = server.room_url(f"study-{study_id}.group-{group_id}.edits")
    assert await probe_room(f"{edits}?token={token}") == "4422"  # admitted to write; the probe's label is refused


def test_a_facilitator_token_is_limited_to_its_study(study: tuple[ServerProcess, Person, str, str]) -> None:
    server, ana, study_id, _ = study
    other = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    scoped = Person(server, "script").with_token(admin_token(server.data_dir, study=study_id, role="facilitator"))
    assert scoped.me["role"] == "facilitator" and scoped.me["study_id"] == study_id
    assert [s["id"] for s in scoped.ok("GET", "/api/studies")["studies"]] == [study_id]
    assert scoped.get(f"/api/studies/{other}").status_code == 404
    assert scoped.post("/api/studies", {}).status_code == 403


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--study", "0123456789abcdef", "--role", "facilitator"], "no study"),
        (["--role", "participant"], "needs --group"),
        (["--group", "0123456789abcdef", "--role", "observer"], "no group"),
        (["--role", "observer", "--ttl", "-5"], "--ttl"),
    ],
)
def test_a_token_for_something_that_does_not_exist_is_refused(
    study: tuple[ServerProcess, Person, str, str], args: list[str], words: str
) -> None:
    server, _, study_id, _ = study
    if "--study" not in args:
        args = ["--study", study_id, *args]
    with pytest.raises(AdminFailed) as failed:
        calma_admin(server.data_dir, "token", *args)
    assert words in failed.value.stderr


@pytest.fixture
def closed_sandbox(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", extra_args=["--no-sandbox-rooms"])
    process.start()
    yield process
    process.stop()


async def test_without_sandbox_rooms_only_study_rooms_are_served(closed_sandbox: ServerProcess) -> None:
    server = closed_sandbox
    assert await probe_room(server.room_url("demo")) == "4401"
    create_facilitator(server.data_dir, "ana@example.org", "Ana", "ana's long password")
    ana = Person(server, "Ana").sign_in("ana@example.org", "ana's long password")
    assert await probe_room(server.room_url("demo"), ana.cookie_headers) == "4403"
    study_id = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    group_id = ana.ok("POST", f"/api/studies/{study_id}/groups", {"name": "A"}, status=201)["id"]
    board = server.room_url(f"study-{study_id}.group-{group_id}.board")
    assert await probe_room(board, ana.cookie_headers) == READ_ONLY  # served (the board is the server's)


def test_a_secret_file_others_can_read_stops_the_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    secret = data_dir / "secret.key"
    secret.write_text("ab" * 32 + "\n")
    secret.chmod(0o644)
    server = ServerProcess(data_dir)
    with pytest.raises(RuntimeError) as failed:
        server.start(timeout=20)
    assert "chmod 600" in str(failed.value)
