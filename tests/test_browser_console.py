"""End to end in Debian chromium: the facilitator console and the participant's entry.

The facilitator (made with `calma admin create-facilitator`) signs in, creates a study from the
pilot template, a group and an invite link, and copies the link; a participant opens it in
another browser context, joins and sees their stage overview; the facilitator's progress view
shows them, and then their move to the next stage (which the facilitator opened for the group), live:
the console page is never reloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.helpers.admin import create_facilitator
from tests.helpers.browser import chromium
from tests.helpers.console import (
    LEAD,
    TIMEOUT_MS,
    add_group,
    create_study,
    new_page,
    sign_in,
)
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

EMAIL, NAME, PASSWORD = LEAD
SHOTS = os.environ.get("CALMA_SCREENSHOTS")  # a folder: save screenshots of the pages there (for looking at them)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("console/index.html", "join/index.html", "me/index.html") as browser:
        yield browser


@pytest.fixture
def facilitator(server: ServerProcess) -> ServerProcess:
    create_facilitator(server.data_dir, EMAIL, NAME, PASSWORD)
    return server


async def screenshot(page: Page, name: str) -> None:
    """With CALMA_SCREENSHOTS set: the whole page, wide and phone-sized, into that folder."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    viewport = page.viewport_size
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(Path(SHOTS) / f"{name}-phone.png"), full_page=True)
    if viewport is not None:
        await page.set_viewport_size(viewport)


async def create_invite(page: Page, group: str) -> Locator:
    """Create a participant link for `group`; the new (first) invite item."""
    before = await page.get_by_test_id("invite-item").count()
    await page.get_by_test_id("invite-group").select_option(label=group)
    await page.get_by_test_id("create-invite").click()
    await expect(page.get_by_test_id("invite-item")).to_have_count(before + 1, timeout=TIMEOUT_MS)
    invite = page.get_by_test_id("invite-item").first
    await expect(invite).to_have_attribute("data-status", "active", timeout=TIMEOUT_MS)
    await expect(invite).to_contain_text(group)
    return invite


# The facilitator opens Interact for a group (by its name) through the REST API, from a page holding her session.
OPEN_INTERACT_FOR_GROUP = """async ([study, name]) => {
  const json = { 'content-type': 'application/json' }
  const groups = (await (await fetch(`/api/studies/${study}/groups`)).json()).groups
  const group = groups.find((g) => g.name === name)
  const response = await fetch(`/api/studies/${study}/stage-overrides`, {
    method: 'PUT', headers: json, body: JSON.stringify({ group_id: group.id, stage: 'interact', state: 'open' }),
  })
  return { status: response.status, body: await response.json() }
}"""


def progress_row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("progress-row").filter(has=page.get_by_test_id("progress-name").get_by_text(name, exact=True))


def stage_item(page: Page, stage: str) -> Locator:
    return page.locator(f'[data-testid="stage-item"][data-stage="{stage}"]')


