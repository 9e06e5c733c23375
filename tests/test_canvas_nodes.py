"""The canvas on two hub nodes sharing Redis and PostgreSQL: labels written through both at once all count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from calma.canvas.board import CardKind, card_id, read_cards
from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.lead import LEAD
from tests.helpers.redis_server import RedisProcess
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ServerProcess]]:
    monkeypatch.setenv("CALMA_DATABASE_URL", postgres_url)  # `calma admin` reads it, as the nodes' --database
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    started: list[ServerProcess] = []
    try:
        for index in range(2):
            node = ServerProcess(tmp_path / "data", extra_args=["--redis", redis.url, "--database", postgres_url])
            node.log_path = tmp_path / f"node-{index}.log"
            node.start()
            started.append(node)
        create_facilitator(started[0].data_dir, *LEAD)
        yield started
    finally:
        for node in started:
            node.stop()
        redis.stop()


async def test_the_same_label_written_through_two_nodes_at_once_counts_every_writer(nodes: list[ServerProcess]) -> None:
    a, b = nodes
    lead = Person(a, "Lena").sign_in(LEAD[0], LEAD[2])
    study = lead.ok("POST", "/api/studies", {"template": "pilot", "name": "Two nodes"}, status=201)["id"]
    group = lead.ok("POST", f"/api/studies/{study}/groups", {"name": "Everyone"}, status=201)["id"]
    people: list[Person] = []
    for index in range(12):
        invite = lead.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"}, status=201)
        person = Person(a, f"P{index}").join(invite["token"], f"P{index}")
        if index % 2:
            person.server = b  # the same session, through the other node
        people.append(person)
    people[0].ok("POST", f"/api/studies/{study}/canvas/labels", {"text": "warm-up"}, status=201)  # load the model
    people[1].ok("POST", f"/api/studies/{study}/canvas/labels", {"text": "warm-up two"}, status=201)

    async def write(person: Person) -> None:
        await anyio.to_thread.run_sync(
            lambda: person.ok("POST", f"/api/studies/{study}/canvas/labels", {"text": "kindness"}, status=201))

    async with anyio.create_task_group() as tg:
        for person in people:
            tg.start_soon(write, person)
    kindness = card_id(CardKind.LABEL, "kindness")
    room = a.room_url(f"study-{study}.group-{group}.board")
    async with connect_doc(room, headers=people[0].cookie_headers) as watcher:
        await watcher.wait_for(lambda doc: kindness in read_cards(doc) and read_cards(doc)[kindness].content.uses == 12)
        card = read_cards(watcher.doc)[kindness]
    assert (card.content.uses, card.content.people) == (12, 12), "every writer counted once, whichever node they used"
