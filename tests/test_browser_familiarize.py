"""End to end in Debian chromium: a participant goes through Familiarize on /familiarize/ and on to Interact.

A real server, a facilitator with the pilot study (its training context is home cooking) and a
group, set up over REST; the participant joins with an invite link in the browser as a real one
would. They page through the orientation (a reload resumes at the first page not read), read the
lesson and the worked examples, code the three practice answers (the facilitator's example codes
appear only once they submitted theirs), fail the check once (the items to look at again are
highlighted, Try again keeps their picks), pass, and find Interact open; the button takes them to
/interact/, where they can chat, and "I'm done chatting" opens Reflect on their overview.

The facilitator's Markdown and texts never run as script; a closed Familiarize says so; and on a
phone the check fits the screen.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.helpers.browser import chromium, collect_errors
from tests.helpers.familiarize import RIGHT_ANSWERS, PilotStudy
from tests.helpers.familiarize import STRUCTURE_INSTEAD as ALL_STRUCTURAL
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
SHOTS = os.environ.get("CALMA_SCREENSHOTS")  # a folder: save screenshots of the page there (for looking at them)

# A first attempt with structural labels on two items only: those two are the ones to revisit.
STRUCTURE_INSTEAD = {item: ALL_STRUCTURAL[item] for item in ("soup-salt", "kids-cooking")}
PRACTICE = {  # the participant's own codes, and the facilitator's example codes they see afterwards
    "spice-level": (["polite", "gives people choice"], ["considerate of others' preferences", "inclusive", "gives people choice"]),
    "burnt-pan": (["reassuring"], ["reassuring", "frugal (repair over replace)", "treats mistakes as learning"]),
    "vegan-baking": (["respects diets", "no judgement"], ["respects dietary choices", "non-judgemental", "confident and direct"]),
}
MORE_ORIENTATION = (
    "\n\n---\n\n## Who takes part\n\nTeachers, students and parents of one school district.\n\n"
    "---\n\n## What happens to your answers\n\nYour labels are kept for the study and shared with your group."
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("familiarize/index.html", "join/index.html", "me/index.html", "interact/index.html") as browser:
        yield browser


@pytest.fixture
def study(tmp_path: Path) -> Iterator[PilotStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield PilotStudy(server, "Teachers")
    finally:
        server.stop()


async def screenshot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def join(browser: Browser, study: PilotStudy, name: str, **options: Any) -> tuple[Page, list[str]]:
    """A participant opens a fresh invite link in their own browser and joins; they land on /me/."""
    context = await browser.new_context(**options)
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/join/?token={study.invite()}")
    await page.get_by_test_id("display-name").fill(name)
    await page.get_by_test_id("join-button").click()
    await expect(page).to_have_url(f"{study.server.http_url}/me/", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("me-name")).to_have_text(name, timeout=TIMEOUT_MS)
    return page, errors


def stage_item(page: Page, stage: str) -> Locator:
    return page.locator(f'[data-testid="stage-item"][data-stage="{stage}"]')


def step_link(page: Page, step: str) -> Locator:
    return page.locator(f'[data-testid="step-link"][data-step="{step}"]')


def practice_item(page: Page, item: str) -> Locator:
    return page.locator(f'[data-testid="practice-item"][data-item-id="{item}"]')


def check_item(page: Page, item: str) -> Locator:
    return page.locator(f'[data-testid="check-item"][data-item-id="{item}"]')


async def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A call to the API from the page, with the participant's session."""
    return await page.evaluate(
        """async ([method, path, body]) => {
          const init = { method, headers: { 'content-type': 'application/json' } }
          if (body !== null) init.body = JSON.stringify(body)
          const response = await fetch(path, init)
          return { status: response.status, body: await response.json() }
        }""",
        [method, path, body],
    )


async def pick(page: Page, answers: dict[str, list[str]]) -> None:
    """Tick exactly `answers`' codes in the check (items left out: nothing ticked)."""
    for item_id in RIGHT_ANSWERS:
        item = check_item(page, item_id)
        for option in await item.get_by_test_id("check-option").all():
            await option.set_checked(await option.get_attribute("value") in answers.get(item_id, []))