async def test_a_participant_joins_and_moves_on_live_in_the_facilitators_view(
    browser: Browser, facilitator: ServerProcess
) -> None:
    server = facilitator
    _, console, console_errors = await new_page(browser, permissions=["clipboard-read", "clipboard-write"])
    await sign_in(console, server)
    await create_study(console, "History pilot")

    # The pilot template's context and prompt are there to edit; a change is saved.
    await expect(console.get_by_test_id("system-prompt")).to_have_value(
        re.compile("education assistant for high school students"), timeout=TIMEOUT_MS
    )
    await console.get_by_test_id("context-description").fill("A history tutor for Indian high-school students.")
    await console.get_by_test_id("save-context").click()
    await expect(console.get_by_test_id("context-status")).to_contain_text("Saved", timeout=TIMEOUT_MS)

    await add_group(console, "Teachers")
    invite = await create_invite(console, "Teachers")
    link = await invite.get_by_test_id("invite-link").input_value()
    assert re.fullmatch(rf"{re.escape(server.http_url)}/join\?token=c1\.[0-9a-f]{{16}}\.\d+\.[\w-]{{43}}", link), link
    await invite.get_by_test_id("copy-invite").click()
    await expect(invite.get_by_test_id("copy-feedback")).to_have_text("Copied to the clipboard.", timeout=TIMEOUT_MS)
    assert await console.evaluate("navigator.clipboard.readText()") == link

    live = console.get_by_test_id("live-status")
    await expect(live).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    await expect(console.get_by_test_id("progress-empty")).to_be_visible(timeout=TIMEOUT_MS)
    await console.evaluate("window.calmaNotReloaded = true")  # gone if the page ever reloads
    await screenshot(console, "console-before")

    # Interact opens once a participant has finished Familiarize; here the facilitator opens it for the
    # group straight away, through the API from the console page (which holds her session).
    study_id = re.search(r"study=([0-9a-f]{16})", console.url)
    assert study_id, console.url
    opened = await console.evaluate(OPEN_INTERACT_FOR_GROUP, [study_id.group(1), "Teachers"])
    assert opened["status"] == 200, opened

    # The participant opens the link in their own browser context.
    _, participant, participant_errors = await new_page(browser)
    await participant.goto(link)
    await expect(participant.get_by_test_id("invite-study-name")).to_have_text("History pilot", timeout=TIMEOUT_MS)
    await expect(participant.get_by_test_id("invite-group")).to_have_text("Group: Teachers")
    await expect(participant.get_by_test_id("invite")).to_contain_text("What is CALMA?")
    await screenshot(participant, "join")
    await participant.get_by_test_id("display-name").fill("Ravi")
    await participant.get_by_test_id("join-button").click()
    await expect(participant).to_have_url(f"{server.http_url}/me/", timeout=TIMEOUT_MS)
    await expect(participant.get_by_test_id("me-name")).to_have_text("Ravi", timeout=TIMEOUT_MS)
    await expect(participant.get_by_test_id("me-study-name")).to_have_text("History pilot")
    await expect(participant.get_by_test_id("stage-item")).to_have_count(4)
    await expect(stage_item(participant, "familiarize")).to_have_attribute("data-status", "current")
    await expect(stage_item(participant, "interact")).to_have_attribute("data-status", "open")
    await expect(stage_item(participant, "interact").get_by_test_id("stage-reason")).to_have_text(
        "Opened for your group by your facilitator."
    )
    await expect(stage_item(participant, "reflect")).to_have_attribute("data-status", "closed")
    await expect(stage_item(participant, "reflect").get_by_test_id("stage-reason")).to_have_text(
        "Opens once you have finished Interact."
    )
    await expect(participant.get_by_test_id("where-now")).to_have_text("You are in stage 1 of 4: Familiarize.")

    # Live in the console: Ravi appears, in his group, at Familiarize.
    ravi = progress_row(console, "Ravi")
    await expect(ravi).to_be_visible(timeout=TIMEOUT_MS)
    await expect(ravi.get_by_test_id("progress-group")).to_have_text("Teachers")
    await expect(ravi.get_by_test_id("progress-stage")).to_have_text("Familiarize")
    await expect(console.locator('[data-testid="stage-count"][data-stage="familiarize"] .count')).to_have_text("1")

    # Ravi moves on to Interact; the console follows.
    await participant.get_by_test_id("advance-button").click()
    await expect(stage_item(participant, "interact")).to_have_attribute("data-status", "current", timeout=TIMEOUT_MS)
    # Familiarize is not done (the facilitator let him skip it), and stays open to come back to.
    await expect(stage_item(participant, "familiarize")).to_have_attribute("data-status", "open")
    await expect(participant.get_by_test_id("advance-button")).to_have_count(0)
    await expect(ravi.get_by_test_id("progress-stage")).to_have_text("Interact", timeout=TIMEOUT_MS)
    await expect(ravi).to_have_attribute("data-stage", "interact")
    await screenshot(participant, "me")

    # The facilitator moves Ravi to Reflect; a reload of his page keeps him signed in and shows it.
    await ravi.get_by_test_id("progress-move").select_option("reflect")
    await expect(ravi.get_by_test_id("progress-stage")).to_have_text("Reflect", timeout=TIMEOUT_MS)
    await participant.reload()
    await expect(participant.get_by_test_id("me-name")).to_have_text("Ravi", timeout=TIMEOUT_MS)
    await expect(stage_item(participant, "reflect")).to_have_attribute("data-status", "current", timeout=TIMEOUT_MS)
    await screenshot(console, "console")

    # Opening the link again in the same browser offers the overview rather than a second join.
    await participant.goto(link)
    await expect(participant.get_by_test_id("already-joined")).to_contain_text("Ravi", timeout=TIMEOUT_MS)
    await participant.get_by_test_id("already-joined-link").click()
    await expect(participant.get_by_test_id("me-name")).to_have_text("Ravi", timeout=TIMEOUT_MS)

    assert await console.evaluate("window.calmaNotReloaded") is True
    await expect(live).to_have_attribute("data-state", "live")
    assert console_errors == []
    assert participant_errors == []


