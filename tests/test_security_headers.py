"""Pages and endpoints on the open internet: security headers everywhere, 'sign out everywhere', limited check attempts.

An outsider who frames the console (clickjacking), a page that would run an injected inline script, a
browser sniffing a participant's text as a script, an invite token leaking through the Referer header:
every response of a real server carries the headers that stop them, and every page of the built client
still works under its Content-Security-Policy in chromium, without a single violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from calma.access.sessions import SESSION_COOKIE
from calma.api.security_headers import PAGE_POLICY
from tests.helpers.admin import admin_token
from tests.helpers.api_client import Person
from tests.helpers.browser import CLIENT_DIST, chromium
from tests.helpers.console import LEAD, TIMEOUT_MS, add_group, create_study, new_page, sign_in
from tests.helpers.familiarize import RIGHT_ANSWERS, STRUCTURE_INSTEAD, PilotStudy
from tests.helpers.server import ServerProcess
from tests.helpers.study_world import World, build_world

PAGES = ["/", "/console/", "/join/", "/me/", "/familiarize/", "/interact/", "/reflect/", "/canvas/", "/discuss/", "/ab/"]
SAME_EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    node = ServerProcess(tmp_path_factory.mktemp("headers") / "data")
    node.start()
    try:
        yield build_world(node)
    finally:
        node.stop()


def assert_protected(response: httpx.Response, where: str) -> str:
    """The common headers are there; returns the response's Content-Security-Policy."""
    for name, value in SAME_EVERYWHERE.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    policy = response.headers.get("content-security-policy")
    assert policy is not None, where
    if response.headers.get("content-type", "").startswith("text/html") and policy == PAGE_POLICY:
        # Our own pages may frame each other (Discuss shows the canvas), no other site may frame them.
        assert "frame-ancestors 'self'" in policy and response.headers.get("x-frame-options") == "SAMEORIGIN", where
    else:
        assert "frame-ancestors 'none'" in policy and response.headers.get("x-frame-options") == "DENY", (where, policy)
    return policy