async def no_sideways_scroll(page: Page) -> None:
    sizes = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"the page scrolls sideways: scrollWidth {sizes[0]} > innerWidth {sizes[1]}"


async def test_a_participant_learns_to_code_passes_the_check_and_goes_on_to_interact(
    browser: Browser, study: PilotStudy
) -> None:
    pilot = study.facilitator.ok("GET", study.path())
    study.patch({"orientation": pilot["orientation"] + MORE_ORIENTATION})  # three pages to page through
    context_name = pilot["deployment_context"]["name"]
    page, errors = await join(browser, study, "Asha")
    url = study.server.http_url

    # The overview: Familiarize is where she is; Interact opens once she finished it.
    await expect(stage_item(page, "familiarize")).to_have_attribute("data-status", "current")
    await expect(stage_item(page, "interact")).to_have_attribute("data-status", "closed")
    await expect(stage_item(page, "interact").get_by_test_id("stage-reason")).to_have_text(
        "Opens once you have finished Familiarize."
    )
    await expect(page.get_by_test_id("interact-link")).to_have_attribute("data-open", "false")
    await expect(page.get_by_test_id("advance-button")).to_have_count(0)
    await screenshot(page, "me-before-familiarize")
    await page.get_by_test_id("familiarize-link").click()
    await expect(page).to_have_url(f"{url}/familiarize/", timeout=TIMEOUT_MS)

    # Orientation: one page at a time, with Back; a reload picks up at the first page not read.
    orientation = page.get_by_test_id("step-orientation")
    await expect(orientation).to_be_visible(timeout=TIMEOUT_MS)
    position = page.get_by_test_id("orientation-page-position")
    await expect(position).to_have_text("Page 1 of 3")
    await expect(page.get_by_test_id("overall-progress-text")).to_have_text("0 of 4 steps done")
    await expect(step_link(page, "lesson")).to_be_disabled()
    await expect(page.get_by_test_id("orientation-page").locator("h1")).to_have_text(context_name)
    await expect(page.get_by_test_id("orientation-back")).to_be_hidden()
    await page.get_by_test_id("orientation-next").click()
    await expect(position).to_have_text("Page 2 of 3", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("orientation-page")).to_contain_text("Who takes part")
    await screenshot(page, "familiarize-orientation")
    await page.get_by_test_id("orientation-back").click()
    await expect(position).to_have_text("Page 1 of 3")
    await page.get_by_test_id("orientation-next").click()
    await expect(position).to_have_text("Page 2 of 3", timeout=TIMEOUT_MS)
    await page.get_by_test_id("orientation-next").click()
    await expect(position).to_have_text("Page 3 of 3", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("orientation-next")).to_have_text("Continue")
    await page.reload()
    await expect(position).to_have_text("Page 3 of 3", timeout=TIMEOUT_MS)
    await page.get_by_test_id("orientation-next").click()

    # The lesson, then the worked examples: values set against labels that only describe structure.
    lesson = page.get_by_test_id("step-lesson")
    await expect(lesson).to_be_visible(timeout=TIMEOUT_MS)
    await expect(step_link(page, "orientation")).to_have_attribute("data-state", "done")
    await expect(page.get_by_test_id("overall-progress-text")).to_have_text("1 of 4 steps done")
    await expect(page.get_by_test_id("training-note")).to_contain_text("Home Cooking Assistant")
    await expect(page.get_by_test_id("lesson-page-position")).to_have_text("Page 1 of 5")
    await expect(page.get_by_test_id("lesson-page").locator("h1")).to_have_text("Coding what you see")
    for n in (2, 3, 4, 5):
        await page.get_by_test_id("lesson-next").click()
        await expect(page.get_by_test_id("lesson-page-position")).to_have_text(f"Page {n} of 5")
        if n == 3:
            await expect(page.get_by_test_id("lesson-page").locator("h2")).to_have_text("Values, not structure")
    examples = page.get_by_test_id("worked-example")
    await expect(examples).to_have_count(3)
    dinner = examples.nth(1)
    await expect(dinner.get_by_test_id("value-codes")).to_contain_text("assumes a Western kitchen")
    await expect(dinner.get_by_test_id("structural-codes")).to_contain_text("summary")
    await expect(dinner.get_by_test_id("example-notes")).to_contain_text("implicit values")
    await expect(step_link(page, "practice")).to_be_disabled()
    await screenshot(page, "familiarize-worked-examples")
    await page.get_by_test_id("lesson-next").click()  # "I have read the lesson"

    # Practice: her codes first; only then the facilitator's, beside hers. A reload keeps them shown.
    await expect(page.get_by_test_id("step-practice")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("practice-item")).to_have_count(3)
    await expect(page.get_by_test_id("practice-continue")).to_be_disabled()
    for index, (item_id, (mine, examples_codes)) in enumerate(PRACTICE.items()):
        item = practice_item(page, item_id)
        await expect(item.get_by_test_id("example-codes")).to_have_count(0)
        for code in examples_codes:
            if code not in mine:
                await expect(page.get_by_text(code, exact=True)).to_have_count(0)  # not in the page before she answers
        box = item.get_by_test_id("code-text")
        for code in mine[:-1]:
            await box.fill(code)
            await box.press("Enter")
        await box.fill(mine[-1])  # the last one still typed in the box counts too
        await expect(item.get_by_test_id("my-draft-codes").locator(".chip-text")).to_have_text(mine[:-1])
        if index == 1:
            await screenshot(page, "familiarize-practice-typing")
        await item.get_by_test_id("practice-submit").click()
        await expect(item.get_by_test_id("example-codes").get_by_test_id("chip")).to_have_text(examples_codes, timeout=TIMEOUT_MS)
        await expect(item.get_by_test_id("my-codes").get_by_test_id("chip")).to_have_text(mine)
        await expect(item.get_by_test_id("practice-explanation")).to_be_visible()
        await expect(item).to_have_attribute("data-answered", "true")
        if index == 0:
            await page.reload()
            await expect(page.get_by_test_id("step-practice")).to_be_visible(timeout=TIMEOUT_MS)
            item = practice_item(page, item_id)
            await expect(item.get_by_test_id("example-codes").get_by_test_id("chip")).to_have_text(examples_codes)
            await expect(practice_item(page, "burnt-pan").get_by_test_id("example-codes")).to_have_count(0)
    await expect(page.get_by_test_id("overall-progress-text")).to_have_text("3 of 4 steps done")
    await screenshot(page, "familiarize-practice")
    await page.get_by_test_id("practice-continue").click()

    # The check: structure picked where values should be fails, and says which excerpts to look at again.
    check = page.get_by_test_id("step-check")
    await expect(check).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("check-item")).to_have_count(4)
    await expect(page.get_by_test_id("check-rules")).to_contain_text("Pass mark: 75%")
    await pick(page, {**RIGHT_ANSWERS, **STRUCTURE_INSTEAD})
    await page.get_by_test_id("check-submit").click()
    await expect(page.get_by_test_id("check-score")).to_have_text("You judged 8 of 16 rightly (50%).", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("check-verdict")).to_contain_text("Not passed yet: you need 75%.")
    for item_id in RIGHT_ANSWERS:
        revisit = "true" if item_id in STRUCTURE_INSTEAD else "false"
        await expect(check_item(page, item_id)).to_have_attribute("data-revisit", revisit)
        await expect(check_item(page, item_id).get_by_test_id("revisit-note")).to_be_visible(visible=revisit == "true")
    await expect(page.get_by_test_id("check-explanation").first).to_be_hidden()
    await expect(page.get_by_test_id("check-option").first).to_be_disabled()
    await screenshot(page, "familiarize-check-failed")
    await page.get_by_test_id("check-retry").click()
    # Try again keeps her picks.
    soup = check_item(page, "soup-salt")
    await expect(soup.get_by_label("summary at the end", exact=True)).to_be_checked()
    await expect(soup.get_by_label("summary at the end", exact=True)).to_be_enabled()
    await expect(check_item(page, "fancy-dinner").get_by_label("assumes wealth", exact=True)).to_be_checked()
    await pick(page, RIGHT_ANSWERS)
    await page.get_by_test_id("check-submit").click()
    await expect(page.get_by_test_id("check-score")).to_have_text("You judged 16 of 16 rightly (100%).", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("check-verdict")).to_contain_text("You passed")
    await expect(soup.get_by_test_id("check-explanation")).to_contain_text("describe form")
    for item_id in RIGHT_ANSWERS:
        await expect(check_item(page, item_id).get_by_test_id("check-explanation")).to_be_visible()
        await expect(check_item(page, item_id)).to_have_attribute("data-revisit", "false")
    await expect(page.get_by_test_id("check-retry")).to_have_count(0)
    await expect(page.get_by_test_id("overall-progress-text")).to_have_text("4 of 4 steps done", timeout=TIMEOUT_MS)

    # Done: Interact is open; the button moves her there.
    await page.get_by_test_id("check-continue").click()
    await expect(page.get_by_test_id("step-done")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("next-open")).to_have_text("Interact is open")
    await screenshot(page, "familiarize-done")
    await page.reload()  # finished, the page opens at Done
    await expect(page.get_by_test_id("next-open")).to_have_text("Interact is open", timeout=TIMEOUT_MS)
    await page.get_by_test_id("continue-next").click()
    await expect(page).to_have_url(f"{url}/interact/", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("interact")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("interact-closed")).to_be_hidden()
    composer = page.get_by_test_id("composer-input")
    await expect(composer).to_be_editable()
    await composer.fill("Who was Ashoka?")
    await expect(page.get_by_test_id("send-button")).to_be_enabled()
    pid = (await api(page, "GET", "/api/session"))["body"]["me"]["participant_id"]
    stages = (await api(page, "GET", study.path(f"/participants/{pid}/stages")))["body"]
    assert stages["current"] == "interact"
    assert {s["stage"]: s["state"] for s in stages["stages"]} == {
        "familiarize": "open", "interact": "open", "reflect": "closed", "discuss": "closed"}

    # "I'm done chatting", confirmed, opens Reflect; her overview shows it.
    await page.get_by_test_id("done-chatting-button").click()
    await expect(page.get_by_test_id("done-chatting-question")).to_be_visible()
    await page.get_by_test_id("done-chatting-cancel").click()
    await expect(page.get_by_test_id("done-chatting-question")).to_have_count(0)
    await page.get_by_test_id("done-chatting-button").click()
    await page.get_by_test_id("done-chatting-confirm").click()
    await expect(page.get_by_test_id("next-stage-open")).to_have_text("Reflect is open", timeout=TIMEOUT_MS)
    await screenshot(page, "interact-done-chatting")
    await page.get_by_test_id("done-chatting-overview").click()
    await expect(page).to_have_url(f"{url}/me/", timeout=TIMEOUT_MS)
    await expect(stage_item(page, "familiarize")).to_have_attribute("data-status", "done", timeout=TIMEOUT_MS)
    await expect(stage_item(page, "interact")).to_have_attribute("data-status", "current")
    await expect(stage_item(page, "reflect")).to_have_attribute("data-status", "open")
    await expect(stage_item(page, "reflect").get_by_test_id("stage-reason")).to_have_text("Open: you finished Interact.")
    await expect(stage_item(page, "discuss")).to_have_attribute("data-status", "closed")
    await expect(page.get_by_test_id("advance-button")).to_have_text("Continue to Reflect")
    await expect(page.get_by_test_id("interact-link")).to_have_attribute("data-open", "true")
    await screenshot(page, "me-after-interact")
    assert errors == []


