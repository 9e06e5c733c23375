"""End to end in Debian chromium: the facilitator follows Reflect, releases the group's codes and turns on the shared sample.

A real server with the packaged stand-in model, a study from `chat_study` with Reflect opened for the
group. Ravi and Mei code baseline responses over REST; Asha and Bo join through invite links in their
own browsers and open Reflect, and Asha chats once (over /live). In the console the facilitator sees
everyone's progress (with their exports) and the group's codes as a preview; participants see nothing
of them until the facilitator releases them — then Bo's page shows the group's codes, and keeps
showing them after a reload. With the shared sample on and Asha's agreement (given on her page), Bo's
page lists Asha's reply, marked as someone else's, and the console counts it among Bo's responses.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from calma.access.sessions import SESSION_COOKIE
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.helpers.api_client import Person
from tests.helpers.browser import chromium, collect_errors
from tests.helpers.console import sign_in
from tests.helpers.interact import FACILITATOR, ChatStudy, chat_study, chatting
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
SHOTS = os.environ.get("CALMA_SCREENSHOTS")  # a folder: save screenshots of the pages there (for looking at them)
PROMPT = "Who was Akbar?"

STATE = """async (study) => {
  const response = await fetch(`/api/studies/${study}/reflect`, { cache: 'no-store' })
  return await response.json()
}"""

_ids = itertools.count(1)


def rid() -> str:
    """A record or operation id, as a browser would choose it."""
    return f"{next(_ids) + 0xC0DE00:016x}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("console/index.html", "reflect/index.html", "join/index.html", "me/index.html") as browser:
        yield browser


@pytest.fixture
def study(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server, max_tokens=12)
        study.facilitator.ok("PUT", study.path("/stage-overrides"), {"group_id": study.group, "stage": "reflect", "state": "open"})
        yield study
    finally:
        server.stop()


async def screenshot(where: Page | Locator, name: str) -> None:
    """With CALMA_SCREENSHOTS set: the whole page (or one part of it) into that folder."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    path = str(Path(SHOTS) / f"{name}.png")
    if isinstance(where, Page):
        await where.screenshot(path=path, full_page=True)
    else:
        await where.screenshot(path=path)


def code(person: Person, study: ChatStudy, item: dict[str, Any], phrase: str, *codes: str) -> None:
    """Code `phrase` of a baseline item with `codes`, as the Reflect page would send it."""
    start = item["text"].index(phrase)
    op = {"kind": "annotation.create", "id": rid(), "target_kind": item["kind"], "target_id": item["id"],
          "start": start, "end": start + len(phrase), "quote": phrase, "codes": list(codes)}
    answer = person.ok("POST", study.path("/reflect/ops"), {"ops": [{"op_id": rid(), "op": op}]})
    assert answer["outcomes"][0]["status"] == "applied", answer


async def join(browser: Browser, study: ChatStudy, name: str) -> tuple[BrowserContext, Page, list[str], Person]:
    """A participant joins with a fresh invite link in their own browser and opens Reflect; also their session for REST."""
    invite = study.facilitator.ok("POST", study.path("/invites"), {"group_id": study.group, "role": "participant"}, status=201)
    context = await browser.new_context()
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/join/?token={invite['token']}")
    await page.get_by_test_id("display-name").fill(name)
    await page.get_by_test_id("join-button").click()
    await expect(page).to_have_url(f"{study.server.http_url}/me/", timeout=TIMEOUT_MS)
    await open_reflect(page, study)
    person = Person(study.server, name)
    person.session = next(c["value"] for c in await context.cookies() if c["name"] == SESSION_COOKIE)
    person.me = person.ok("GET", "/api/me")
    return context, page, errors, person


async def open_reflect(page: Page, study: ChatStudy) -> None:
    await page.goto(f"{study.server.http_url}/reflect/")
    await expect(page.get_by_test_id("reflect")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)


async def sign_in_to_study(page: Page, server: ServerProcess, study: str) -> None:
    await sign_in(page, server, FACILITATOR)
    await page.get_by_test_id("study-item").get_by_test_id("study-link").click()
    await expect(page).to_have_url(f"{server.http_url}/console/?study={study}", timeout=TIMEOUT_MS)


def reflect_row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("reflect-row").filter(has=page.get_by_test_id("reflect-name").get_by_text(name, exact=True))


