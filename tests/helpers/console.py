"""The facilitator's console in chromium, for browser tests: a page, signing in, a study, a group."""

from __future__ import annotations

import re

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.helpers.browser import collect_errors
from tests.helpers.server import ServerProcess

TIMEOUT_MS = 10_000
LEAD = ("lead@example.org", "Lena Facilitator", "a long facilitator password")  # email, name, password


async def new_page(browser: Browser, **options: object) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh browser context and page, and the page's console errors as they happen."""
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    page = await context.new_page()
    return context, page, collect_errors(page)


async def sign_in(page: Page, server: ServerProcess, who: tuple[str, str, str] = LEAD) -> None:
    email, name, password = who
    await page.goto(f"{server.http_url}/console/")
    await page.get_by_test_id("signin-email").fill(email)
    await page.get_by_test_id("signin-password").fill(password)
    await page.get_by_test_id("signin-button").click()
    await expect(page.get_by_test_id("signed-in-as")).to_contain_text(name, timeout=TIMEOUT_MS)


async def create_study(page: Page, name: str) -> str:
    """Create a study from the pilot template; its id."""
    await page.get_by_test_id("new-study-name").fill(name)
    await page.get_by_test_id("create-study").click()
    await expect(page.get_by_test_id("study-title")).to_have_text(name, timeout=TIMEOUT_MS)
    await expect(page).to_have_url(re.compile(r"/console/\?study=[0-9a-f]{16}$"), timeout=TIMEOUT_MS)
    return page.url.rsplit("=", 1)[1]


async def add_group(page: Page, name: str) -> str:
    """Add a group; its id."""
    await page.get_by_test_id("group-name").fill(name)
    await page.get_by_test_id("create-group").click()
    item = page.get_by_test_id("group-item").filter(has_text=name)
    await expect(item).to_be_visible(timeout=TIMEOUT_MS)
    group_id = await item.get_attribute("data-group-id")
    assert group_id is not None
    return group_id