async def test_the_facilitators_markup_never_runs_and_a_closed_familiarize_says_so(
    browser: Browser, study: PilotStudy
) -> None:
    pilot = study.facilitator.ok("GET", study.path())
    practice = pilot["familiarize"]["practice"]
    practice[0] = {**practice[0], "response": "<img src=x onerror=\"window.pwned = 'practice'\"> Ask your guests first."}
    study.patch({
        "orientation": "# Welcome <em>all</em>\n\n<script>window.pwned = 'script'</script>\n\n"
                       "<img src=x onerror=\"window.pwned = 'img'\">\n\n[a link](javascript:window.pwned='link') and "
                       "[a safe one](https://example.org/)\n\n**Bold** text stays.",
        "familiarize": {"practice": practice},
    })
    page, errors = await join(browser, study, "Mallory")
    await page.goto(f"{study.server.http_url}/familiarize/")
    shown = page.get_by_test_id("orientation-page")
    await expect(shown).to_contain_text("Bold text stays.", timeout=TIMEOUT_MS)
    await expect(shown.locator("strong")).to_have_text("Bold")  # the Markdown is rendered …
    await expect(shown.locator("script, img, [onerror], em")).to_have_count(0)  # … its raw HTML is not
    await expect(shown.locator('a[href^="javascript"]')).to_have_count(0)
    await expect(shown.locator('a[href="https://example.org/"]')).to_have_attribute("rel", re.compile("noopener"))
    await expect(shown).to_contain_text("Welcome <em>all</em>")  # shown as text
    assert await page.evaluate("window.pwned") is None

    # The practice answer (plain text from the facilitator) is text too.
    await api(page, "PUT", study.path("/familiarize/orientation"), {"pages_seen": 1})
    await api(page, "PUT", study.path("/familiarize/lesson"))
    await page.reload()
    response = practice_item(page, "spice-level").get_by_test_id("practice-response")
    await expect(response).to_contain_text("<img src=x onerror=", timeout=TIMEOUT_MS)
    await expect(page.locator("img")).to_have_count(0)
    assert await page.evaluate("window.pwned") is None

    # The facilitator closes Familiarize for the group: the page says so, and why.
    study.facilitator.ok("PUT", study.path("/stage-overrides"), {"group_id": study.group, "stage": "familiarize", "state": "closed"})
    await page.reload()
    await expect(page.get_by_test_id("familiarize-closed")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("familiarize-closed-text")).to_have_text(
        "Familiarize is closed for you. Closed for your group by your facilitator."
    )
    await expect(page.get_by_test_id("familiarize")).to_be_hidden()
    await page.goto(f"{study.server.http_url}/me/")
    await expect(stage_item(page, "familiarize")).to_have_attribute("data-state", "closed", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("familiarize-link")).to_have_attribute("data-open", "false")
    assert errors == []


