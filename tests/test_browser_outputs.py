"""End to end in Debian chromium: Outputs in the console, and a participant's blind A/B trial on /ab/.

One real server for the module. Finished Discuss sessions are run over REST and /live
(tests/helpers/discuss.py) so the browser starts where Outputs does. The facilitator, in the
console: downloads a group's derived axes (valid under their schema) and opens its report; trains
the classifiers; compares two groups, corrects the pairing, reloads and finds the correction kept,
then goes back to the automatic pairing; sets up an A/B test of two system prompts on the packaged
model. A participant, in a browser of their own, opens /ab/, asks a prompt (the page shows it is
busy while both replies are written), sees two replies labelled only Left and Right — nothing on the
page says which arm wrote which — must choose on every axis, and then learns which side was A. The
facilitator's results show that one choice per axis.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from calma.access.sessions import SESSION_COOKIE
from calma.outputs.schema import DerivedAxes
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.browser import chromium, collect_errors
from tests.helpers.console import LEAD, TIMEOUT_MS, new_page, sign_in
from tests.helpers.discuss import ATTRIBUTES, FinishedSession, run_session
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

SLOW_MS = 120_000  # the first comparison and trial load the embedding model and the packaged LLM
VIEWPORT = {"width": 1280, "height": 900}
OTHER_ATTRIBUTES: list[tuple[str, str, str | None]] = [
    ("Factual correctness", "Does not invent facts; dates and people are right.", None),
    ("Multiple viewpoints", "Gives more than one side of a debated historical event.", None),
    ("Cultural sensitivity", "Respects religious and regional communities of India.", None),
]
ARMS = {"a": "Answer in one short sentence.", "b": "Answer like a storyteller, with a question at the end."}
MODEL = "gemma-3-270m"

SHOTS = os.environ.get("CALMA_SCREENSHOTS")  # a folder: save screenshots of the pages there (for looking at them)

_studies = itertools.count(1)


async def screenshot(page: Page, name: str, section: str | None = None) -> None:
    """With CALMA_SCREENSHOTS set: the page (or one section of it) into that folder."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    target = page.get_by_test_id(section) if section else page
    await target.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    node = ServerProcess(tmp_path_factory.mktemp("outputs-browser") / "node")
    node.start()
    create_facilitator(node.data_dir, LEAD[0], LEAD[1], LEAD[2])
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def lead(server: ServerProcess) -> Person:
    return Person(server, "lead").sign_in(LEAD[0], LEAD[2])


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("console/index.html", "ab/index.html") as browser:
        yield browser


async def open_study(page: Page, server: ServerProcess, study: str) -> None:
    await page.goto(f"{server.http_url}/console/?study={study}")
    await expect(page.get_by_test_id("outputs-section")).to_be_visible(timeout=TIMEOUT_MS)


def group_outputs(page: Page, group: str) -> Locator:
    return page.locator(f'[data-testid="outputs-group"][data-group-id="{group}"]')


async def compare(page: Page, a: str, b: str) -> Locator:
    await page.get_by_test_id("compare-a").select_option(a)
    await page.get_by_test_id("compare-b").select_option(b)
    await page.get_by_test_id("compare-button").click()
    result = page.get_by_test_id("comparison-result")
    await expect(result).to_be_visible(timeout=SLOW_MS)
    await expect(result).to_have_attribute("data-group-b", b)
    return result


def pair(result: Locator, a: str, b: str) -> Locator:
    return result.locator(f'[data-testid="comparison-pair"][data-a-id="{a}"][data-b-id="{b}"]')