async def test_the_facilitator_follows_reflect_releases_the_codes_and_turns_on_the_shared_sample(
    browser: Browser, study: ChatStudy
) -> None:
    # -- Ravi and Mei code baseline responses over REST
    items = [i for i in study.ravi.ok("GET", study.path("/reflect"))["items"] if i["kind"] == "baseline"]
    baseline = len(items)
    first, second = items[0], items[1]
    code(study.ravi, study, first, first["text"][:20], "Curious", "balanced")
    code(study.ravi, study, second, second["text"][:15], "curious")  # the same code, whatever the capitals
    labels = {c["label"]: c["id"] for c in study.ravi.ok("GET", study.path("/reflect"))["codes"]}
    cluster = {"kind": "cluster.create", "id": rid(), "name": "Tone", "code_ids": [labels["Curious"]]}
    study.ravi.ok("POST", study.path("/reflect/ops"), {"ops": [{"op_id": rid(), "op": cluster}]})
    code(study.mei, study, first, first["text"][5:30], "Curious")

    # -- Asha and Bo join in their browsers; Asha chats once
    asha_context, asha, asha_errors, asha_rest = await join(browser, study, "Asha")
    bo_context, bo, bo_errors, _ = await join(browser, study, "Bo")
    conversation = study.start_conversation(asha_rest)
    async with chatting(study.server, asha_rest) as chat:
        _, turn = await chat.send(conversation["id"], PROMPT)
        reply = await chat.finished(turn["id"])
    assert reply.text.strip() != "", "the stand-in model said nothing"
    stored = study.conversation(asha_rest, conversation["id"])
    reply_text = next(t["content"] for t in stored["messages"] if t["id"] == turn["id"])

    # Before the release Bo's page has no group codes, and asks for none by itself.
    group_codes = bo.get_by_test_id("group-codes")
    await expect(group_codes).to_have_attribute("data-state", "unknown")
    await expect(bo.get_by_test_id("group-codes-panel")).to_be_hidden()
    await expect(bo.get_by_test_id("check-group-codes")).to_have_text("Check for your group’s codes")
    await expect(bo.get_by_test_id("sharing-toggle")).not_to_be_checked()

    # -- the console: everyone's progress
    console_context = await browser.new_context()
    console = await console_context.new_page()
    console_errors = collect_errors(console)
    await sign_in_to_study(console, study.server, study.study)
    section = console.get_by_test_id("reflect-section")
    await expect(section.get_by_test_id("reflect-row")).to_have_count(4, timeout=TIMEOUT_MS)
    ravi, mei, asha_row, bo_row = (reflect_row(console, n) for n in ("Ravi", "Mei", "Asha", "Bo"))
    await expect(ravi.get_by_test_id("reflect-baseline")).to_have_text(f"2/{baseline}")
    await expect(ravi.get_by_test_id("reflect-responses")).to_have_text("0/0")
    await expect(ravi.get_by_test_id("reflect-codes")).to_have_text("2")
    await expect(ravi.get_by_test_id("reflect-clusters")).to_have_text("1")
    await expect(ravi.get_by_test_id("reflect-bar")).to_have_attribute("aria-valuenow", "2")
    await expect(ravi.get_by_test_id("reflect-bar")).to_have_attribute("aria-valuemax", str(baseline))
    await expect(mei.get_by_test_id("reflect-baseline")).to_have_text(f"1/{baseline}")
    await expect(mei.get_by_test_id("reflect-codes")).to_have_text("1")
    await expect(mei.get_by_test_id("reflect-clusters")).to_have_text("0")
    await expect(asha_row.get_by_test_id("reflect-responses")).to_have_text("0/1")
    await expect(asha_row.get_by_test_id("reflect-baseline")).to_have_text(f"0/{baseline}")
    await expect(bo_row.get_by_test_id("reflect-responses")).to_have_text("0/0")
    for row in (ravi, mei, asha_row, bo_row):
        await expect(row.get_by_test_id("reflect-group")).to_have_text("Online group")

    # Each participant's export, as the links download it (with the facilitator's session).
    ravi_id = study.ravi.me["participant_id"]
    json_link, csv_link = ravi.get_by_test_id("export-json"), ravi.get_by_test_id("export-csv")
    await expect(json_link).to_have_attribute("href", study.path(f"/reflect/export.json?participant_id={ravi_id}"))
    exported = await console.request.get(f"{study.server.http_url}{await json_link.get_attribute('href')}")
    assert exported.ok and json.loads(await exported.text())["participant"]["display_name"] == "Ravi"
    as_csv = await console.request.get(f"{study.server.http_url}{await csv_link.get_attribute('href')}")
    assert as_csv.ok and as_csv.headers["content-type"].startswith("text/csv")
    assert {r["code"] for r in csv.DictReader(io.StringIO(await as_csv.text())) if r["row"] == "code"} == {"Curious", "balanced"}

    # -- the group's codes: a preview, most used first
    preview = section.locator(f'[data-testid="group-codes-preview"][data-group-id="{study.group}"]')
    await expect(preview).to_have_attribute("data-released", "false")
    await expect(preview.get_by_test_id("group-codes-state")).to_have_text("Preview")
    rows = preview.get_by_test_id("group-code-row")
    await expect(rows.get_by_test_id("group-code-label")).to_have_text(["Curious", "balanced"])
    await expect(rows.get_by_test_id("group-code-uses")).to_have_text(["3", "1"])
    await expect(rows.get_by_test_id("group-code-people")).to_have_text(["2", "1"])
    await expect(rows.get_by_test_id("group-code-frequency")).to_have_text(["75%", "25%"])
    release = section.get_by_test_id("release-codes")
    await expect(release).not_to_be_checked()
    await expect(section.get_by_test_id("release-codes-note")).to_have_text(
        "Not released: participants do not see their group’s codes.")
    assert study.mei.get(study.path("/reflect/group-codes")).status_code == 409
    await screenshot(section, "reflect-console-preview")

    # -- released: the console says when; Bo's page shows the group's codes once he checks
    await release.check()
    await expect(section.get_by_test_id("release-codes-note")).to_contain_text("Released ", timeout=TIMEOUT_MS)
    await expect(release).to_be_checked()
    await expect(preview).to_have_attribute("data-released", "true")
    await expect(preview.get_by_test_id("group-codes-state")).to_have_text("Released")
    settings = study.facilitator.ok("GET", study.path("/reflect/settings"))
    assert settings["codes_released"] is True and settings["codes_released_at"] is not None

    await bo.get_by_test_id("check-group-codes").click()
    panel = bo.get_by_test_id("group-codes-panel")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(group_codes).to_have_attribute("data-state", "shown")
    shown = panel.get_by_test_id("group-code-row")
    await expect(shown.get_by_test_id("group-code-label")).to_have_text(["Curious", "balanced"])
    await expect(shown.get_by_test_id("group-code-uses")).to_have_text(["3×", "1×"])
    await expect(shown.get_by_test_id("group-code-people")).to_have_text(["2 people", "1 person"])
    await expect(panel.get_by_test_id("group-codes-released")).to_contain_text("Shared by your facilitator")
    await bo.reload()  # once seen released, the page reads them by itself
    await expect(bo.get_by_test_id("group-codes-panel")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(bo.get_by_test_id("group-code-label")).to_have_text(["Curious", "balanced"])
    await screenshot(bo.get_by_test_id("group-area"), "reflect-group-codes")

    # -- the shared sample: on in the console, agreed by Asha on her page
    share = section.get_by_test_id("share-sample")
    await share.check()
    await expect(section.get_by_test_id("share-sample-note")).to_have_text(
        "On: participants code a sample of what others in their group shared.", timeout=TIMEOUT_MS)
    assert study.facilitator.ok("GET", study.path("/reflect/settings"))["share_sample"] is True
    await expect(bo.locator('[data-testid="item-link"][data-source="shared"]')).to_have_count(0)  # not without Asha's word

    toggle = asha.get_by_test_id("sharing-toggle")
    await expect(asha.get_by_test_id("sharing-status")).to_have_text("You have not agreed: only you code your conversations.")
    await toggle.check()
    await expect(asha.get_by_test_id("sharing-status")).to_have_text(
        "You agreed: others in your group may code a sample of your conversations.", timeout=TIMEOUT_MS)
    await expect(toggle).to_be_checked()
    assert (await asha.evaluate(STATE, study.study))["sharing"] is True
    await screenshot(asha.get_by_test_id("group-area"), "reflect-sharing")

    # Bo's page, read again, lists Asha's reply as someone else's — without her name.
    await open_reflect(bo, study)
    shared = bo.locator('[data-testid="item-link"][data-source="shared"]')
    await expect(shared).to_have_count(1)
    await expect(shared.get_by_test_id("shared-badge")).to_have_text("someone else’s")
    await shared.click()
    await expect(bo.get_by_test_id("item-shared-note")).to_be_visible()
    await expect(bo.get_by_test_id("item-source")).to_contain_text("Someone else’s conversation (shared anonymously)")
    await expect(bo.get_by_test_id("item-prompt")).to_have_text(PROMPT)
    await expect(bo.get_by_test_id("response-text")).to_have_text(reply_text)
    await expect(bo.get_by_test_id("item-pane")).not_to_contain_text("Asha")
    await expect(bo.get_by_test_id("progress")).to_contain_text("Responses coded 0/1")
    await screenshot(bo, "reflect-shared-item")

    await section.get_by_test_id("refresh-reflect").click()
    await expect(bo_row.get_by_test_id("reflect-responses")).to_have_text("0/1", timeout=TIMEOUT_MS)
    await expect(asha_row.get_by_test_id("reflect-responses")).to_have_text("0/1")
    await screenshot(section, "reflect-console")

    assert console_errors == [] and asha_errors == [] and bo_errors == []
    for context in (console_context, asha_context, bo_context):
        await context.close()