def test_every_page_and_endpoint_carries_the_security_headers(world: World) -> None:
    server, owner = world.server, world.owner
    assert (CLIENT_DIST / "index.html").is_file(), "build the client first: npm run build --prefix client"
    asset = next((CLIENT_DIST / "assets").glob("*.js")).name

    for path in PAGES:
        response = httpx.get(server.http_url + path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html"), path
        policy = assert_protected(response, path)
        assert policy == PAGE_POLICY, (path, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy

    # Revalidating a cached page (304) must not replace the page's policy with another one.
    page = httpx.get(server.http_url + "/console/")
    revalidated = httpx.get(server.http_url + "/console/", headers={"If-None-Match": page.headers["etag"]})
    assert revalidated.status_code == 304 and "content-security-policy" not in revalidated.headers
    assert "x-frame-options" not in revalidated.headers

    others = [
        ("GET", f"/assets/{asset}", {}, 200),
        ("GET", "/no/such/page", {}, 404),
        ("GET", "/healthz", {}, 200),
        ("GET", "/metrics", {}, 200),
        ("GET", "/legal/NOTICE", {}, 200),
        ("GET", "/api/session", {}, 200),
        ("GET", "/api/openapi.json", {}, 200),
        ("GET", "/api/no-such-endpoint", {}, 404),
        ("GET", world.path("/api/studies/{S}"), {}, 401),
        ("GET", world.path("/api/studies/{S}"), owner.headers, 200),
        ("POST", "/api/session", {}, 422),
    ]
    for method, path, headers, status in others:
        response = httpx.request(method, server.http_url + path, headers=headers, json={} if method == "POST" else None)
        assert response.status_code == status, (path, response.status_code, response.text[:200])
        assert assert_protected(response, path) == "default-src 'none'; frame-ancestors 'none'", path

    # A page with a stricter policy of its own keeps it, and may not be framed either.
    report = httpx.get(server.http_url + world.path("/api/studies/{S}/outputs/report.html?group_id={GA}"), headers=owner.headers)
    assert report.status_code == 200, report.text[:300]
    assert assert_protected(report, "report.html").startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline'")


def test_a_facilitator_signs_out_everywhere_and_no_one_else_can(world: World) -> None:
    server = world.server
    ana_email, ana_password = "ana@example.org", "ana's long password"
    laptop = Person(server, "Ana's laptop").sign_in(ana_email, ana_password)
    phone = Person(server, "Ana's phone").sign_in(ana_email, ana_password)
    limited = Person(server, "a study-limited facilitator token").with_token(
        admin_token(server.data_dir, study=world.ids["S"], role="facilitator")
    )

    # Nobody but a facilitator signed in with her password may end her sessions.
    assert world.anonymous.post("/api/session/revoke-all").status_code == 401
    for person in (world.participant_a, world.observer, limited):
        refused = person.post("/api/session/revoke-all")
        assert refused.status_code == 403, (person.label, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert laptop.get("/api/session/revoke-all").status_code == 405
    assert laptop.post("/api/session/revoke-all", json={"junk": "x" * 10_000}).status_code in (200, 400, 413, 415, 422)
    # (if a body is not refused, the call counted: sign in again before the real one)
    laptop = Person(server, "Ana's laptop").sign_in(ana_email, ana_password)
    phone = Person(server, "Ana's phone").sign_in(ana_email, ana_password)

    ended = laptop.post("/api/session/revoke-all")
    assert ended.status_code == 200, ended.text
    assert ended.json()["sessions_ended"] >= 2
    assert SESSION_COOKIE in ended.headers["set-cookie"] and "Max-Age=0" in ended.headers["set-cookie"]
    for device in (laptop, phone, world.owner):
        assert device.get("/api/me").status_code == 401, device.label
    assert world.other_facilitator.get("/api/me").status_code == 200, "Bo's sessions are his own"
    assert world.participant_a.get("/api/me").status_code == 200
    world.owner = Person(server, "owner").sign_in(ana_email, ana_password)


@pytest.fixture
def pilot(tmp_path: Path) -> Iterator[PilotStudy]:
    node = ServerProcess(tmp_path / "data")
    node.start()
    try:
        yield PilotStudy(node)
    finally:
        node.stop()


def test_the_check_cannot_be_brute_forced_by_default(pilot: PilotStudy) -> None:
    """Without the facilitator setting anything, a participant gets 5 attempts at the check, not unlimited."""
    assert pilot.facilitator.ok("GET", pilot.path())["familiarize"]["max_attempts"] == 5
    blank = pilot.facilitator.ok("POST", "/api/studies", {"template": "blank", "name": "Blank"}, status=201)
    assert blank["familiarize"]["max_attempts"] == 5
    guesser = pilot.join("Guesser")
    for attempt in range(1, 6):
        outcome = guesser.ok("POST", pilot.path("/familiarize/check"), {"answers": STRUCTURE_INSTEAD})
        assert outcome["attempts"] == attempt and outcome["attempts_left"] == 5 - attempt
    refused = guesser.post(pilot.path("/familiarize/check"), {"answers": RIGHT_ANSWERS})
    assert refused.status_code == 409 and "all 5 attempts" in refused.json()["detail"]
    view = guesser.ok("GET", pilot.path("/familiarize"))
    assert view["check"]["max_attempts"] == 5 and view["check"]["attempts_left"] == 0


VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__csp ?? []")
    return found


async def test_every_page_works_in_chromium_without_a_policy_violation(tmp_path: Path) -> None:
    from tests.helpers.admin import create_facilitator

    node = ServerProcess(tmp_path / "data")
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        async with chromium(*(p.strip("/") + "/index.html" if p != "/" else "index.html" for p in PAGES)) as browser:
            context, console, errors = await new_page(browser)
            await context.add_init_script(VIOLATIONS)
            await sign_in(console, node)  # the console's scripts ran: signing in worked
            study_id = await create_study(console, "Policy study")
            group_id = await add_group(console, "Policy group")
            seen = {"/console/": await violations(console)}

            lena = Person(node, "Lena").sign_in(LEAD[0], LEAD[2])
            invite = lena.ok("POST", f"/api/studies/{study_id}/invites", {"group_id": group_id, "role": "participant"}, status=201)
            participant_context, participant, participant_errors = await new_page(browser)
            await participant_context.add_init_script(VIOLATIONS)
            await participant.goto(f"{node.http_url}/join/?token={invite['token']}")
            await participant.get_by_test_id("display-name").fill("Pia")
            await participant.get_by_test_id("join-button").click()
            await expect(participant).to_have_url(re.compile(r"/me/"), timeout=TIMEOUT_MS)  # the join page's scripts ran
            query = f"?study={study_id}&group={group_id}"
            for path in PAGES:
                page = console if path in ("/", "/canvas/", "/discuss/") else participant
                await page.goto(f"{node.http_url}{path}{query}", wait_until="networkidle")
                seen[path] = await violations(page)
            assert {path: found for path, found in seen.items() if found} == {}
            csp_messages = [e for e in errors + participant_errors if "Content Security Policy" in e]
            assert csp_messages == []
    finally:
        node.stop()


async def test_sign_out_everywhere_from_the_console_ends_the_other_devices_session(tmp_path: Path) -> None:
    from tests.helpers.admin import create_facilitator

    node = ServerProcess(tmp_path / "data")
    node.start()
    try:
        create_facilitator(node.data_dir, *LEAD)
        async with chromium("console/index.html") as browser:
            _, laptop, laptop_errors = await new_page(browser)
            _, library_pc, library_errors = await new_page(browser)
            await sign_in(laptop, node)
            await sign_in(library_pc, node)  # she forgot to sign out at the library

            await laptop.get_by_test_id("sign-out-everywhere").click()
            await expect(laptop.get_by_test_id("signin-form")).to_be_visible(timeout=TIMEOUT_MS)
            # A reload revalidates the cached page (304): it must keep the page's policy, not get the API's.
            await library_pc.reload()
            await expect(library_pc.get_by_test_id("signin-form")).to_be_visible(timeout=TIMEOUT_MS)
            assert laptop_errors == [] and library_errors == []
    finally:
        node.stop()
