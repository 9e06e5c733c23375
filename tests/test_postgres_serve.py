"""`calma serve` and `calma admin` on PostgreSQL: nothing lost across kill -9, accounts and studies shared by nodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers.admin import calma_admin, create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts

PASSWORD = "ana's long password"


@pytest.fixture
def pg_node(tmp_path: Path, postgres_url: str) -> Iterator[ServerProcess]:
    """`calma serve --database postgresql://...` on a fresh database."""
    process = ServerProcess(tmp_path / "data", extra_args=["--database", postgres_url, "--compact-after", "25"])
    process.start()
    yield process
    process.stop()


def _rows(url: str, room: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        updates = conn.execute("SELECT count(*) FROM room_updates WHERE room = %s", (room,)).fetchone()
        snapshots = conn.execute("SELECT count(*) FROM room_snapshots WHERE room = %s", (room,)).fetchone()
    assert updates is not None and snapshots is not None
    return int(updates[0]), int(snapshots[0])


async def test_updates_survive_kill_9_and_restart_on_postgres(pg_node: ServerProcess, postgres_url: str) -> None:
    url = pg_node.room_url("durable")
    expected = {f"label-{i}" for i in range(40)}
    async with connect_doc(url) as writer, connect_doc(url) as witness:
        for text in sorted(expected):
            add_label(writer.doc, text)
        await witness.wait_for(lambda doc: set(label_texts(doc)) == expected)

    pg_node.kill9()
    assert sum(_rows(postgres_url, "durable")) > 0, "the room's record is in PostgreSQL"
    assert not (pg_node.data_dir / "calma.sqlite3").exists(), "and nothing went to the SQLite default"
    pg_node.start()

    async with connect_doc(url) as fresh:
        assert set(label_texts(fresh.doc)) == expected


def test_admin_cli_and_api_on_postgres_shared_by_two_nodes(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALMA_DATABASE_URL", postgres_url)  # `calma serve` and `calma admin` both read it
    secret = str(tmp_path / "shared-secret.key")  # nodes of one deployment share the token secret
    node_a = ServerProcess(tmp_path / "a", extra_args=["--secret-file", secret])
    node_b = ServerProcess(tmp_path / "b", extra_args=["--secret-file", secret])
    node_a.start()
    node_b.start()
    try:
        create_facilitator(node_a.data_dir, "ana@example.org", "Ana", PASSWORD)
        ana = Person(node_a, "Ana").sign_in("ana@example.org", PASSWORD)
        study = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)
        group = ana.ok("POST", f"/api/studies/{study['id']}/groups", {"name": "A"}, status=201)

        # The session cookie issued by node A is a row in PostgreSQL: node B knows it.
        on_b = Person(node_b, "Ana on B")
        on_b.session = ana.session
        assert on_b.ok("GET", f"/api/studies/{study['id']}")["name"] == study["name"]
        assert Person(node_b, "Ana").sign_in("ana@example.org", PASSWORD).me["facilitator_id"] == ana.me["facilitator_id"]

        # A token made by `calma admin` (another data dir, same database and secret) works on either node.
        token = calma_admin(
            tmp_path / "admin", "token", "--study", study["id"], "--group", group["id"], "--role", "participant",
            "--name", "Ravi", "--secret-file", secret,
        ).strip()  # fmt: skip
        ravi = Person(node_b, "Ravi").with_token(token)
        assert ravi.me["role"] == "participant"
        listed = ana.ok("GET", f"/api/studies/{study['id']}/participants")["participants"]
        assert [p["display_name"] for p in listed] == ["Ravi"]
    finally:
        node_a.stop()
        node_b.stop()
    for node in (node_a, node_b):
        assert not (node.data_dir / "calma.sqlite3").exists()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT count(*) FROM studies").fetchone()
    assert row == (1,)

