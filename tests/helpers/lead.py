"""A server with one facilitator account (Lena), shared by a test module whose tests each make their own study."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess

LEAD = ("lena@example.org", "Lena", "lena's long password")  # email, name, password


@contextmanager
def server_with_lead(data_dir: Path) -> Iterator[ServerProcess]:
    """A running `calma serve` in `data_dir` where Lena can sign in; stopped afterwards."""
    node = ServerProcess(data_dir)
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        yield node
    finally:
        node.stop()


def sign_in_lead(server: ServerProcess, label: str = "Lena") -> Person:
    return Person(server, label).sign_in(LEAD[0], LEAD[2])
