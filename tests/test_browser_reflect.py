"""End to end in Debian chromium: a participant codes responses on /reflect/ and groups their codes.

A real server, a study from `chat_study` with Reflect opened for the group by the facilitator, and
a participant who joins through an invite link in the browser. They select words in a baseline
response and code them (twice, on overlapping spans, reusing a code from the suggestions), group
two codes into a named and defined cluster in Focused coding (by dragging and with the "Add to
cluster…" menu), reload, and find everything again — on the page and in the server's state. A span
after and around emoji anchors on the right words. A code added offline waits, then is saved when
the connection is back; one waiting when the page reloads is sent by the reloaded page. A second tab
follows the first without a reload. A structural code ("summary") gets a gentle note linking to the
training; a value code does not. In Focused coding codes are renamed and merged, clusters split,
merged and undone. Until Reflect opens for the participant, the page says so and changes wait.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.helpers.browser import chromium, collect_errors
from tests.helpers.interact import ChatStudy, chat_study
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
SAVE_TIMEOUT_MS = 30_000  # the outbox retries with a backoff of at most 15 s

THANKSGIVING = "thanksgiving"

# Selects `phrase` in the rendered response with a DOM Range over its text nodes (the words may span
# several highlights), then lets the page see the selection the way a mouse-up would.
SELECT_PHRASE = """(phrase) => {
  const root = document.querySelector('[data-testid="response-text"]')
  const at = root.textContent.indexOf(phrase)
  if (at < 0) throw new Error(`not in the response: ${phrase}`)
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
  let offset = 0
  let start = null
  let end = null
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    const length = node.data.length
    if (start === null && at < offset + length) start = [node, at - offset]
    if (at + phrase.length <= offset + length) { end = [node, at + phrase.length - offset]; break }
    offset += length
  }
  const range = document.createRange()
  range.setStart(start[0], start[1])
  range.setEnd(end[0], end[1])
  const selection = window.getSelection()
  selection.removeAllRanges()
  selection.addRange(range)
  root.dispatchEvent(new MouseEvent('mouseup', { bubbles: true }))
}"""

# Where a mouse drag over `phrase` starts and ends: just inside its first and last characters.
PHRASE_ENDS = """(phrase) => {
  const root = document.querySelector('[data-testid="response-text"]')
  const at = root.textContent.indexOf(phrase)
  if (at < 0) throw new Error(`not in the response: ${phrase}`)
  const character = (index) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
    let offset = 0
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      if (index < offset + node.data.length) {
        const range = document.createRange()
        range.setStart(node, index - offset)
        range.setEnd(node, index - offset + 1)
        return range.getBoundingClientRect()
      }
      offset += node.data.length
    }
    throw new Error('past the text')
  }
  const first = character(at)
  const last = character(at + phrase.length - 1)
  return [first.left + 1, first.top + first.height / 2, last.right - 1, last.top + last.height / 2]
}"""

SEND_OPS = """async ([study, ops]) => {
  const body = { ops: ops.map((op, i) => ({ op_id: `setup-${Date.now()}-${i}`, op })) }
  const response = await fetch(`/api/studies/${study}/reflect/ops`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  })
  return await response.json()
}"""

STATE = """async (study) => {
  const response = await fetch(`/api/studies/${study}/reflect`, { cache: 'no-store' })
  return await response.json()
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("reflect/index.html", "join/index.html", "me/index.html") as browser:
        yield browser


@pytest.fixture
def study(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server)
        study.facilitator.ok("PUT", study.path("/stage-overrides"), {"group_id": study.group, "stage": "reflect", "state": "open"})
        yield study
    finally:
        server.stop()


async def join(browser: Browser, study: ChatStudy, name: str) -> tuple[BrowserContext, Page, list[str]]:
    """A new participant joins with a fresh invite link in their own browser and opens Reflect."""
    invite = study.facilitator.ok("POST", study.path("/invites"), {"group_id": study.group, "role": "participant"}, status=201)
    context = await browser.new_context()
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/join/?token={invite['token']}")
    await page.get_by_test_id("display-name").fill(name)
    await page.get_by_test_id("join-button").click()
    await expect(page).to_have_url(f"{study.server.http_url}/me/", timeout=TIMEOUT_MS)
    await open_reflect(page, study)
    return context, page, errors


async def open_reflect(page: Page, study: ChatStudy, query: str = "") -> None:
    await page.goto(f"{study.server.http_url}/reflect/{query}")
    await expect(page.get_by_test_id("reflect")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)


async def state(page: Page, study: ChatStudy) -> dict[str, Any]:
    """The participant's Reflect state as the server has it, read in the page with their session."""
    result: dict[str, Any] = await page.evaluate(STATE, study.study)
    return result


async def until(page: Page, study: ChatStudy, check: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
    """Read the server's state until `check` holds (polling with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        current = await state(page, study)
        if check(current):
            return current
        assert time.monotonic() < deadline, f"the server's state never got there: {current}"
        await page.wait_for_timeout(100)  # polling the server's state, bounded by the deadline


async def code_selection(page: Page, phrase: str, *codes: str, memo: str = "") -> None:
    """Select `phrase` in the response and code it with `codes` (typed, each added with Enter)."""
    await page.evaluate(SELECT_PHRASE, phrase)
    panel = page.get_by_test_id("coding-panel")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_test_id("panel-quote")).to_have_text(phrase)
    box = panel.get_by_test_id("code-input")
    await expect(box).to_be_focused()
    for code in codes:
        await box.fill(code)
        await box.press("Enter")
        await expect(panel.locator(f'[data-testid="chip"][data-label="{code}"]')).to_be_visible()
    if memo:
        await panel.get_by_test_id("memo-input").fill(memo)
    await panel.get_by_test_id("save-codes").click()
    await expect(panel).to_be_hidden()


async def drag_over(page: Page, phrase: str) -> None:
    """Select `phrase` in the response with the mouse, as a person would."""
    x1, y1, x2, y2 = await page.evaluate(PHRASE_ENDS, phrase)
    await page.mouse.move(x1, y1)
    await page.mouse.down()
    await page.mouse.move(x2, y2, steps=8)
    await page.mouse.up()


def create(record: str, text: str, phrase: str, *codes: str) -> dict[str, Any]:
    start = text.index(phrase)
    return {"kind": "annotation.create", "id": record, "target_kind": "baseline", "target_id": THANKSGIVING,
            "start": start, "end": start + len(phrase), "quote": phrase, "codes": list(codes)}


def card(page: Page, label: str) -> Locator:
    return page.locator(f'[data-testid="code-card"][data-label="{label}"]')


def box(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="cluster"][data-name="{name}"]')


async def labels_in(cluster: Locator) -> list[str | None]:
    return [await chip.get_attribute("data-label") for chip in await cluster.get_by_test_id("cluster-code").all()]


async def all_saved(page: Page, timeout: int = TIMEOUT_MS) -> None:
    status = page.get_by_test_id("save-status")
    await expect(status).to_have_attribute("data-state", "saved", timeout=timeout)
    await expect(status).to_have_text("All changes saved")


def only_real(errors: list[str], expected: Callable[[str], bool] = lambda e: False) -> list[str]:
    return [e for e in errors if not expected(e)]


async def test_a_participant_codes_a_baseline_response_groups_codes_and_finds_it_all_after_a_reload(
    browser: Browser, study: ChatStudy
) -> None:
    context, page, errors = await join(browser, study, "Asha")
    text = next(i["text"] for i in (await state(page, study))["items"] if i["id"] == THANKSGIVING)
    await expect(page.get_by_test_id("item-prompt")).to_have_text("What is Thanksgiving?")
    await expect(page.get_by_test_id("response-text")).to_have_text(text)
    await expect(page.get_by_test_id("progress")).to_contain_text("Baseline 0/7")
    await expect(page.get_by_test_id("save-status")).to_have_text("All changes saved", timeout=TIMEOUT_MS)

    # Two overlapping spans, three codes; the second reuses the first's code from the suggestions.
    first, second = "celebrated in the United States", "in the United States, traditionally on the fourth Thursday"
    await code_selection(page, first, "American-centred", "national tradition")
    await drag_over(page, second)  # with the mouse, starting inside the first span's highlight
    panel = page.get_by_test_id("coding-panel")
    await expect(panel.get_by_test_id("panel-quote")).to_have_text(second)
    await expect(panel.get_by_test_id("delete-annotation")).to_be_hidden()  # a new passage, not the first one
    await panel.get_by_test_id("code-input").fill("americ")
    suggestion = panel.get_by_test_id("code-suggestion")
    await expect(suggestion).to_have_text(["American-centred"])
    await suggestion.click()
    await expect(panel.locator('[data-testid="chip"][data-label="American-centred"]')).to_be_visible()
    await panel.get_by_test_id("memo-input").fill("Assumes the reader is American")
    await panel.get_by_test_id("save-codes").click()
    await expect(panel).to_be_hidden()
    await all_saved(page)

    await expect(page.get_by_test_id("annotation")).to_have_count(2)
    await expect(page.get_by_test_id("response-text")).to_have_text(text)  # highlighting changes no text
    both = page.locator('[data-testid="highlight"][data-depth="2"]')
    await expect(both).to_have_text("in the United States")
    thanksgiving = page.locator(f'[data-testid="item-link"][data-item="baseline:{THANKSGIVING}"]')
    await expect(thanksgiving).to_have_attribute("data-coded", "true")
    await expect(page.get_by_test_id("progress")).to_contain_text("Baseline 1/7")

    saved = await until(page, study, lambda s: len(s["annotations"]) == 2)
    quotes = sorted(a["quote"] for a in saved["annotations"])
    assert quotes == sorted([first, second])
    for annotation in saved["annotations"]:
        assert text[annotation["start"]:annotation["end"]] == annotation["quote"]
    codes = {c["label"]: c for c in saved["codes"]}
    assert codes["American-centred"]["uses"] == 2 and codes["national tradition"]["uses"] == 1
    assert any(a["memo"] == "Assumes the reader is American" for a in saved["annotations"])

    # Clicking a highlight opens its codes.
    await page.get_by_test_id("highlight").first.click()
    await expect(panel).to_be_visible()
    await expect(panel.get_by_test_id("delete-annotation")).to_be_visible()
    await panel.get_by_test_id("cancel-coding").click()
    await expect(panel).to_be_hidden()

    # Focused coding: a cluster with a name and a definition, one code dragged in, one added from the menu.
    await page.get_by_test_id("tab-focused").click()
    cards = page.get_by_test_id("code-card")
    await expect(cards).to_have_count(2)
    american = page.locator('[data-testid="code-card"][data-label="American-centred"]')
    await expect(american.get_by_test_id("code-uses")).to_have_text("2×")
    await american.get_by_test_id("code-excerpts").locator("summary").click()
    await expect(american.get_by_test_id("excerpt")).to_have_count(2)

    await page.get_by_test_id("new-cluster").click()
    cluster = page.get_by_test_id("cluster")
    await expect(cluster).to_have_count(1)
    name = cluster.get_by_test_id("cluster-name")
    await expect(name).to_be_focused()
    await name.fill("Whose point of view")
    await cluster.get_by_test_id("cluster-definition").fill("The answer speaks from one country's perspective")
    await american.drag_to(cluster)
    await expect(cluster.locator('[data-testid="cluster-code"][data-label="American-centred"]')).to_be_visible()
    tradition = page.locator('[data-testid="code-card"][data-label="national tradition"]')
    await tradition.get_by_test_id("add-to-cluster").select_option(label="Whose point of view")
    await expect(cluster.get_by_test_id("cluster-code")).to_have_count(2)
    await page.get_by_test_id("tab-open").focus()  # leaving the field saves it at once
    await all_saved(page)
    saved = await until(page, study, lambda s: len(s["clusters"]) == 1 and len(s["clusters"][0]["code_ids"]) == 2
                        and s["clusters"][0]["definition"] != "")
    (kept,) = saved["clusters"]
    assert kept["name"] == "Whose point of view"
    assert kept["definition"] == "The answer speaks from one country's perspective"
    assert set(kept["code_ids"]) == {codes["American-centred"]["id"], codes["national tradition"]["id"]}

    # After a reload everything is there, and Focused coding is still the open view.
    await page.reload()
    await expect(page.get_by_test_id("reflect")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("view-focused")).to_be_visible()
    cluster = page.get_by_test_id("cluster")
    await expect(cluster.get_by_test_id("cluster-name")).to_have_value("Whose point of view")
    await expect(cluster.get_by_test_id("cluster-definition")).to_have_value("The answer speaks from one country's perspective")
    labels = cluster.get_by_test_id("cluster-code")
    await expect(labels).to_have_count(2)
    assert [await chip.get_attribute("data-label") for chip in await labels.all()] == ["American-centred", "national tradition"]
    await expect(page.get_by_test_id("progress")).to_contain_text("2 codes · 1 cluster")

    # Delete the cluster, then Undo brings it back.
    await cluster.get_by_test_id("delete-cluster").click()
    await expect(page.get_by_test_id("cluster")).to_have_count(0)
    undo = page.get_by_test_id("undo-button")
    await expect(undo).to_be_enabled(timeout=TIMEOUT_MS)
    await undo.click()
    await expect(page.get_by_test_id("cluster").get_by_test_id("cluster-name")).to_have_value("Whose point of view")
    await all_saved(page)
    await until(page, study, lambda s: [c["name"] for c in s["clusters"]] == ["Whose point of view"])

    await page.get_by_test_id("tab-open").click()
    await expect(page.get_by_test_id("annotation")).to_have_count(2)
    await expect(page.locator('[data-testid="highlight"][data-depth="2"]')).to_have_text("in the United States")
    assert only_real(errors) == []
    await context.close()


async def test_a_span_after_and_around_emoji_anchors_on_the_selected_words(browser: Browser, study: ChatStudy) -> None:
    response = "Thank you 🙏🏽 for asking! Namaste means I bow to you 🙏 with respect, said with folded hands."
    study.facilitator.ok("PATCH", study.path(), {"baseline_interactions": [
        {"id": "namaste", "prompt": "What does namaste mean?", "response": response},
    ]})
    context, page, errors = await join(browser, study, "Bela")
    await expect(page.get_by_test_id("response-text")).to_have_text(response)
    after, around = "Namaste means I bow to you", "🙏 with respect"
    await code_selection(page, after, "respect for tradition")
    await code_selection(page, around, "reverence")
    await all_saved(page)
    saved = await until(page, study, lambda s: len(s["annotations"]) == 2)
    by_quote = {a["quote"]: a for a in saved["annotations"]}
    assert set(by_quote) == {after, around}
    for quote, annotation in by_quote.items():
        start = response.index(quote)  # Python counts code points, as the server does
        assert (annotation["start"], annotation["end"]) == (start, start + len(quote))
    await expect(page.get_by_test_id("highlight")).to_have_text([after, around])
    assert only_real(errors) == []
    await context.close()


def offline_noise(error: str) -> bool:
    """What chromium logs for requests made while offline: nothing else is expected."""
    return "net::ERR_INTERNET_DISCONNECTED" in error


async def test_a_code_added_offline_waits_and_is_saved_when_the_connection_is_back(browser: Browser, study: ChatStudy) -> None:
    context, page, errors = await join(browser, study, "Chen")
    await context.set_offline(True)
    await code_selection(page, "a harvest festival", "gratitude")
    status = page.get_by_test_id("save-status")
    await expect(status).to_have_attribute("data-state", "offline", timeout=TIMEOUT_MS)
    await expect(status).to_have_text("Offline — 1 change waiting")
    annotation = page.get_by_test_id("annotation")
    await expect(annotation.get_by_test_id("annotation-pending")).to_be_visible()
    await expect(annotation.get_by_test_id("annotation-code")).to_have_text(["gratitude"])

    await context.set_offline(False)
    await all_saved(page, SAVE_TIMEOUT_MS)
    saved = await until(page, study, lambda s: len(s["annotations"]) == 1)
    assert saved["annotations"][0]["quote"] == "a harvest festival"
    assert [c["label"] for c in saved["codes"]] == ["gratitude"]
    await expect(annotation.get_by_test_id("annotation-pending")).to_have_count(0)
    assert only_real(errors, offline_noise) == []
    await context.close()


async def test_a_change_waiting_when_the_page_reloads_is_sent_by_the_reloaded_page(browser: Browser, study: ChatStudy) -> None:
    context, page, errors = await join(browser, study, "Dara")
    ops = f"{study.server.http_url}/api/studies/{study.study}/reflect/ops"
    await page.route(ops, lambda route: route.abort())  # the server cannot be reached for changes
    await code_selection(page, "roasted turkey", "abundance")
    await expect(page.get_by_test_id("save-status")).to_have_text("Offline — 1 change waiting", timeout=TIMEOUT_MS)

    # Half-typed codes and a memo, not saved yet.
    await page.evaluate(SELECT_PHRASE, "cranberry sauce")
    panel = page.get_by_test_id("coding-panel")
    await panel.get_by_test_id("code-input").fill("tart")
    await panel.get_by_test_id("code-input").press("Enter")
    await panel.get_by_test_id("code-input").fill("half-typed")
    await panel.get_by_test_id("memo-input").fill("a memo in progress")

    await page.reload()  # the change still waits after a reload: shown, and said to be waiting
    await expect(page.get_by_test_id("reflect")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("annotation").get_by_test_id("annotation-code")).to_have_text(["abundance"])
    await expect(page.get_by_test_id("save-status")).to_have_text("Offline — 1 change waiting", timeout=TIMEOUT_MS)
    assert (await state(page, study))["annotations"] == []
    # …and so does what was being typed.
    await expect(panel).to_be_visible()
    await expect(panel.get_by_test_id("panel-quote")).to_have_text("cranberry sauce")
    await expect(panel.locator('[data-testid="chip"][data-label="tart"]')).to_be_visible()
    await expect(panel.get_by_test_id("code-input")).to_have_value("half-typed")
    await expect(panel.get_by_test_id("memo-input")).to_have_value("a memo in progress")
    await panel.get_by_test_id("cancel-coding").click()

    await page.unroute(ops)
    await page.get_by_test_id("tab-focused").click()  # any change (here: a cluster) sends what waits
    await page.get_by_test_id("new-cluster").click()
    await all_saved(page, SAVE_TIMEOUT_MS)
    saved = await until(page, study, lambda s: len(s["annotations"]) == 1 and len(s["clusters"]) == 1)
    assert saved["annotations"][0]["quote"] == "roasted turkey"
    assert only_real(errors, lambda e: e == "console: Failed to load resource: net::ERR_FAILED") == []
    await context.close()


async def test_a_second_tab_follows_the_first_without_a_reload(browser: Browser, study: ChatStudy) -> None:
    context, first, errors = await join(browser, study, "Emre")
    second = await context.new_page()
    second_errors = collect_errors(second)
    await open_reflect(second, study)
    await expect(second.get_by_test_id("annotation")).to_have_count(0)

    await code_selection(first, "pumpkin pie", "comfort food")
    await all_saved(first)
    await expect(second.get_by_test_id("annotation").get_by_test_id("annotation-code")).to_have_text(
        ["comfort food"], timeout=TIMEOUT_MS)
    await expect(second.get_by_test_id("progress")).to_contain_text("Baseline 1/7")
    await expect(second.locator('[data-testid="highlight"]')).to_have_text(["pumpkin pie"])

    # And back: the second tab's cluster appears in the first.
    await second.get_by_test_id("tab-focused").click()
    await second.get_by_test_id("new-cluster").click()
    await all_saved(second)
    await first.get_by_test_id("tab-focused").click()
    await expect(first.get_by_test_id("cluster")).to_have_count(1, timeout=TIMEOUT_MS)
    assert only_real(errors) == [] and only_real(second_errors) == []
    await context.close()


async def test_a_structural_code_gets_a_gentle_note_linking_to_the_training_and_a_value_code_does_not(
    browser: Browser, study: ChatStudy
) -> None:
    context, page, errors = await join(browser, study, "Femi")
    await code_selection(page, "Thanksgiving is a holiday celebrated in the United States", "summary", "national pride")
    await all_saved(page)
    note = page.locator('[data-testid="annotation"] [data-testid="code-hint"]')
    await expect(note).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(note).to_have_attribute("data-label", "summary")
    await expect(note).to_contain_text("structure")
    await expect(note.get_by_test_id("training-link")).to_have_attribute("href", "/familiarize/")
    await expect(page.locator('[data-testid="code-hint"][data-label="national pride"]')).to_have_count(0)

    # The note never blocks: the code is saved, and its card in Focused coding carries the note too.
    saved = await state(page, study)
    assert {c["label"]: c["hint"] is not None for c in saved["codes"]} == {"summary": True, "national pride": False}
    await page.get_by_test_id("tab-focused").click()
    summary = page.locator('[data-testid="code-card"][data-label="summary"]')
    await expect(summary.get_by_test_id("code-hint")).to_be_visible()
    pride = page.locator('[data-testid="code-card"][data-label="national pride"]')
    await expect(pride.get_by_test_id("code-hint")).to_have_count(0)
    assert only_real(errors) == []
    await context.close()



async def test_focused_coding_renames_merges_splits_and_undoes(browser: Browser, study: ChatStudy) -> None:
    context, page, errors = await join(browser, study, "Gita")
    text = next(i["text"] for i in (await state(page, study))["items"] if i["id"] == THANKSGIVING)
    # Codes made in another tab (here: straight through the API) arrive on the page over /live.
    answer = await page.evaluate(SEND_OPS, [study.study, [
        create("00000000000000a1", text, "harvest festival", "gratitude", "family"),
        create("00000000000000a2", text, "shared a meal", "Gratefulness", "food"),
    ]])
    assert [o["status"] for o in answer["outcomes"]] == ["applied", "applied"], answer
    await page.get_by_test_id("tab-focused").click()
    await expect(page.get_by_test_id("code-card")).to_have_count(4, timeout=TIMEOUT_MS)

    await card(page, "food").get_by_test_id("rename-code").click()
    rename = card(page, "food").get_by_test_id("rename-input")
    await expect(rename).to_be_focused()
    await rename.fill("food culture")
    await rename.press("Enter")
    await expect(card(page, "food culture")).to_have_count(1)

    await card(page, "gratitude").get_by_test_id("select-code").check()
    await card(page, "Gratefulness").get_by_test_id("select-code").check()
    await page.get_by_test_id("merge-into").select_option(label="gratitude")
    await page.get_by_test_id("merge-codes").click()
    await expect(page.get_by_test_id("code-card")).to_have_count(3)
    await expect(card(page, "gratitude").get_by_test_id("code-uses")).to_have_text("2×")

    # A cluster from a code's menu, named; two more codes added from the keyboard-friendly menu.
    await card(page, "gratitude").get_by_test_id("add-to-cluster").select_option(label="A new cluster")
    cluster = page.get_by_test_id("cluster")
    await expect(cluster.get_by_test_id("cluster-name")).to_be_focused()
    await cluster.get_by_test_id("cluster-name").fill("Thankfulness")
    await cluster.get_by_test_id("cluster-name").press("Tab")
    thanks = box(page, "Thankfulness")
    for label in ("family", "food culture"):
        await card(page, label).get_by_test_id("add-to-cluster").select_option(label="Thankfulness")
    await expect(thanks.get_by_test_id("cluster-code")).to_have_count(3)

    # Split two codes out into a new cluster, take one out again, then merge the clusters.
    await thanks.get_by_test_id("split-cluster").click()
    form = thanks.get_by_test_id("split-form")
    for code in ("family", "food culture"):
        await form.locator(f'label:has-text("{code}")').get_by_test_id("split-code").check()
    await form.get_by_test_id("split-name").fill("Home life")
    await form.get_by_test_id("split-confirm").click()
    home = box(page, "Home life")
    await expect(home.get_by_test_id("cluster-code")).to_have_count(2)
    assert await labels_in(thanks) == ["gratitude"]
    await home.locator('[data-testid="cluster-code"][data-label="food culture"]').get_by_test_id("remove-from-cluster").click()
    await expect(home.get_by_test_id("cluster-code")).to_have_count(1)
    await thanks.get_by_test_id("merge-cluster").select_option(label="Home life")
    await expect(page.get_by_test_id("cluster")).to_have_count(1)
    assert await labels_in(thanks) == ["gratitude", "family"]

    undo = page.get_by_test_id("undo-button")
    await expect(undo).to_have_attribute("data-what", "Merge clusters")
    await expect(undo).to_be_enabled(timeout=TIMEOUT_MS)
    await undo.click()
    await expect(page.get_by_test_id("cluster")).to_have_count(2)
    await all_saved(page)
    saved = await state(page, study)
    labels = {c["id"]: c["label"] for c in saved["codes"]}
    assert sorted(labels.values()) == ["family", "food culture", "gratitude"]
    assert {c["name"]: [labels[i] for i in c["code_ids"]] for c in saved["clusters"]} == {
        "Thankfulness": ["gratitude"], "Home life": ["family"]}
    assert only_real(errors) == []
    await context.close()


async def test_until_reflect_opens_the_page_says_so_and_changes_wait(browser: Browser, study: ChatStudy) -> None:
    context, page, errors = await join(browser, study, "Hana")
    session = await page.evaluate("async () => (await (await fetch('/api/session')).json()).me")
    study.facilitator.ok("PUT", study.path("/stage-overrides"),
                         {"participant_id": session["participant_id"], "stage": "reflect", "state": "closed"})
    await open_reflect(page, study)
    notice = page.get_by_test_id("reflect-closed")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("Reflect is not open for you yet. Closed for you by your facilitator.")
    await code_selection(page, "mashed potatoes", "comfort")
    status = page.get_by_test_id("save-status")
    await expect(status).to_have_text("Reflect is not open for you — 1 change waiting", timeout=TIMEOUT_MS)

    study.facilitator.ok("PUT", study.path("/stage-overrides"),
                         {"participant_id": session["participant_id"], "stage": "reflect", "state": "open"})
    await code_selection(page, "cranberry sauce", "comfort")  # the next change sends both
    await all_saved(page)
    await expect(notice).to_be_hidden()
    saved = await until(page, study, lambda s: len(s["annotations"]) == 2)
    assert sorted(a["quote"] for a in saved["annotations"]) == ["cranberry sauce", "mashed potatoes"]
    conflict = "console: Failed to load resource: the server responded with a status of 409 (Conflict)"
    assert only_real(errors, lambda e: e == conflict) == []
    await context.close()
