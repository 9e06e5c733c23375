"""Shared fixtures: a real hub node per test, on a free port with a fresh data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.postgres import database_url, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.helpers.server import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A `calma serve` subprocess on a free port with its own SQLite data dir."""
    process = ServerProcess(tmp_path / "data")
    process.start()
    yield process
    process.stop()
