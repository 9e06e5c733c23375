"""End to end in Debian chromium: a board that holds entries no reader expects never blanks the canvas (issue 15, item 3).

Clients can no longer write a board, and the edits room's guard refuses what does not fit; but a
board written before version 3 (or restored by hand) may still hold anything. Here the group's
board holds, besides two good cards, a card at 1e308, an entry that is not a card at all, a card
with a deep value under a key nobody reads and an edit of a card's position that is no position
(rows written into the store before the room is first loaded). Ravi's canvas shows the good cards,
skips the others, says so in a small notice and warns in the console, and the server's canvas API
still answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pycrdt
import pytest
from calma.access.sessions import SESSION_COOKIE
from playwright.async_api import Browser, ConsoleMessage, expect

from calma.canvas.board import CardContent, CardKind, put_card
from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.browser import chromium, collect_errors
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
LEAD = ("lena@example.org", "Lena", "lena's long facilitator password")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    node = ServerProcess(tmp_path_factory.mktemp("board-browser") / "node")
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        yield node
    finally:
        node.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("canvas/index.html") as browser:
        yield browser


def _update(change: Any) -> bytes:
    doc = pycrdt.Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    with doc.transaction():
        change(doc)
    return updates[0]


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _poisoned_board(doc: pycrdt.Doc) -> None:
    for text in ("cites its sources", "kind to beginners"):
        put_card(doc, CardContent(text, CardKind.LABEL), 10.0, 20.0, now_ms=1)
    cards = doc.get("cards", type=pycrdt.Map)
    cards["c-00000000000000a1"] = pycrdt.Map({"text": "far away", "kind": "label", "x": 1e308, "y": 0.0})
    cards["c-00000000000000a2"] = "not a card"
    cards["c-00000000000000a3"] = pycrdt.Map({"text": "deep", "kind": "label", "x": 1.0, "y": 1.0, "zz": _deep(20)})
    cards["c-00000000000000a4"] = pycrdt.Map({"text": "", "kind": "label", "x": 1.0, "y": 1.0})
    doc.get("hints", type=pycrdt.Map)["h-00000000000000b1"] = pycrdt.Map({"kind": "group", "cards": "nope"})


async def test_a_poisoned_board_shows_its_good_cards_and_says_what_it_skipped(server: ServerProcess, browser: Browser) -> None:
    lena = Person(server, "Lena").sign_in(LEAD[0], LEAD[2])
    study = lena.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "History teachers"}, status=201)["id"]
    invite = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"}, status=201)
    ravi = Person(server, "Ravi").join(invite["token"], "Ravi")
    room = f"study-{study}.group-{group}.board"
    with sqlite3.connect(server.data_dir / "calma.sqlite3") as db:  # before the room is first loaded
        db.execute("INSERT INTO room_updates (room, data) VALUES (?, ?)", (room, _update(_poisoned_board)))

    info = ravi.ok("GET", f"/api/studies/{study}/canvas")
    assert info["cards"] >= 3, "the server's reader skips what it cannot read (and bounds positions), never fails"

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    assert ravi.session is not None
    await context.add_cookies([{"name": SESSION_COOKIE, "value": ravi.session, "url": server.http_url}])
    page = await context.new_page()
    errors = collect_errors(page)
    warnings: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page.on("console", on_console)
    await page.goto(f"{server.http_url}/canvas/")
    await expect(page.locator("body")).to_have_attribute("data-canvas-ready", "1", timeout=TIMEOUT_MS)
    cards = page.get_by_test_id("card")
    for text in ("cites its sources", "kind to beginners", "deep"):
        await expect(cards.filter(has_text=text)).to_be_visible()
    await expect(cards).to_have_count(3)
    notice = page.get_by_test_id("board-skipped")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("could not be shown")
    assert any("Skipped cards entry" in w for w in warnings), warnings
    assert any("Skipped hints entry" in w for w in warnings), warnings
    assert errors == [], errors
    await context.close()
