"""End to end in Debian chromium: two people on one board see each other and each other's labels."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc, label_texts

pytestmark = pytest.mark.browser

CLIENT_DIST = Path(__file__).resolve().parents[1] / "client" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless, driven by Playwright."""
    if not (CLIENT_DIST / "index.html").is_file():
        pytest.fail(
            "client/dist is not built; build the client first (client/README.md): "
            "`cd client && npm ci && npm run build`"
        )
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_board(browser: Browser, server: ServerProcess, room: str, name: str) -> Page:
    """A fresh browser context (its own person) on the board of `room`, joined through the URL."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.http_url}/?room={room}&name={name}")
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "synced", timeout=TIMEOUT_MS)
    return page


async def add_label(page: Page, text: str) -> None:
    """Type a label and add it; the input clears once the label is in the document."""
    await page.get_by_test_id("label-input").fill(text)
    await page.get_by_test_id("add-label").click()
    await expect(page.get_by_test_id("label-input")).to_have_value("", timeout=TIMEOUT_MS)


def label_item(page: Page, text: str) -> Locator:
    """The label item whose text is exactly `text`."""
    text_match = page.get_by_test_id("label-text").get_by_text(text, exact=True)
    return page.get_by_test_id("label-item").filter(has=text_match)


async def test_two_people_share_presence_and_labels(browser: Browser, server: ServerProcess) -> None:
    """Alice and Bob, in separate contexts, see each other present and each other's labels with authors."""
    room = "browser-e2e"
    alice = await open_board(browser, server, room, "Alice")
    bob = await open_board(browser, server, room, "Bob")

    for page, other in ((alice, "Bob"), (bob, "Alice")):
        present = page.get_by_test_id("presence-list").get_by_test_id("presence-item")
        await expect(present.filter(has_text=other)).to_be_visible(timeout=TIMEOUT_MS)
    await expect(alice.get_by_test_id("presence-item")).to_have_count(2, timeout=TIMEOUT_MS)

    await add_label(alice, "respects students' curiosity")
    from_alice = label_item(bob, "respects students' curiosity")
    await expect(from_alice).to_be_visible(timeout=TIMEOUT_MS)
    await expect(from_alice.get_by_test_id("label-author")).to_have_text("Alice", timeout=TIMEOUT_MS)

    await add_label(bob, "culturally grounded")
    from_bob = label_item(alice, "culturally grounded")
    await expect(from_bob).to_be_visible(timeout=TIMEOUT_MS)
    await expect(from_bob.get_by_test_id("label-author")).to_have_text("Bob", timeout=TIMEOUT_MS)

    for page in (alice, bob):
        items = page.get_by_test_id("label-list").get_by_test_id("label-item")
        await expect(items).to_have_count(2, timeout=TIMEOUT_MS)
    assert "room=browser-e2e" in alice.url

    # Bob leaves by closing his page: Alice's presence list drops him.
    await bob.context.close()
    await expect(alice.get_by_test_id("presence-item").filter(has_text="Bob")).to_have_count(0, timeout=TIMEOUT_MS)


async def test_join_form_and_server_restart(browser: Browser, server: ServerProcess) -> None:
    """Joining through the form keeps the room in the URL; after a hub restart the page resyncs."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.http_url}/?room=restart-room")
    await expect(page.get_by_test_id("join-form")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("room-input")).to_have_value("restart-room", timeout=TIMEOUT_MS)
    await page.get_by_test_id("name-input").fill("Carol")
    await page.get_by_test_id("join-button").click()
    status = page.get_by_test_id("status")
    await expect(status).to_have_attribute("data-state", "synced", timeout=TIMEOUT_MS)
    await expect(page).to_have_url(f"{server.http_url}/?room=restart-room&name=Carol", timeout=TIMEOUT_MS)
    await add_label(page, "survives a restart")
    # The label is stored once another client gets it from the hub.
    async with connect_doc(server.room_url("restart-room")) as other:
        await other.wait_for(lambda doc: "survives a restart" in label_texts(doc))

    server.stop()
    await expect(status).to_have_attribute("data-state", re.compile("disconnected|connecting"), timeout=TIMEOUT_MS)
    await expect(status).to_have_attribute("data-close-code", re.compile(r"\d+"), timeout=TIMEOUT_MS)
    server.start()
    await expect(status).to_have_attribute("data-state", "synced", timeout=TIMEOUT_MS)
    await expect(label_item(page, "survives a restart")).to_be_visible(timeout=TIMEOUT_MS)


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A hub that admits one connection per room and keeps documents under 4 KiB."""
    process = ServerProcess(
        tmp_path / "small", extra_args=["--max-connections-per-room", "1", "--max-document-bytes", "4096"]
    )
    process.start()
    yield process
    process.stop()


async def test_close_codes_show_their_reasons(browser: Browser, small_server: ServerProcess) -> None:
    """A full room (4429, retried) and an oversized document (4413, final) show close_codes.json's reasons."""
    alice = await open_board(browser, small_server, "tiny-room", "Alice")
    bob_context = await browser.new_context()
    bob = await bob_context.new_page()
    await bob.goto(f"{small_server.http_url}/?room=tiny-room&name=Bob")
    bob_status = bob.get_by_test_id("status")
    await expect(bob_status).to_have_attribute("data-close-code", "4429", timeout=TIMEOUT_MS)
    await expect(bob_status).to_contain_text("too many connections in this room", timeout=TIMEOUT_MS)

    # 4429 is retried: once Alice leaves, Bob gets in.
    await alice.context.close()
    await expect(bob_status).to_have_attribute("data-state", "synced", timeout=TIMEOUT_MS)

    # 4413 is final: the page stops reconnecting and says why.
    for i in range(12):
        await add_label(bob, f"{i:02d} " + "x" * 480)
    await expect(bob_status).to_have_attribute("data-state", "closed", timeout=TIMEOUT_MS)
    await expect(bob_status).to_have_attribute("data-close-code", "4413", timeout=TIMEOUT_MS)
    await expect(bob_status).to_contain_text(
        "update would make the document exceed its size limit", timeout=TIMEOUT_MS
    )