async def test_on_a_phone_the_check_fits_the_screen(browser: Browser, study: PilotStudy) -> None:
    page, errors = await join(browser, study, "Mei Ling", **PHONE)
    assert page.viewport_size == {"width": 390, "height": 844}
    # Everything before the check, done through the API with her session: the page resumes at the check.
    await api(page, "PUT", study.path("/familiarize/orientation"), {"pages_seen": 1})
    await api(page, "PUT", study.path("/familiarize/lesson"))
    for item_id, (mine, _) in PRACTICE.items():
        await api(page, "PUT", study.path(f"/familiarize/practice/{item_id}"), {"codes": mine})
    await page.goto(f"{study.server.http_url}/familiarize/")
    await expect(page.get_by_test_id("step-check")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(step_link(page, "check")).to_have_attribute("data-state", "current")
    await no_sideways_scroll(page)
    await screenshot(page, "familiarize-check-phone")

    await pick(page, {**RIGHT_ANSWERS, **STRUCTURE_INSTEAD})
    await page.get_by_test_id("check-submit").tap()
    await expect(page.get_by_test_id("check-score")).to_have_text("You judged 8 of 16 rightly (50%).", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("check-retry")).to_be_in_viewport()
    await no_sideways_scroll(page)
    await page.get_by_test_id("check-retry").tap()
    await pick(page, RIGHT_ANSWERS)
    await page.get_by_test_id("check-submit").tap()
    await expect(page.get_by_test_id("check-verdict")).to_contain_text("You passed", timeout=TIMEOUT_MS)
    await no_sideways_scroll(page)
    await page.get_by_test_id("check-continue").tap()
    await expect(page.get_by_test_id("next-open")).to_have_text("Interact is open", timeout=TIMEOUT_MS)
    await no_sideways_scroll(page)
    assert errors == []
