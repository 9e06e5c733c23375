"""A PostgreSQL server for tests, and a fresh database on it per test.

The server is, in order: the one `CALMA_TEST_POSTGRES_URL` names (an admin
URL, e.g. postgresql://postgres@host:5432/postgres); the machine's own at
127.0.0.1:5432 as user postgres; or a private cluster started with
initdb/pg_ctl (from /usr/lib/postgresql/*/bin or PATH) in a temp dir on a free
port, for the test session. `CALMA_TEST_POSTGRES_PRIVATE=1` skips straight to
the private cluster. If none of them works the PostgreSQL tests fail, loudly:
they are never skipped.

Each test gets `calma_test_<random>`, created before and dropped after it.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.helpers.server import free_port

MACHINE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class PostgresServer:
    admin_url: str  # a superuser on the maintenance database
    host: str
    port: int
    user: str
    private_dir: Path | None = None  # the private cluster's data dir, if we started one
    _stop: list[str] = field(default_factory=list)

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> tuple[str, str]:
        """A new empty database: its name and URL."""
        name = f"calma_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name, self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            # Connections left by a server killed with -9 may linger until the backend notices.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self._stop:
            subprocess.run(self._stop, capture_output=True, timeout=60)
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)


def _answers(url: str) -> str | None:
    """None if a superuser can connect at `url`; otherwise why not."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split())
    return None


def _postgres_bin(name: str) -> str | None:
    """Debian's newest `/usr/lib/postgresql/<version>/bin/<name>`, else `name` on PATH."""

    def version(path: str) -> int:
        number = Path(path).parents[1].name
        return int(number) if number.isdigit() else 0

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    return found[-1] if found else shutil.which(name)


def _start_private_cluster() -> PostgresServer:
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH")
    base = Path(tempfile.mkdtemp(prefix="calma-pg-"))
    data, log = base / "data", base / "server.log"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root: run them as the postgres account
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no 'postgres' account to run initdb as") from None
        os.chown(base, account.pw_uid, account.pw_gid)
        base.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*command: str) -> None:
        result = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            detail = result.stderr.strip() or result.stdout.strip()
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {detail}")

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    server = PostgresServer(
        admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        host="127.0.0.1",
        port=port,
        user="postgres",
        private_dir=base,
        _stop=[*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
    )
    if (why := _answers(server.admin_url)) is not None:
        server.stop()
        raise RuntimeError(f"the private cluster started but does not answer: {why}")
    return server


def find_or_start_postgres() -> PostgresServer:
    """The server the tests use (see the module docstring); RuntimeError saying what was tried if none."""
    tried: list[str] = []
    if not os.environ.get("CALMA_TEST_POSTGRES_PRIVATE"):
        url = os.environ.get("CALMA_TEST_POSTGRES_URL") or MACHINE_URL
        why = _answers(url)
        if why is None:
            info = psycopg.conninfo.conninfo_to_dict(url)
            return PostgresServer(
                admin_url=url,
                host=str(info.get("host") or "127.0.0.1"),
                port=int(info.get("port") or 5432),
                user=str(info.get("user") or "postgres"),
            )
        tried.append(f"{psycopg.conninfo.conninfo_to_dict(url).get('host')}: {why}")
    try:
        return _start_private_cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        tried.append(f"a private cluster: {exc}")
    raise RuntimeError("no PostgreSQL server for the tests. Tried " + "; ".join(tried))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test session; the tests fail (never skip) if there is none."""
    try:
        server = find_or_start_postgres()
    except RuntimeError as exc:
        pytest.fail(f"PostgreSQL tests need a server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name, url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each backend in turn: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))
