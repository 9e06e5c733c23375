"""End to end in Debian chromium: the facilitator edits Familiarize, reads the results and gates stages.

The facilitator signs in, creates a study from the pilot template and a group, adds a lesson
page, an option to a check item and a higher pass mark, saves and sees the preview with the new
page; a check item with one option and a pass mark of 150% are refused field by field and nothing
is saved. Two participants join over REST; one fails the check and then passes it, and the results
table says so after a refresh. The facilitator opens Interact for the group, then closes it for
that one participant, and the REST API agrees each time.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
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

NEW_OPTION = "encourages tasting"
RIGHT_ANSWERS = {  # the pilot's check, with the option this test adds to soup-salt
    "soup-salt": ["cautious", "builds the cook's own judgement", NEW_OPTION],
    "kids-cooking": ["safety-conscious", "values children's participation"],
    "fancy-dinner": ["assumes wealth", "assumes a Western cuisine", "values impressing others"],
    "meal-prep": ["efficiency", "encouraging to beginners"],
}
STRUCTURE_INSTEAD = {  # structural labels picked instead of values: a fail
    "soup-salt": ["summary at the end", "two sentences"],
    "kids-cooking": ["list", "introduction"],
    "fancy-dinner": ["conclusion"],
    "meal-prep": ["paragraph", "summary"],
}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("console/index.html") as browser:
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
    await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    viewport = page.viewport_size
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(Path(SHOTS) / f"{name}-phone.png"), full_page=True)
    if viewport is not None:
        await page.set_viewport_size(viewport)


def check_item(page: Page, item_id: str) -> Locator:
    return page.locator(f'[data-testid="check-item"][data-item-id="{item_id}"]')


def field_error(page: Page, field: str) -> Locator:
    return page.locator(f'[data-testid="field-error"][data-field="{field}"]')


def result_row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("result-row").filter(has=page.get_by_test_id("result-name").get_by_text(name, exact=True))


def stage_status(row: Locator, stage: str) -> Locator:
    return row.locator(f'[data-testid="participant-stage"][data-stage="{stage}"]')


def rest_stages(facilitator: Person, path: str, participant: Person) -> dict[str, dict[str, Any]]:
    stages = facilitator.ok("GET", f"{path}/participants/{participant.me['participant_id']}/stages")["stages"]
    return {s["stage"]: s for s in stages}


async def test_the_facilitator_edits_familiarize_reads_the_results_and_opens_and_closes_interact(
    browser: Browser, facilitator: ServerProcess
) -> None:
    server = facilitator
    _, console, console_errors = await new_page(browser)
    await sign_in(console, server)
    study_id = await create_study(console, "Familiarize pilot")
    group_id = await add_group(console, "Teachers")
    rest = Person(server, "facilitator").sign_in(EMAIL, PASSWORD)
    path = f"/api/studies/{study_id}"

    # -- the editor: a new lesson page, a new check option and a higher pass mark, saved and previewed
    editor = console.get_by_test_id("familiarize-section")
    lesson = editor.get_by_test_id("lesson-markdown")
    await expect(lesson).to_have_value(re.compile("# Coding what you see"), timeout=TIMEOUT_MS)
    await expect(editor.get_by_test_id("pass-mark")).to_have_value("75")
    await expect(editor.get_by_test_id("max-attempts")).to_have_value("5")  # the default limit
    await lesson.fill(await lesson.input_value() + "\n\n---\n\n## Added in the console\n\nOne more page to read.")
    await editor.get_by_test_id("edit-check").locator("summary").click()
    soup = check_item(console, "soup-salt")
    await expect(soup.get_by_test_id("check-option")).to_have_count(4)
    await soup.get_by_test_id("add-option").click()
    option = soup.get_by_test_id("check-option").last
    await expect(option.get_by_test_id("option-code")).to_be_focused()
    await option.get_by_test_id("option-code").fill(NEW_OPTION)
    await option.get_by_test_id("option-is-value").check()
    await editor.get_by_test_id("pass-mark").fill("90")
    await expect(editor.get_by_test_id("familiarize-status")).to_have_text("Unsaved changes")
    await editor.get_by_test_id("preview-familiarize").click()
    await expect(editor.get_by_test_id("familiarize-status")).to_contain_text("Saved at", timeout=TIMEOUT_MS)

    preview = editor.get_by_test_id("familiarize-preview")
    lesson_pages = preview.locator('[data-testid="preview-page"][data-part="lesson"]')
    await expect(lesson_pages).to_have_count(5, timeout=TIMEOUT_MS)
    await expect(lesson_pages.last.locator("h2")).to_have_text("Added in the console")
    await expect(lesson_pages.last).to_contain_text("Lesson · page 5 of 5")
    await expect(lesson_pages.first.locator("h1")).to_have_text("Coding what you see")
    await expect(preview.locator('[data-testid="preview-page"][data-part="orientation"] h1')).to_have_text(
        "History Educational Assistant"
    )
    await expect(preview.get_by_test_id("preview-summary")).to_contain_text("4 check items, pass mark 90%")

    saved = rest.ok("GET", path)["familiarize"]
    assert saved["pass_mark"] == 0.9 and saved["max_attempts"] == 5
    assert saved["lesson"].endswith("\n\n---\n\n## Added in the console\n\nOne more page to read.")
    soup_saved = next(item for item in saved["check"] if item["id"] == "soup-salt")
    assert soup_saved["options"][-1] == {"code": NEW_OPTION, "is_value": True}
    assert len(soup_saved["options"]) == 5
    await screenshot(console, "familiarize-editor")

    # -- invalid input: a check item with one option and a pass mark of 150% save nothing
    kids = check_item(console, "kids-cooking")
    for _ in range(3):
        await kids.get_by_test_id("remove-option").first.click()
    await expect(kids.get_by_test_id("check-option")).to_have_count(1)
    await editor.get_by_test_id("pass-mark").fill("150")
    await editor.get_by_test_id("save-familiarize").click()
    await expect(field_error(console, "familiarize.check.1.options")).to_have_text(
        "List should have at least 2 items after validation, not 1.", timeout=TIMEOUT_MS
    )
    await expect(field_error(console, "familiarize.pass_mark")).to_contain_text("Input should be less than or equal to 1")
    await expect(editor.get_by_test_id("familiarize-error")).to_have_text("Not saved: fix the fields marked below.")
    await expect(editor.get_by_test_id("pass-mark")).to_have_attribute("aria-invalid", "true")
    await expect(editor.get_by_test_id("pass-mark")).to_be_focused()
    await expect(editor.get_by_test_id("familiarize-status")).to_have_text("Unsaved changes")
    assert rest.ok("GET", path)["familiarize"] == saved, "a refused save changes nothing"
    await screenshot(console, "familiarize-invalid")

    await editor.get_by_test_id("discard-familiarize").click()
    await expect(kids.get_by_test_id("check-option")).to_have_count(4)
    await expect(editor.get_by_test_id("pass-mark")).to_have_value("90")
    await expect(field_error(console, "familiarize.pass_mark")).to_be_hidden()
    await expect(editor.get_by_test_id("pass-mark")).not_to_have_attribute("aria-invalid", "true")
    await expect(editor.get_by_test_id("familiarize-error")).to_have_text("")

    # -- two participants join; Ravi fails the check, then passes it
    def join(name: str) -> Person:
        invite = rest.ok("POST", f"{path}/invites", {"group_id": group_id, "role": "participant"}, status=201)
        return Person(server, name).join(invite["token"], name)

    ravi, mei = join("Ravi"), join("Mei")
    ravi.ok("PUT", f"{path}/familiarize/orientation", {"pages_seen": 1})
    ravi.ok("PUT", f"{path}/familiarize/lesson")
    for item in ("spice-level", "burnt-pan", "vegan-baking"):
        ravi.ok("PUT", f"{path}/familiarize/practice/{item}", {"codes": ["reassuring"]})
    mei.ok("PUT", f"{path}/familiarize/practice/spice-level", {"codes": ["polite"]})
    first = ravi.ok("POST", f"{path}/familiarize/check", {"answers": STRUCTURE_INSTEAD})
    assert not first["passed"] and first["score"] < 0.9
    second = ravi.ok("POST", f"{path}/familiarize/check", {"answers": RIGHT_ANSWERS})
    assert second["passed"] and second["score"] == 1.0 and second["attempts"] == 2

    # The live progress view still shows who is where.
    await expect(console.get_by_test_id("progress-row")).to_have_count(2, timeout=TIMEOUT_MS)

    results = console.get_by_test_id("results-section")
    await results.get_by_test_id("refresh-results").click()
    ravi_row, mei_row = result_row(console, "Ravi"), result_row(console, "Mei")
    await expect(ravi_row.get_by_test_id("result-attempts")).to_have_text("2", timeout=TIMEOUT_MS)
    await expect(ravi_row.get_by_test_id("result-best")).to_have_text("100%")
    await expect(ravi_row).to_have_attribute("data-passed", "true")
    await expect(ravi_row.get_by_test_id("result-passed")).not_to_have_text("not yet")
    await expect(ravi_row.get_by_test_id("result-group")).to_have_text("Teachers")
    await expect(ravi_row.get_by_test_id("result-practice")).to_have_text("3/3")
    await expect(ravi_row.get_by_test_id("result-orientation")).to_have_attribute("data-done", "true")
    await expect(ravi_row.get_by_test_id("result-lesson")).to_have_attribute("data-done", "true")
    await expect(mei_row.get_by_test_id("result-practice")).to_have_text("1/3")
    await expect(mei_row.get_by_test_id("result-lesson")).to_have_attribute("data-done", "false")
    await expect(ravi_row.get_by_test_id("result-current")).to_have_text("Familiarize")
    await expect(mei_row.get_by_test_id("result-attempts")).to_have_text("0")
    await expect(mei_row.get_by_test_id("result-best")).to_have_text("–")
    await expect(mei_row.get_by_test_id("result-passed")).to_have_text("not yet")
    await expect(results.get_by_test_id("results-summary")).to_have_text("1 of 2 passed the check (pass mark 90%).")
    # Completing Familiarize (the check passed last) opened Interact for Ravi by the rule; Mei's waits.
    await expect(stage_status(ravi_row, "interact")).to_have_attribute("data-state", "open")
    await expect(stage_status(ravi_row, "interact")).to_have_attribute("data-reason", "rule")
    await expect(stage_status(mei_row, "interact")).to_have_attribute("data-state", "closed")
    await expect(stage_status(mei_row, "interact").get_by_test_id("stage-reason")).to_have_text("previous stage not done")

    # -- gating: Interact opened for the group ...
    group_gate = console.locator(f'[data-testid="group-override"][data-group-id="{group_id}"][data-stage="interact"]')
    await expect(group_gate).to_have_value("default")
    await group_gate.select_option("open")
    await expect(console.get_by_test_id("access-status")).to_have_text("Interact is open for Teachers.", timeout=TIMEOUT_MS)
    await expect(stage_status(mei_row, "interact")).to_have_attribute("data-state", "open")
    await expect(stage_status(mei_row, "interact")).to_have_attribute("data-reason", "group")
    await expect(stage_status(ravi_row, "interact")).to_have_attribute("data-reason", "group")
    await expect(group_gate).to_have_value("open")
    for person in (ravi, mei):
        interact = rest_stages(rest, path, person)["interact"]
        assert interact["state"] == "open" and "for the group" in interact["reason"], (person.label, interact)

    # ... and closed for Ravi alone.
    ravi_gate = ravi_row.locator('[data-testid="participant-override"][data-stage="interact"]')
    await expect(ravi_gate).to_have_value("default")
    await ravi_gate.select_option("closed")
    await expect(stage_status(ravi_row, "interact")).to_have_attribute("data-state", "closed", timeout=TIMEOUT_MS)
    await expect(stage_status(ravi_row, "interact")).to_have_attribute("data-reason", "person")
    await expect(stage_status(ravi_row, "interact").get_by_test_id("stage-reason")).to_have_text("set for this person")
    await expect(ravi_gate).to_have_value("closed")
    await expect(stage_status(mei_row, "interact")).to_have_attribute("data-state", "open")
    interact = rest_stages(rest, path, ravi)["interact"]
    assert interact["state"] == "closed" and "for you" in interact["reason"], interact
    assert rest_stages(rest, path, mei)["interact"]["state"] == "open"
    overrides = rest.ok("GET", f"{path}/stage-overrides")["overrides"]
    assert sorted((o["scope"], o["target_id"], o["stage"], o["state"]) for o in overrides) == [
        ("group", group_id, "interact", "open"),
        ("participant", ravi.me["participant_id"], "interact", "closed"),
    ]
    await screenshot(console, "familiarize-results")

    # The only console error is the browser's note of the refused save (422); nothing was thrown.
    assert len(console_errors) == 1 and "422" in console_errors[0], console_errors
