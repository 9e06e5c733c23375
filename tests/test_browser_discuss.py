"""End to end in Debian chromium: a live Discuss session, /discuss/, run start to finish.

One real server for the module. A facilitator (signed in on the console) and three participants
(who join through invite links), each in a browser context of their own, run all five segments:
the lobby with each one's artifacts (their codes, the group's word cloud as a picture and in the
page, the facilitator's link); segment 1, where each writes a top three privately — no participant
page shows another's entries until the facilitator reveals them all; segment 2, where the canvas
frame shows the top-three cards; segment 3, where the facilitator spotlights a speaker (highlighted
on the others' pages) and a raised hand joins the queue; segment 4, where the participants define
attributes, one edits a definition and the others see it live, everyone ranks, and the revealed
aggregate shows; segment 5, where each rates every definition and ranks them; and the close, where
the facilitator reads the consensus figures.

The timers run on the server's clock: a page whose clock is an hour ahead still shows the two
minutes the facilitator started, and a participant who opens the page mid-segment lands in that
segment with the same time left. And the group reshapes its attributes — rename, merge, split, set
aside, with their history — while two people type in the same definition without losing their place.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from calma.access.sessions import SESSION_COOKIE
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.browser import chromium, collect_errors
from tests.helpers.console import LEAD, sign_in
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
POLL_TIMEOUT_MS = 15_000  # the facilitator's page reads the counts every 5 s
PLACE_TIMEOUT_MS = 60_000  # revealing the top threes places them on the canvas (the embedding model loads once)
VIEWPORT = {"width": 1280, "height": 900}

TOP3 = {
    "Ravi": [("Historical accuracy", "Facts and dates are right"), ("Balanced views", "Presents several sides"),
             ("Age-appropriate", "Fits high-school students")],
    "Mei": [("Balanced views", "More than one perspective"), ("Encourages curiosity", "Invites further questions"),
            ("Historical accuracy", "No invented facts")],
    "Ana": [("Cultural sensitivity", "Respects communities"), ("Historical accuracy", "Accurate"),
            ("Balanced views", "Fair to all sides")],
}
ACCURACY, BALANCE, CURIOSITY = "Historical accuracy", "Balanced views", "Encourages curiosity"

_studies = itertools.count(1)


@dataclass
class Study:
    server: ServerProcess
    lead: Person
    study: str
    group: str

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    def invite(self) -> str:
        invite = self.lead.ok("POST", self.path("/invites"), {"group_id": self.group, "role": "participant"}, status=201)
        return str(invite["token"])

    @property
    def facilitator_url(self) -> str:
        return f"{self.server.http_url}/discuss/?study={self.study}&group={self.group}"


@dataclass
class Seat:
    """One person's browser: their context, the Discuss page and its console errors."""

    name: str
    context: BrowserContext
    page: Page
    errors: list[str]

    @property
    def root(self) -> Locator:
        return self.page.get_by_test_id("discuss")

    def test_id(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def attribute(self, name: str) -> Locator:
        named = self.page.get_by_test_id("attribute-name").filter(has_text=re.compile(f"^{re.escape(name)}$"))
        return self.page.get_by_test_id("attribute").filter(has=named)

    async def segment(self, segment: str) -> None:
        await expect(self.root).to_have_attribute("data-segment", segment, timeout=TIMEOUT_MS)

    async def remaining_ms(self) -> int:
        value = await self.test_id("segment-timer").get_attribute("data-remaining-ms")
        assert value is not None
        return int(value)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    node = ServerProcess(tmp_path_factory.mktemp("discuss-browser") / "node")
    node.start()
    create_facilitator(node.data_dir, LEAD[0], LEAD[1], LEAD[2])
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def study(server: ServerProcess) -> Study:
    lead = Person(server, "lead").sign_in(LEAD[0], LEAD[2])
    sid = lead.ok("POST", "/api/studies", {"template": "pilot", "name": f"Discuss live {next(_studies)}"}, status=201)["id"]
    group = lead.ok("POST", f"/api/studies/{sid}/groups", {"name": "History teachers"}, status=201)["id"]
    return Study(server, lead, sid, group)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("discuss/index.html", "join/index.html", "console/index.html", "canvas/index.html") as browser:
        yield browser


async def facilitator_seat(browser: Browser, study: Study) -> Seat:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    errors = collect_errors(page)
    await sign_in(page, study.server)
    await page.goto(study.facilitator_url)
    seat = Seat("Lena", context, page, errors)
    await expect(seat.root).to_be_visible(timeout=TIMEOUT_MS)
    await expect(seat.test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    return seat


async def join_in_browser(browser: Browser, study: Study, name: str) -> Seat:
    """A participant opens a fresh invite link, joins under `name`, then opens Discuss."""
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/join/?token={study.invite()}")
    await page.get_by_test_id("display-name").fill(name)
    await page.get_by_test_id("join-button").click()
    await expect(page).to_have_url(f"{study.server.http_url}/me/", timeout=TIMEOUT_MS)
    return await open_discuss(Seat(name, context, page, errors), study)


async def open_discuss(seat: Seat, study: Study) -> Seat:
    await seat.page.goto(f"{study.server.http_url}/discuss/")
    await expect(seat.root).to_be_visible(timeout=TIMEOUT_MS)
    await expect(seat.test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    return seat


async def cookie_seat(browser: Browser, study: Study, person: Person, *, skew_ms: int = 0) -> Seat:
    """A participant who joined over the API opens Discuss with their session cookie; their clock off by `skew_ms`."""
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    assert person.session is not None
    await context.add_cookies([{"name": SESSION_COOKIE, "value": person.session, "url": study.server.http_url}])
    if skew_ms:
        await context.add_init_script(f"(() => {{ const real = Date.now.bind(Date); Date.now = () => real() + {skew_ms}; }})()")
    page = await context.new_page()
    return await open_discuss(Seat(person.label, context, page, collect_errors(page)), study)


async def close(*seats: Seat) -> None:
    for seat in seats:
        assert seat.errors == [], (seat.name, seat.errors)
        await seat.context.close()


async def fetch_json(page: Page, method: str, path: str, body: object = None) -> object:
    """A REST call from inside the page, with its session."""
    return await page.evaluate(
        """async ([method, path, body]) => {
          const init = { method, headers: { 'Content-Type': 'application/json' } }
          if (body !== null) init.body = JSON.stringify(body)
          const response = await fetch(path, init)
          if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
          return response.status === 204 ? null : await response.json()
        }""",
        [method, path, body],
    )


async def next_segment(lead: Seat, segment: str, *everyone: Seat) -> None:
    await lead.test_id("segment-next").click()
    for seat in (lead, *everyone):
        await seat.segment(segment)


async def pick(picker: Locator, names: list[str]) -> None:
    for place, name in enumerate(names, start=1):
        await picker.locator(f'[data-testid="place"][data-place="{place}"]').select_option(label=name)


async def test_a_facilitator_and_three_participants_run_all_five_segments(browser: Browser, study: Study) -> None:
    s = study
    lead = await facilitator_seat(browser, s)
    seats = {name: await join_in_browser(browser, s, name) for name in ("Ravi", "Mei", "Ana")}
    ravi, mei, ana = seats["Ravi"], seats["Mei"], seats["Ana"]
    people = list(seats.values())

    # -- before the session: Ravi codes a baseline response; the facilitator releases the codes and sets a link
    s.lead.ok("PUT", s.path("/stage-overrides"), {"group_id": s.group, "stage": "reflect", "state": "open"})
    reflect = await fetch_json(ravi.page, "GET", s.path("/reflect"))
    assert isinstance(reflect, dict)
    item = next(i for i in reflect["items"] if i["kind"] == "baseline")
    op = {"kind": "annotation.create", "id": "a1b2c3d4e5f60718", "target_kind": "baseline", "target_id": item["id"],
          "start": 0, "end": 10, "quote": item["text"][:10], "codes": ["sparks curiosity"]}
    await fetch_json(ravi.page, "POST", s.path("/reflect/ops"), {"ops": [{"op_id": "setup-op-1", "op": op}]})
    s.lead.ok("PUT", s.path("/reflect/settings"), {"codes_released": True})
    s.lead.ok("PATCH", s.path(), {"discuss": {"artifact_link": "https://example.org/recap.mp4"}})

    # -- lobby: the artifacts ------------------------------------------------------------------------------------
    for seat in people:  # opened before the release: a reload reads the artifacts again
        await seat.page.reload()
        await seat.segment("lobby")
    await expect(ravi.test_id("own-code")).to_have_text(re.compile("^sparks curiosity"), timeout=TIMEOUT_MS)
    await expect(ravi.test_id("own-counts")).to_contain_text("1 passage coded")
    await expect(mei.test_id("code-cloud").get_by_test_id("cloud-word")).to_have_text(["sparks curiosity"], timeout=TIMEOUT_MS)
    cloud = mei.test_id("word-cloud")
    await expect(cloud).to_be_visible()
    await mei.page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=\"word-cloud\"]'); return img.complete && img.naturalWidth > 0 }",
        timeout=TIMEOUT_MS)
    await expect(ana.test_id("artifact-link")).to_have_attribute("href", "https://example.org/recap.mp4")

    # -- segment 1: each one's top three, private until the reveal ---------------------------------------------------
    await next_segment(lead, "top3", *people)
    for seat in people:
        form = seat.test_id("top3-form")
        for row, (name, definition) in enumerate(TOP3[seat.name]):
            await form.get_by_test_id("top3-name").nth(row).fill(name)
            await form.get_by_test_id("top3-definition").nth(row).fill(definition)
        await seat.test_id("top3-submit").click()
        await expect(seat.test_id("top3-submitted")).to_be_visible(timeout=TIMEOUT_MS)
        await expect(seat.test_id("my-top3").get_by_test_id("entry-name")).to_have_text([n for n, _ in TOP3[seat.name]])
    await expect(lead.test_id("top3-count")).to_have_text("3 of 3 participants have submitted.", timeout=POLL_TIMEOUT_MS)
    for seat in people:
        await expect(seat.test_id("top3-count")).to_contain_text("of 3 participants", timeout=TIMEOUT_MS)
        page_text = await seat.page.locator("body").inner_text()
        own = {text for pair in TOP3[seat.name] for text in pair}
        others = {text for who, pairs in TOP3.items() if who != seat.name for pair in pairs for text in pair} - own
        assert not [t for t in others if t in page_text], f"{seat.name}'s page shows another's entry before the reveal"
    await lead.test_id("reveal-top3").click()
    for seat in (lead, *people):
        revealed = seat.test_id("top3-revealed")
        await expect(revealed.get_by_test_id("person-top3")).to_have_count(3, timeout=TIMEOUT_MS)
        await expect(revealed).to_contain_text("Cultural sensitivity")
        await expect(revealed).to_contain_text("Invites further questions")

    # -- segment 2: the canvas shows the top-three cards ----------------------------------------------------------------
    await next_segment(lead, "explore", *people)
    for seat in (lead, mei):
        canvas = seat.page.frame_locator('[data-testid="canvas-frame"]')
        for name in (ACCURACY, "Cultural sensitivity", "Age-appropriate"):
            await expect(canvas.get_by_test_id("card").filter(has_text=name)).to_be_visible(timeout=PLACE_TIMEOUT_MS)
    await expect(lead.test_id("canvas-frame")).to_have_attribute("src", f"../canvas/?study={s.study}&group={s.group}")
    await expect(mei.test_id("canvas-frame")).to_have_attribute("src", "../canvas/")

    # -- segment 3: presentations, a spotlight and a raised hand --------------------------------------------------------
    await next_segment(lead, "present", *people)
    await lead.test_id("spotlight-select").select_option(label="Ravi")
    await lead.test_id("spotlight").click()
    ravi_id = await ravi.page.evaluate("async () => (await (await fetch('/api/session')).json()).me.participant_id")
    for seat in (mei, ana, lead):
        panel = seat.test_id("panel-present")
        spotlit = panel.locator(f'[data-testid="person-top3"][data-participant-id="{ravi_id}"]')
        await expect(spotlit).to_have_attribute("data-speaker", "true", timeout=TIMEOUT_MS)
        await expect(spotlit).to_have_class(re.compile(r"\bds-spotlit\b"))
        await expect(panel.locator('[data-testid="person-top3"][data-speaker="true"]')).to_have_count(1)
        await expect(seat.test_id("current-speaker")).to_have_text("Speaking now: Ravi")
    await expect(ravi.test_id("current-speaker")).to_have_text("Speaking now: You")
    await ana.test_id("hand-button").click()
    await expect(ana.test_id("hand-button")).to_have_attribute("data-raised", "true", timeout=TIMEOUT_MS)
    for seat in (lead, mei):
        await expect(seat.test_id("queue-item")).to_have_text(["Ana"], timeout=TIMEOUT_MS)
    await expect(ana.test_id("queue-item")).to_have_text(["You"])

    # -- segment 4: the group's attributes, a definition edited live, rankings ------------------------------------------
    await next_segment(lead, "discuss", *people)
    created = [(ravi, ACCURACY, "Facts and dates are right."), (mei, BALANCE, "Fair to more than one side."),
               (ana, CURIOSITY, "Invites further questions.")]
    for seat, name, definition in created:
        await seat.test_id("new-attribute-name").fill(name)
        await seat.test_id("new-attribute-definition").fill(definition)
        await seat.test_id("new-attribute-provenance").select_option(label=f"{name} (top 3)")
        await seat.test_id("create-attribute").click()
        await expect(seat.attribute(name)).to_be_visible(timeout=TIMEOUT_MS)
    for seat in (lead, *people):
        await expect(seat.test_id("attribute")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(lead.attribute(ACCURACY).get_by_test_id("provenance-card")).to_have_text([ACCURACY])

    mine = mei.attribute(ACCURACY).get_by_test_id("attribute-definition")
    await mine.click()
    await mine.press("Control+End")
    await mine.press_sequentially(" Sources are named.")
    for seat in (ravi, ana, lead):
        await expect(seat.attribute(ACCURACY).get_by_test_id("attribute-definition")).to_have_value(
            "Facts and dates are right. Sources are named.", timeout=TIMEOUT_MS)
    await ravi.attribute(ACCURACY).get_by_test_id("attribute-save-version").click()
    for seat in (mei, ana):
        await expect(seat.attribute(ACCURACY)).to_have_attribute("data-version", "2", timeout=TIMEOUT_MS)

    ballots = {"Ravi": [ACCURACY, BALANCE, CURIOSITY], "Mei": [BALANCE, ACCURACY, CURIOSITY], "Ana": [ACCURACY, CURIOSITY, BALANCE]}
    for seat in people:
        await pick(seat.test_id("ranking-top3"), ballots[seat.name])
        await pick(seat.test_id("ranking-top5"), ballots[seat.name])
        await seat.test_id("ranking-submit").click()
        await expect(seat.test_id("ranking-status")).to_contain_text("Your ranking is in", timeout=TIMEOUT_MS)
        await expect(seat.test_id("aggregate-hidden")).to_be_visible()
    await expect(lead.test_id("rankings-count")).to_have_text("3 of 3 participants have ranked.", timeout=POLL_TIMEOUT_MS)
    await lead.test_id("reveal-rankings").click()
    for seat in (lead, *people):
        top = seat.test_id("aggregate-top3")
        await expect(top).to_be_visible(timeout=TIMEOUT_MS)
        await expect(top.get_by_test_id("borda-order").get_by_test_id("tier").first).to_have_text(f"{ACCURACY} (4)")
        await expect(top.get_by_test_id("schulze-order").get_by_test_id("tier").first).to_have_text(ACCURACY)
        await expect(top).to_have_attribute("data-disagree", "false")
        await expect(top.get_by_test_id("aggregate-summary")).to_contain_text(f"agree on the top 3: “{ACCURACY}”")

    # -- segment 5: private ratings and a full ranking -------------------------------------------------------------------
    await next_segment(lead, "rate", *people)
    likert = {"Ravi": {ACCURACY: 5, BALANCE: 4, CURIOSITY: 3}, "Mei": {ACCURACY: 4, BALANCE: 5, CURIOSITY: 2},
              "Ana": {ACCURACY: 5, BALANCE: 4, CURIOSITY: 4}}
    for seat in people:
        rows = seat.test_id("rate-row")
        await expect(rows).to_have_count(3, timeout=TIMEOUT_MS)
        await expect(rows.filter(has_text=ACCURACY).get_by_test_id("rate-definition")).to_have_text(
            "Facts and dates are right. Sources are named.")
        for name, value in likert[seat.name].items():
            await rows.filter(has_text=name).locator(f'[data-testid="likert-option"][data-value="{value}"]').check()
        await pick(seat.test_id("rate-ranking"), ballots[seat.name])
        await seat.test_id("rate-submit").click()
        await expect(seat.test_id("rate-status")).to_contain_text("Your ratings are in", timeout=TIMEOUT_MS)

    # -- closed: the consensus figures ----------------------------------------------------------------------------------
    await lead.test_id("segment-next").click()
    for seat in (lead, *people):
        await seat.segment("closed")
    for seat in people:
        await expect(seat.test_id("closed-note")).to_be_visible()
    await expect(lead.test_id("consensus-person")).to_have_count(3, timeout=PLACE_TIMEOUT_MS)
    await expect(lead.test_id("likert-row")).to_have_count(3)
    accuracy_row = lead.test_id("likert-row").filter(has_text=ACCURACY)
    await expect(accuracy_row).to_contain_text("100%")  # everyone rated it 4 or 5
    await expect(accuracy_row.locator("td").nth(1)).to_have_text("5.0")  # the median of 5, 4, 5
    await expect(lead.test_id("kendalls-w")).to_be_visible()
    await expect(lead.test_id("krippendorff-caveat")).to_contain_text("Only 3 people")
    await expect(lead.test_id("likert-bar")).to_have_count(3)
    await expect(lead.page.locator(f'[data-testid="likert-bar"][data-share="1"]')).to_have_count(2)  # accuracy and balance

    await close(lead, *people)


async def test_timers_run_on_the_servers_clock_for_a_skewed_page_and_a_late_joiner(browser: Browser, study: Study) -> None:
    s = study
    ravi = Person(s.server, "Ravi").join(s.invite(), "Ravi")
    mei = Person(s.server, "Mei").join(s.invite(), "Mei")
    lead = await facilitator_seat(browser, s)
    skewed = await cookie_seat(browser, s, ravi, skew_ms=3_600_000)  # an hour ahead
    assert await skewed.page.evaluate("Date.now() - new Date().getTime()") > 3_500_000

    await next_segment(lead, "top3", skewed)
    controls = lead.test_id("segment-timer-controls")
    await controls.get_by_test_id("timer-minutes").fill("2")
    await controls.get_by_test_id("timer-start").click()
    timer = skewed.test_id("segment-timer")
    await expect(timer).to_have_attribute("data-phase", "running", timeout=TIMEOUT_MS)
    await expect(timer.get_by_test_id("timer-time")).to_have_text(re.compile(r"^(2:00|1:5\d)$"))
    assert 110_000 <= await skewed.remaining_ms() <= 120_000
    await expect(timer).to_have_attribute("data-urgency", "calm")

    late = await cookie_seat(browser, s, mei)  # opens the page mid-segment
    await late.segment("top3")
    await expect(late.test_id("segment-timer")).to_have_attribute("data-phase", "running", timeout=TIMEOUT_MS)
    await expect(late.test_id("top3-form")).to_be_visible()
    first, second, third = await skewed.remaining_ms(), await late.remaining_ms(), await lead.remaining_ms()
    assert abs(first - second) <= 3_000 and abs(first - third) <= 3_000, (first, second, third)
    assert 100_000 <= second <= 120_000

    # Paused, everyone shows the same time left; +1 minute adds a minute; a 1-minute timer is in its last minute.
    await controls.get_by_test_id("timer-pause").click()
    for seat in (skewed, late):
        await expect(seat.test_id("segment-timer")).to_have_attribute("data-phase", "paused", timeout=TIMEOUT_MS)
    assert await skewed.remaining_ms() == await late.remaining_ms()
    paused = await late.remaining_ms()
    await controls.get_by_test_id("timer-extend").click()
    await expect(late.test_id("segment-timer")).to_have_attribute("data-remaining-ms", str(paused + 60_000), timeout=TIMEOUT_MS)
    await controls.get_by_test_id("timer-minutes").fill("1")
    await controls.get_by_test_id("timer-reset").click()
    await expect(late.test_id("segment-timer")).to_have_attribute("data-phase", "idle", timeout=TIMEOUT_MS)
    await controls.get_by_test_id("timer-start").click()
    for seat in (skewed, late):
        await expect(seat.test_id("segment-timer")).to_have_attribute("data-urgency", "warn", timeout=TIMEOUT_MS)

    await close(lead, skewed, late)



async def test_the_group_reshapes_its_attributes_and_edits_a_definition_at_the_same_time(browser: Browser, study: Study) -> None:
    s = study
    ravi = Person(s.server, "Ravi").join(s.invite(), "Ravi")
    lead = await facilitator_seat(browser, s)
    for segment in ("top3", "explore", "present", "discuss"):
        await next_segment(lead, segment)
    ravi_seat = await cookie_seat(browser, s, ravi)
    await ravi_seat.segment("discuss")

    # The facilitator adds attributes, one with a baseline item as its example.
    for name in ("Accuracy", "Fairness", "Balance", "Curiosity"):
        await lead.test_id("new-attribute-name").fill(name)
        await lead.test_id("new-attribute-definition").fill(f"{name} matters.")
        if name == "Accuracy":
            await lead.test_id("new-attribute-examples").select_option(index=0)
        await lead.test_id("create-attribute").click()
        await expect(ravi_seat.attribute(name)).to_be_visible(timeout=TIMEOUT_MS)
    await expect(ravi_seat.attribute("Accuracy").locator('[data-testid="example"][data-kind="baseline"]')).to_have_count(1)
    await expect(ravi_seat.attribute("Accuracy").get_by_test_id("example")).to_contain_text("Baseline: ")

    # Two people type in the same definition: a change before Ravi's caret does not move his typing.
    mine = ravi_seat.attribute("Accuracy").get_by_test_id("attribute-definition")
    theirs = lead.attribute("Accuracy").get_by_test_id("attribute-definition")
    await mine.click()
    await mine.press("Control+Home")
    await mine.press_sequentially("A")
    await expect(theirs).to_have_value("AAccuracy matters.", timeout=TIMEOUT_MS)
    await theirs.click()
    await theirs.press("Control+Home")
    await theirs.press_sequentially("Rule: ")
    await expect(mine).to_have_value("Rule: AAccuracy matters.", timeout=TIMEOUT_MS)
    await mine.press_sequentially("B")
    for box in (mine, theirs):
        await expect(box).to_have_value("Rule: ABAccuracy matters.", timeout=TIMEOUT_MS)

    # Rename (a participant), merge (the facilitator), split, set aside; the history keeps what happened.
    curiosity = ravi_seat.attribute("Curiosity")
    await curiosity.get_by_test_id("rename").locator("summary").click()
    await curiosity.get_by_test_id("rename-input").fill("Sparks curiosity")
    await curiosity.get_by_test_id("rename-button").click()
    await expect(lead.attribute("Sparks curiosity")).to_be_visible(timeout=TIMEOUT_MS)

    await lead.attribute("Fairness").get_by_test_id("attribute-select").check()
    await lead.attribute("Balance").get_by_test_id("attribute-select").check()
    await lead.test_id("merge-name").fill("Balanced and fair")
    await lead.test_id("merge-button").click()
    await expect(ravi_seat.attribute("Balanced and fair").get_by_test_id("attribute-definition")).to_have_value(
        "Fairness matters.\n\nBalance matters.", timeout=TIMEOUT_MS)

    sparks = ravi_seat.attribute("Sparks curiosity")
    await sparks.get_by_test_id("split").locator("summary").click()
    await sparks.get_by_test_id("split-names").fill("Curious questions\nWonder")
    await sparks.get_by_test_id("split-button").click()
    await expect(lead.attribute("Wonder")).to_be_visible(timeout=TIMEOUT_MS)
    await lead.attribute("Wonder").get_by_test_id("attribute-remove").click()
    await lead.attribute("Wonder").get_by_test_id("attribute-remove-confirm").click()

    for seat in (lead, ravi_seat):
        await expect(seat.test_id("attribute-name")).to_have_text(["Accuracy", "Balanced and fair", "Curious questions"], timeout=TIMEOUT_MS)
        await expect(seat.test_id("ranking-top3").locator('[data-place="1"] option')).to_have_text(
            ["—", "Accuracy", "Balanced and fair", "Curious questions"])
    retired = ravi_seat.test_id("retired")
    await retired.locator("summary").click()
    await expect(retired.get_by_test_id("retired-attribute")).to_have_count(4)  # fairness and balance (merged), curiosity (split), wonder (set aside)
    named_balance = ravi_seat.page.locator("strong", has_text=re.compile("^Balance$"))
    balance = retired.get_by_test_id("retired-attribute").filter(has=named_balance)
    await expect(balance).to_have_attribute("data-status", "merged")
    await expect(balance).to_contain_text("merged into Balanced and fair")
    await balance.get_by_test_id("attribute-history-button").click()
    await expect(balance.get_by_test_id("history-version")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(balance.get_by_test_id("history-version").nth(1)).to_have_attribute("data-op", "merge")

    await close(lead, ravi_seat)