async def test_the_facilitator_downloads_a_groups_outputs_and_compares_two_groups(
    server: ServerProcess, lead: Person, browser: Browser, tmp_path: Path,
) -> None:
    first = await run_session(server, lead, f"Outputs in the browser {next(_studies)}")
    second = await run_session(server, lead, "", "Students", study=first.study, attributes=OTHER_ATTRIBUTES)
    context, page, errors = await new_page(browser, viewport=VIEWPORT)
    await sign_in(page, server)
    await open_study(page, server, first.study)
    await expect(page.locator('nav.jump a[href="#outputs-section"]')).to_have_text("Outputs")
    block = group_outputs(page, first.group)
    await expect(block.get_by_test_id("outputs-group-name")).to_have_text("History teachers")

    # the axes as JSON, downloaded through the link, are valid derived axes in the group's Borda order
    async with page.expect_download() as downloading:
        await block.get_by_test_id("export-axes-json").click()
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename == f"axes-{first.group}.json"
    axes = DerivedAxes.model_validate(json.loads(saved.read_text(encoding="utf-8")))
    assert [a.name for a in axes.axes] == [name for name, _, _ in ATTRIBUTES]
    for key in ("axes-csv", "axes-md", "rubrics", "guidelines", "excerpts", "steerlm", "classifiers"):
        href = await block.get_by_test_id(f"export-{key}").get_attribute("href")
        assert href is not None and href.endswith(f"?group_id={first.group}")
        assert lead.request("GET", href).status_code == 200, key
    rubrics = json.loads(lead.request("GET", str(await block.get_by_test_id("export-rubrics").get_attribute("href"))).text)
    assert [r["axis"] for r in rubrics["rubrics"]] == [name for name, _, _ in ATTRIBUTES]

    # the report opens in a new tab
    async with context.expect_page() as opening:
        await block.get_by_test_id("open-report").click()
    report = await opening.value
    await expect(report.locator("h1")).to_have_text("Derived axes — History teachers", timeout=TIMEOUT_MS)
    await expect(report.locator("body")).to_contain_text("Balanced views")
    await report.close()

    # the classifiers train on demand; with no coded excerpts the page says there is nothing to train on
    await block.get_by_test_id("train-classifiers").click()
    await expect(block.get_by_test_id("classifiers")).to_have_attribute("data-state", "done", timeout=SLOW_MS)
    await expect(block.get_by_test_id("classifiers-empty")).to_be_visible()
    await expect(block.get_by_test_id("train-classifiers")).to_be_enabled()

    # the comparison pairs the two groups' accuracy axes by meaning
    ids_a, ids_b = first.attributes, second.attributes
    result = await compare(page, first.group, second.group)
    await expect(result.get_by_test_id("comparison-automatic")).to_be_visible()
    accuracy = pair(result, ids_a["Historical accuracy"], ids_b["Factual correctness"])
    await expect(accuracy).to_be_visible()
    similarity = float(await accuracy.get_by_test_id("pair-similarity").get_attribute("data-similarity") or "0")
    assert 0.5 <= similarity <= 1.0
    assert await result.get_by_test_id("comparison-pair").count() + await result.get_by_test_id("only-a").get_by_test_id(
        "only-item").count() == 3

    # correct it: curiosity goes with cultural sensitivity, balanced views with nothing
    await result.get_by_test_id("correct-pairing").click()
    form = result.get_by_test_id("pairing-form")
    rows = {"Historical accuracy": "Factual correctness", "Balanced views": None, "Encourages curiosity": "Cultural sensitivity"}
    for axis, partner in rows.items():
        select = form.locator(f'[data-testid="pairing-select"][data-axis-id="{ids_a[axis]}"]')
        await select.select_option(ids_b[partner] if partner else "")
    await form.get_by_test_id("save-pairing").click()
    await expect(result.get_by_test_id("comparison-corrected")).to_contain_text(f"Corrected by {LEAD[1]}", timeout=TIMEOUT_MS)

    async def corrected_shown(result: Locator) -> None:
        await expect(result.get_by_test_id("comparison-corrected")).to_contain_text(f"Corrected by {LEAD[1]} at ")
        await expect(pair(result, ids_a["Encourages curiosity"], ids_b["Cultural sensitivity"])).to_be_visible()
        await expect(pair(result, ids_a["Historical accuracy"], ids_b["Factual correctness"])).to_be_visible()
        await expect(result.get_by_test_id("comparison-pair")).to_have_count(2)
        await expect(result.get_by_test_id("only-a").get_by_test_id("only-item")).to_have_text(["Balanced views"])
        await expect(result.get_by_test_id("only-b").get_by_test_id("only-item")).to_have_text(["Multiple viewpoints"])

    await corrected_shown(result)
    await screenshot(page, "outputs-comparison", "outputs-section")
    await page.reload()
    await expect(page.get_by_test_id("outputs-section")).to_be_visible(timeout=TIMEOUT_MS)
    result = await compare(page, first.group, second.group)
    await corrected_shown(result)

    # a pairing that is not one to one is refused on the page, before it reaches the server
    await result.get_by_test_id("correct-pairing").click()
    form = result.get_by_test_id("pairing-form")
    await form.locator(f'[data-testid="pairing-select"][data-axis-id="{ids_a["Balanced views"]}"]').select_option(
        ids_b["Factual correctness"])
    await form.get_by_test_id("save-pairing").click()
    await expect(form.get_by_test_id("pairing-error")).to_contain_text("one to one")
    await form.get_by_test_id("cancel-pairing").click()

    await result.get_by_test_id("reset-pairing").click()
    await expect(result.get_by_test_id("comparison-automatic")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(result.get_by_test_id("reset-pairing")).to_have_count(0)

    assert errors == []
    await context.close()


async def hold_trials(page: Page) -> asyncio.Event:
    """Hold the page's trial answer until the returned event is set, to see the page while it waits."""
    release = asyncio.Event()

    async def held(route: Route) -> None:
        response = await route.fetch(timeout=SLOW_MS)
        await release.wait()
        await route.fulfill(response=response)

    await page.route(re.compile(r"/api/studies/[^/]+/ab-tests/[^/]+/trials$"), held)
    return release


async def test_a_participant_judges_two_blind_replies_and_the_facilitator_reads_the_results(
    server: ServerProcess, lead: Person, browser: Browser,
) -> None:
    s: FinishedSession = await run_session(server, lead, f"A/B in the browser {next(_studies)}")
    lead.ok("PATCH", s.path(), {"interact": {"max_tokens": 8}})  # short replies: quick trials
    axis_ids = list(s.attributes.values())

    # the facilitator sets up the test in the console
    context, page, errors = await new_page(browser, viewport=VIEWPORT)
    await sign_in(page, server)
    await open_study(page, server, s.study)
    block = group_outputs(page, s.group)
    await expect(block.get_by_test_id("ab-empty")).to_be_visible(timeout=TIMEOUT_MS)
    await block.get_by_test_id("ab-new-summary").click()
    await expect(block.get_by_test_id("ab-a-model")).to_have_value(MODEL, timeout=TIMEOUT_MS)
    await expect(block.get_by_test_id("ab-axis")).to_have_count(3)
    await block.get_by_test_id("create-ab").click()
    await expect(block.get_by_test_id("ab-form-error")).to_contain_text("Give the test a name")
    await block.get_by_test_id("ab-name").fill("Short vs story")
    await block.get_by_test_id("create-ab").click()
    await expect(block.get_by_test_id("ab-form-error")).to_contain_text("the same")
    await block.get_by_test_id("ab-a-prompt").fill(ARMS["a"])
    await block.get_by_test_id("ab-b-prompt").fill(ARMS["b"])
    await block.get_by_test_id("create-ab").click()
    test = block.get_by_test_id("ab-test")
    await expect(test.get_by_test_id("ab-test-name")).to_have_text("Short vs story", timeout=TIMEOUT_MS)
    await expect(test).to_have_attribute("data-open", "true")
    await expect(test.get_by_test_id("ab-trials")).to_have_text("0 trials")
    await expect(test.get_by_test_id("ab-test-arms")).to_contain_text(MODEL)

    # a participant opens /ab/ with their session
    ravi = s.people["Ravi"]
    assert ravi.session is not None
    seat = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    await seat.add_cookies([{"name": SESSION_COOKIE, "value": ravi.session, "url": server.http_url}])
    mine = await seat.new_page()
    mine_errors = collect_errors(mine)
    await mine.goto(f"{server.http_url}/ab/")
    root = mine.get_by_test_id("ab")
    await expect(root).to_be_visible(timeout=TIMEOUT_MS)
    await expect(mine.get_by_test_id("ab-test-name")).to_contain_text("Short vs story")
    await expect(mine.get_by_test_id("ab-test-name")).to_contain_text("Historical accuracy")

    release = await hold_trials(mine)
    await mine.get_by_test_id("trial-prompt").fill("Who was Akbar?")
    await mine.get_by_test_id("trial-submit").click()
    await expect(root).to_have_attribute("data-state", "generating")
    await expect(mine.get_by_test_id("trial-busy")).to_be_visible()
    await expect(mine.get_by_test_id("trial-submit")).to_be_disabled()
    release.set()
    await expect(root).to_have_attribute("data-state", "choosing", timeout=SLOW_MS)
    await expect(mine.get_by_test_id("trial-busy")).to_be_hidden()
    await expect(mine.get_by_test_id("reply-label")).to_have_text(["Left", "Right"])
    await expect(mine.get_by_test_id("trial-prompt-text")).to_have_text("Who was Akbar?")
    text = await mine.locator("body").inner_text()
    for reply in await mine.get_by_test_id("reply-text").all():  # the model's own words may say anything
        words = (await reply.inner_text()).strip()
        assert words != ""
        text = text.replace(words, "")
    for secret in (MODEL, "gemma", ARMS["a"], ARMS["b"], "storyteller", "Left was", "Right was"):
        assert secret not in text, f"the page says {secret!r} before the choice"
    assert not re.search(r"\b[Aa]rm\b|\([AB]\)", text), "nothing names the arms before the choice"
    await screenshot(mine, "ab-choosing")

    # every axis needs a choice
    axes = mine.get_by_test_id("choice-axis")
    await expect(axes).to_have_count(3)
    await expect(axes.get_by_test_id("choice-axis-name")).to_have_text([name for name, _, _ in ATTRIBUTES])
    await axes.nth(0).locator('[data-value="left"]').check()
    await mine.get_by_test_id("choice-submit").click()
    await expect(mine.get_by_test_id("choice-error")).to_contain_text("2 still without a choice")
    await axes.nth(1).locator('[data-value="right"]').check()
    await axes.nth(2).locator('[data-value="tie"]').check()
    await mine.get_by_test_id("choice-submit").click()
    reveal = mine.get_by_test_id("reveal-text")
    await expect(reveal).to_have_text(re.compile(r"^Left was [AB], Right was [AB]\."), timeout=TIMEOUT_MS)
    revealed = re.match(r"Left was ([AB]), Right was ([AB])", await reveal.inner_text())
    assert revealed is not None and {revealed[1], revealed[2]} == {"A", "B"}
    await expect(root).to_have_attribute("data-state", "revealed")
    await expect(mine.get_by_test_id("reply-arm")).to_have_text([f" ({revealed[1]})", f" ({revealed[2]})"])
    await expect(mine.get_by_test_id("another-trial")).to_be_visible()

    # the facilitator's results: one choice per axis, decided as the participant chose
    await test.get_by_test_id("ab-results-button").click()
    test = block.get_by_test_id("ab-test")
    await expect(test.get_by_test_id("ab-trials")).to_have_text("1 trial", timeout=TIMEOUT_MS)
    rows = test.get_by_test_id("ab-result-row")
    await expect(rows).to_have_count(3)
    left_is_a = revealed[1] == "A"
    expected = {  # axis → (a_wins, b_wins, ties)
        axis_ids[0]: (1, 0, 0) if left_is_a else (0, 1, 0),
        axis_ids[1]: (0, 1, 0) if left_is_a else (1, 0, 0),
        axis_ids[2]: (0, 0, 1),
    }
    for axis, (a_wins, b_wins, ties) in expected.items():
        row = test.locator(f'[data-testid="ab-result-row"][data-axis-id="{axis}"]')
        await expect(row).to_have_attribute("data-a-wins", str(a_wins))
        await expect(row).to_have_attribute("data-b-wins", str(b_wins))
        await expect(row).to_have_attribute("data-ties", str(ties))
        await expect(row.get_by_test_id("ab-ci")).to_be_visible()
    await expect(test.get_by_test_id("ab-caveat")).to_contain_text("Only 0 decided choices")
    await screenshot(mine, "ab-revealed")
    await screenshot(page, "outputs-ab-results", "outputs-section")
    href = await test.get_by_test_id("ab-preferences").get_attribute("href")
    lines = [json.loads(line) for line in lead.request("GET", str(href)).text.splitlines()]
    assert len(lines) == 2 and {line["axis"] for line in lines} == {"Historical accuracy", "Balanced views"}

    # closing the test takes it off the participant's page
    await test.get_by_test_id("ab-toggle").click()
    await expect(block.get_by_test_id("ab-test")).to_have_attribute("data-open", "false", timeout=TIMEOUT_MS)
    await mine.get_by_test_id("another-trial").click()
    await mine.reload()
    await expect(mine.get_by_test_id("ab-none")).to_be_visible(timeout=TIMEOUT_MS)

    assert errors == [] and mine_errors == []
    await seat.close()
    await context.close()
