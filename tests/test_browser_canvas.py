"""End to end in Debian chromium: the semantic canvas, /canvas/, shared live by a group.

One real server for the module (the packaged embedding model loads once), a facilitator with a
study, and a fresh group per story so that each story has its own board. Participants and observers
join by invite (over the API) and open the canvas in their own browser contexts with their session
cookie; the facilitator opens `/canvas/?study=…&group=…`.

The stories: a label written on one participant's page appears, placed, on the other's; a card one
participant drags moves on the other's page; search marks the matching cards, counts them and goes to
the next; the facilitator brings everyone to their view; a suggestion outline around near-duplicates
appears for both and, dismissed by one, goes for the other too (and comes back with "show dismissed");
an observer sees the cards but has no label field and cannot move a card; a Reflect code, once released,
is a card whose detail shows the excerpts behind it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from calma.access.sessions import SESSION_COOKIE
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.browser import chromium, collect_errors
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PLACE_TIMEOUT_MS = 30_000  # the first label of a server loads the embedding model
FACILITATOR = ("lena@example.org", "Lena", "lena's long facilitator password")

_groups = itertools.count(1)


@dataclass
class CanvasStudy:
    server: ServerProcess
    facilitator: Person
    study: str

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    def group(self) -> str:
        """A new group: a board of its own."""
        answer = self.facilitator.ok("POST", self.path("/groups"), {"name": f"Group {next(_groups)}"}, status=201)
        return str(answer["id"])

    def join(self, group: str, name: str, role: str = "participant") -> Person:
        invite = self.facilitator.ok("POST", self.path("/invites"), {"group_id": group, "role": role}, status=201)
        return Person(self.server, name).join(invite["token"], name)

    def label(self, person: Person, text: str, group: str | None = None) -> dict[str, Any]:
        """Write a label on the canvas over the API, as the page does; the placed card."""
        body: dict[str, Any] = {"text": text} if group is None else {"text": text, "group_id": group}
        card: dict[str, Any] = person.ok("POST", self.path("/canvas/labels"), body, status=201)["card"]
        return card


@pytest.fixture(scope="module")
def canvas_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CanvasStudy]:
    server = ServerProcess(tmp_path_factory.mktemp("canvas") / "node")
    server.start()
    try:
        create_facilitator(server.data_dir, *FACILITATOR)
        facilitator = Person(server, "facilitator").sign_in(FACILITATOR[0], FACILITATOR[2])
        study = facilitator.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
        yield CanvasStudy(server, facilitator, study)
    finally:
        server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("canvas/index.html") as browser:
        yield browser


@dataclass
class CanvasPage:
    context: BrowserContext
    page: Page
    errors: list[str]

    @property
    def world(self) -> Locator:
        return self.page.get_by_test_id("canvas-world")

    def card(self, text: str) -> Locator:
        return self.page.get_by_test_id("card").filter(has_text=text)

    def card_id(self, card_id: str) -> Locator:
        return self.page.locator(f'[data-testid="card"][data-card-id="{card_id}"]')

    def outline(self, hint: str) -> Locator:
        return self.page.locator(f'[data-testid="hint-outline"][data-hint-id="{hint}"]')

    async def view(self) -> tuple[str | None, str | None, str | None]:
        world = self.world
        return (await world.get_attribute("data-view-x"), await world.get_attribute("data-view-y"),
                await world.get_attribute("data-view-zoom"))


async def open_canvas(browser: Browser, study: CanvasStudy, person: Person, query: str = "") -> CanvasPage:
    """`person` opens the canvas in a browser context of their own; it is ready and following the session."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    assert person.session is not None
    await context.add_cookies([{"name": SESSION_COOKIE, "value": person.session, "url": study.server.http_url}])
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/canvas/{query}")
    await expect(page.locator("body")).to_have_attribute("data-canvas-ready", "1", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("canvas-status")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("canvas")).to_have_attribute("data-follow", "live", timeout=TIMEOUT_MS)
    return CanvasPage(context, page, errors)


async def close(*pages: CanvasPage) -> None:
    for p in pages:
        assert p.errors == [], p.errors
        await p.context.close()


async def next_frame(page: Page) -> None:
    """Until the page has drawn its next frame (the canvas writes what changed once per frame)."""
    await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))")


def js_round(value: float) -> str:
    """Math.round, as the page rounds its view for data-view-x/-y."""
    return str(math.floor(value + 0.5))