async def test_a_revoked_link_says_so(browser: Browser, facilitator: ServerProcess) -> None:
    server = facilitator
    _, console, console_errors = await new_page(browser)
    await sign_in(console, server)
    await create_study(console, "Revocation study")
    await add_group(console, "Only group")
    invite = await create_invite(console, "Only group")
    link = await invite.get_by_test_id("invite-link").input_value()
    await invite.get_by_test_id("revoke-invite").click()
    await expect(invite).to_have_attribute("data-status", "revoked", timeout=TIMEOUT_MS)
    await expect(invite.get_by_test_id("invite-status")).to_have_text("Revoked")
    await expect(invite.get_by_test_id("invite-link")).to_have_count(0)
    assert console_errors == []

    _, participant, participant_errors = await new_page(browser)
    await participant.goto(link)
    problem = participant.get_by_test_id("invite-problem")
    await expect(problem).to_be_visible(timeout=TIMEOUT_MS)
    await expect(problem).to_have_attribute("data-problem", "token-revoked")
    await expect(participant.get_by_test_id("invite-problem-title")).to_have_text("This invite link has been revoked")
    await expect(participant.get_by_test_id("invite-problem-detail")).to_have_text(
        "The token has been revoked; ask for a new link."
    )
    await expect(participant.get_by_test_id("invite-join-form")).to_be_hidden()
    await screenshot(participant, "join-revoked")
    # The only error is the refused request itself (the browser logs the 401); nothing was thrown.
    assert all("401" in error for error in participant_errors), participant_errors


async def test_a_tampered_link_and_a_wrong_password_are_explained(
    browser: Browser, facilitator: ServerProcess
) -> None:
    server = facilitator
    _, page, _ = await new_page(browser)
    await page.goto(f"{server.http_url}/join?token=c1.0123456789abcdef.9999999999.{'A' * 43}")
    await expect(page.get_by_test_id("invite-problem-title")).to_have_text(
        "This invite link is not valid", timeout=TIMEOUT_MS
    )
    await expect(page.get_by_test_id("invite-problem-detail")).to_contain_text("forged or altered")

    await page.goto(f"{server.http_url}/me/")
    await expect(page.get_by_test_id("signed-out")).to_be_visible(timeout=TIMEOUT_MS)

    await page.goto(f"{server.http_url}/console/")
    await page.get_by_test_id("signin-email").fill(EMAIL)
    await page.get_by_test_id("signin-password").fill("not the password")
    await page.get_by_test_id("signin-button").click()
    await expect(page.get_by_test_id("signin-error")).to_have_text(
        "No facilitator has this email and password.", timeout=TIMEOUT_MS
    )
    await expect(page.get_by_test_id("signin-button")).to_be_enabled()