async def test_a_label_written_on_one_page_appears_placed_on_the_other(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    bo = canvas_study.join(group, "Bo")
    a = await open_canvas(browser, canvas_study, asha)
    b = await open_canvas(browser, canvas_study, bo)
    await expect(b.page.get_by_test_id("card-count")).to_have_attribute("data-count", "0")

    await a.page.get_by_test_id("new-label-input").fill("curious about the past")
    await a.page.get_by_test_id("new-label-submit").click()
    await expect(a.page.get_by_test_id("new-label-input")).to_have_value("", timeout=PLACE_TIMEOUT_MS)
    await expect(a.page.get_by_test_id("new-label-error")).to_have_text("")

    card = b.card("curious about the past")
    await expect(card).to_be_visible(timeout=TIMEOUT_MS)
    await expect(b.page.get_by_test_id("card-count")).to_have_attribute("data-count", "1")
    x, y = await card.get_attribute("data-x"), await card.get_attribute("data-y")
    assert x is not None and y is not None
    assert math.isfinite(float(x)) and math.isfinite(float(y))
    # Both pages show it at the same place on the board.
    await expect(a.card("curious about the past")).to_have_attribute("data-x", x)
    await expect(a.card("curious about the past")).to_have_attribute("data-y", y)

    # Clicking it opens the detail: its text and who wrote it (or that it is anonymous).
    await card.click()
    detail = b.page.get_by_test_id("card-detail")
    await expect(detail).to_be_visible()
    await expect(detail.get_by_test_id("detail-title")).to_have_text("curious about the past")
    await expect(detail).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    await expect(detail.get_by_test_id("detail-authors")).to_have_text("Anonymous")  # the pilot keeps the canvas anonymous

    # A label the server refuses (too long) shows the server's message and keeps the text.
    await a.page.get_by_test_id("new-label-input").evaluate("(el) => { el.maxLength = 1000 }")
    await a.page.get_by_test_id("new-label-input").fill("x" * 201)
    a.errors.clear()
    await a.page.get_by_test_id("new-label-submit").click()
    await expect(a.page.get_by_test_id("new-label-error")).not_to_have_text("", timeout=TIMEOUT_MS)
    await expect(a.page.get_by_test_id("new-label-input")).to_have_value("x" * 201)
    # Chromium logs the refused request (a 4xx) as a console error; nothing else went wrong.
    assert all("Failed to load resource" in e for e in a.errors), a.errors
    a.errors.clear()
    await close(a, b)


async def test_a_card_dragged_on_one_page_moves_on_the_other(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    bo = canvas_study.join(group, "Bo")
    placed = canvas_study.label(asha, "respectful of every culture")
    a = await open_canvas(browser, canvas_study, asha)
    b = await open_canvas(browser, canvas_study, bo)

    on_a = a.card_id(placed["id"])
    on_b = b.card_id(placed["id"])
    await expect(on_b).to_be_visible()
    x0, y0 = await on_b.get_attribute("data-x"), await on_b.get_attribute("data-y")
    await expect(on_a).to_have_attribute("data-x", x0 or "")

    box = await on_b.bounding_box()
    assert box is not None
    start_x, start_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await b.page.mouse.move(start_x, start_y)
    await b.page.mouse.down()
    await b.page.mouse.move(start_x + 150, start_y + 90, steps=12)
    await b.page.mouse.up()
    await next_frame(b.page)  # the release wrote the last position; the page shows it on its next frame

    await expect(on_b).not_to_have_attribute("data-x", x0 or "", timeout=TIMEOUT_MS)
    x1, y1 = await on_b.get_attribute("data-x"), await on_b.get_attribute("data-y")
    assert x1 is not None and y1 is not None and x0 is not None and y0 is not None
    zoom = float(await b.world.get_attribute("data-view-zoom") or "1")
    assert float(x1) - float(x0) == pytest.approx(150 / zoom, abs=2 / zoom + 0.2)
    assert float(y1) - float(y0) == pytest.approx(90 / zoom, abs=2 / zoom + 0.2)
    await expect(on_a).to_have_attribute("data-x", x1, timeout=TIMEOUT_MS)
    await expect(on_a).to_have_attribute("data-y", y1)
    # The drag was a move, not a click: no detail opened.
    await expect(b.page.get_by_test_id("card-detail")).to_be_hidden()
    await close(a, b)


async def test_search_marks_counts_and_goes_to_matches(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    for text in ("curious about the past", "fair to every student", "sparks curiosity", "respectful tone"):
        canvas_study.label(asha, text)
    a = await open_canvas(browser, canvas_study, asha)
    await expect(a.page.get_by_test_id("card-count")).to_have_attribute("data-count", "4")
    count = a.page.get_by_test_id("search-count")
    await expect(count).to_be_hidden()

    search = a.page.get_by_test_id("search-input")
    await search.fill("CURIO")
    await expect(count).to_have_text("2 matches")
    matches = a.page.locator('[data-testid="card"].cv-match')
    await expect(matches).to_have_count(2)
    await expect(a.card("fair to every student")).not_to_have_class(re.compile(r"\bcv-match\b"))

    # Enter goes to the first match in reading order (top to bottom): the view centres on it.
    ys = {t: float(await a.card(t).get_attribute("data-y") or "0") for t in ("curious about the past", "sparks curiosity")}
    first = min(ys, key=lambda t: ys[t])
    await search.press("Enter")
    target = a.card(first)
    await expect(target).to_have_class(re.compile(r"\bcv-current\b"))
    x = float(await target.get_attribute("data-x") or "0")
    await expect(a.world).to_have_attribute("data-view-x", js_round(x), timeout=TIMEOUT_MS)
    await expect(a.world).to_have_attribute("data-view-y", js_round(ys[first]))

    await search.fill("nothing like this")
    await expect(count).to_have_text("0 matches")
    await expect(matches).to_have_count(0)
    await search.fill("")
    await expect(count).to_be_hidden()
    await close(a)


async def test_the_facilitator_brings_everyone_to_their_view(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    canvas_study.label(asha, "age-appropriate language")
    canvas_study.label(asha, "honest about uncertainty")
    lead = await open_canvas(browser, canvas_study, canvas_study.facilitator, f"?study={canvas_study.study}&group={group}")
    a = await open_canvas(browser, canvas_study, asha)
    await expect(a.page.get_by_test_id("bring-everyone")).to_be_hidden()  # only the facilitator steers
    before = await a.view()

    # The facilitator pans away (keyboard on the canvas: instant) and brings everyone there.
    await lead.page.get_by_test_id("canvas-viewport").focus()
    for key in ("ArrowLeft", "ArrowLeft", "ArrowUp", "ArrowLeft"):
        await lead.page.keyboard.press(key)
    await next_frame(lead.page)  # the camera writes its view once per frame
    await expect(lead.world).not_to_have_attribute("data-view-x", before[0] or "")
    x, y, zoom = await lead.view()
    assert (x, y, zoom) != before
    bring = lead.page.get_by_test_id("bring-everyone")
    await expect(bring).to_be_enabled()
    await bring.click()
    await expect(lead.page.get_by_test_id("view-note")).to_have_text("You brought everyone here")

    await expect(a.world).to_have_attribute("data-view-x", x or "", timeout=TIMEOUT_MS)
    await expect(a.world).to_have_attribute("data-view-y", y or "")
    await expect(a.world).to_have_attribute("data-view-zoom", zoom or "")
    await expect(a.page.get_by_test_id("view-note")).to_contain_text("brought everyone here")

    # Someone who opens the canvas right after lands there too (a view set in the last 10 s).
    bo = canvas_study.join(group, "Bo")
    b = await open_canvas(browser, canvas_study, bo)
    await expect(b.world).to_have_attribute("data-view-x", x or "", timeout=TIMEOUT_MS)
    await expect(b.world).to_have_attribute("data-view-y", y or "")
    await close(lead, a, b)


async def test_a_suggestion_outline_appears_for_both_and_a_dismissal_hides_it_for_both(
    browser: Browser, canvas_study: CanvasStudy
) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    bo = canvas_study.join(group, "Bo")
    a = await open_canvas(browser, canvas_study, asha)
    b = await open_canvas(browser, canvas_study, bo)
    canvas_study.label(asha, "honesty")
    canvas_study.label(bo, "being honest")

    item = a.page.get_by_test_id("hint-item").filter(has_text="“honesty”").filter(has_text="“being honest”").first
    await expect(item).to_be_visible(timeout=PLACE_TIMEOUT_MS)
    await expect(item).to_have_attribute("data-status", "open")
    hint = await item.get_attribute("data-hint-id")
    assert hint is not None
    await expect(a.outline(hint)).to_have_attribute("data-status", "open")
    await expect(b.outline(hint)).to_be_visible(timeout=TIMEOUT_MS)
    await expect(b.outline(hint)).to_have_attribute("data-status", "open")

    # Asha opens the suggestion and dismisses it: it goes from both canvases; nothing was merged.
    await item.click()
    decision = a.page.get_by_test_id("hint-detail")
    await expect(decision).to_have_attribute("data-hint-id", hint)
    await decision.get_by_test_id("hint-dismiss").click()
    await expect(a.outline(hint)).to_have_count(0)
    await expect(b.outline(hint)).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(b.card("honesty")).to_be_visible()
    await expect(b.card("being honest")).to_be_visible()

    # "Show dismissed" brings it back, marked dismissed and by whom; Bo accepts it instead.
    await b.page.get_by_test_id("show-dismissed").check()
    await expect(b.outline(hint)).to_have_attribute("data-status", "dismissed")
    b_item = b.page.locator(f'[data-testid="hint-item"][data-hint-id="{hint}"]')
    await expect(b_item).to_contain_text("Dismissed by Asha")
    await b_item.click()
    await b.page.get_by_test_id("hint-detail").get_by_test_id("hint-accept").click()
    await expect(b.outline(hint)).to_have_attribute("data-status", "accepted")
    await expect(a.outline(hint)).to_have_attribute("data-status", "accepted", timeout=TIMEOUT_MS)
    await close(a, b)


async def test_an_observer_sees_the_cards_but_cannot_write_or_move_them(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    asha = canvas_study.join(group, "Asha")
    olu = canvas_study.join(group, "Olu", role="observer")
    placed = canvas_study.label(asha, "inclusive of women in history")
    a = await open_canvas(browser, canvas_study, asha)
    o = await open_canvas(browser, canvas_study, olu)

    card = o.card_id(placed["id"])
    await expect(card).to_be_visible()
    await expect(card).to_have_attribute("data-draggable", "false")
    await expect(o.page.get_by_test_id("new-label-input")).to_have_count(0)
    await expect(o.page.get_by_test_id("canvas")).to_have_attribute("data-readonly", "true")
    x0 = await card.get_attribute("data-x")
    view0 = await o.view()

    # Dragging the card pans the canvas instead (the view moves); the card stays where it is.
    box = await card.bounding_box()
    assert box is not None
    sx, sy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await o.page.mouse.move(sx, sy)
    await o.page.mouse.down()
    await o.page.mouse.move(sx + 120, sy + 60, steps=8)
    await o.page.mouse.up()
    await expect(o.world).not_to_have_attribute("data-view-x", view0[0] or "")
    await expect(card).to_have_attribute("data-x", x0 or "")
    await expect(a.card_id(placed["id"])).to_have_attribute("data-x", x0 or "")

    # A click opens the card's detail, read-only.
    await card.click()
    await expect(o.page.get_by_test_id("card-detail")).to_be_visible()
    await expect(o.page.get_by_test_id("detail-title")).to_have_text("inclusive of women in history")
    await close(a, o)


async def test_a_released_reflect_code_is_a_card_with_the_excerpts_behind_it(browser: Browser, canvas_study: CanvasStudy) -> None:
    group = canvas_study.group()
    canvas_study.facilitator.ok("PUT", canvas_study.path("/stage-overrides"), {"group_id": group, "stage": "reflect", "state": "open"})
    asha = canvas_study.join(group, "Asha")
    bo = canvas_study.join(group, "Bo")
    item = next(i for i in asha.ok("GET", canvas_study.path("/reflect"))["items"] if i["kind"] == "baseline")
    quote = item["text"][:24]
    for n, person in enumerate((asha, bo)):
        op = {"kind": "annotation.create", "id": f"{0xCA7A5 + n:016x}", "target_kind": "baseline", "target_id": item["id"],
              "start": 0, "end": len(quote), "quote": quote, "codes": ["Evenhanded"]}
        answer = person.ok("POST", canvas_study.path("/reflect/ops"), {"ops": [{"op_id": f"{0xCA7B5 + n:016x}", "op": op}]})
        assert answer["outcomes"][0]["status"] == "applied", answer
    canvas_study.facilitator.ok("PUT", canvas_study.path("/reflect/settings"), {"codes_released": True})
    canvas_study.facilitator.ok("POST", canvas_study.path("/canvas/refresh"), {"group_id": group})

    a = await open_canvas(browser, canvas_study, asha)
    card = a.card("Evenhanded")
    await expect(card).to_have_attribute("data-kind", "code", timeout=PLACE_TIMEOUT_MS)
    await expect(card).to_have_attribute("data-people", "2")
    await card.click()
    detail = a.page.get_by_test_id("card-detail")
    await expect(detail).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    await expect(detail.get_by_test_id("detail-meta")).to_have_text("Reflect code · used 2 times by 2 people")
    excerpts = detail.get_by_test_id("excerpt")
    await expect(excerpts.first).to_contain_text(quote.strip())
    await expect(excerpts.first).to_have_attribute("data-source", "baseline")
    await close(a)
