"""Invites on the open internet: one link must not mint an army of participants.

The attack: a facilitator shares one invite link and someone scripts POST /api/join with it, fifty
times in parallel, to stuff the group's votes. Now the console's default link is *personal*: it is
one person, and opening it again (another browser, another device) resumes that same person. A
link for many people is an explicit *group* link with a maximum number of uses, enforced by one
guarded UPDATE, so parallel joins cannot exceed it. A personal link is re-issued from the console:
the old token stops working and whoever opened it is signed out.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from calma.access.sessions import SESSION_COOKIE
from tests.helpers.admin import admin_token
from tests.helpers.api_client import Person
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("invites") / "data") as node:
        yield node


@pytest.fixture
def lena(server: ServerProcess) -> Person:
    return sign_in_lead(server)


def new_group(lena: Person, name: str = "Teachers") -> tuple[str, str]:
    study = lena.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": name}, status=201)["id"]
    return study, group


def invite(lena: Person, study: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = lena.ok("POST", f"/api/studies/{study}/invites", body, status=201)
    return created


def join(server: ServerProcess, token: str, name: str) -> httpx.Response:
    """One fresh browser (its own cookie jar) opening the link."""
    return httpx.post(f"{server.http_url}/api/join", json={"token": token, "display_name": name}, timeout=60)


def join_in_parallel(server: ServerProcess, token: str, count: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda index: join(server, token, f"Bot {index}"), range(count)))


def participants(lena: Person, study: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = lena.ok("GET", f"/api/studies/{study}/participants")["participants"]
    return found


def listed(lena: Person, study: str, invite_id: str) -> dict[str, Any]:
    return next(i for i in lena.ok("GET", f"/api/studies/{study}/invites")["invites"] if i["id"] == invite_id)


def test_fifty_parallel_joins_on_a_group_link_for_ten_make_exactly_ten_participants(
    server: ServerProcess, lena: Person
) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group, "kind": "group", "max_uses": 10})
    assert (link["kind"], link["max_uses"], link["uses"], link["status"]) == ("group", 10, 0, "active")

    answers = join_in_parallel(server, link["token"], 50)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 10 + [409] * 40, statuses
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/api/problems/conflict"
    assert "maximum of 10 people" in refused.json()["detail"]
    joined = {a.json()["participant_id"] for a in answers if a.status_code == 201}
    assert len(joined) == 10
    assert {p["id"] for p in participants(lena, study)} == joined
    # The console shows the link used up: 10 of 10.
    shown = listed(lena, study, link["id"])
    assert (shown["uses"], shown["max_uses"], shown["status"]) == (10, 10, "used-up")


def test_the_default_link_is_personal_and_opening_it_anywhere_resumes_the_same_participant(
    server: ServerProcess, lena: Person
) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group, "label": "Ravi (ravi@example.org)"})
    assert (link["kind"], link["max_uses"], link["label"]) == ("personal", None, "Ravi (ravi@example.org)")

    laptop = join(server, link["token"], "Ravi")
    assert laptop.status_code == 201, laptop.text
    ravi = laptop.json()["participant_id"]
    # The same link on a new laptop (another cookie jar): the same participant, under the first name.
    new_laptop = join(server, link["token"], "Someone else")
    assert new_laptop.status_code == 201, new_laptop.text
    assert (new_laptop.json()["participant_id"], new_laptop.json()["name"]) == (ravi, "Ravi")
    assert new_laptop.cookies[SESSION_COOKIE] != laptop.cookies[SESSION_COOKIE]
    # Fifty scripted opens still make one person.
    assert {a.json()["participant_id"] for a in join_in_parallel(server, link["token"], 50)} == {ravi}
    assert [p["id"] for p in participants(lena, study)] == [ravi]
    shown = listed(lena, study, link["id"])
    assert (shown["participant_id"], shown["status"]) == (ravi, "active")


def test_parallel_first_opens_of_a_personal_link_make_one_participant(server: ServerProcess, lena: Person) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group})
    answers = join_in_parallel(server, link["token"], 20)
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["participant_id"] for a in answers}) == 1
    assert len(participants(lena, study)) == 1


def test_reissuing_a_personal_link_revokes_the_old_token_and_signs_its_holders_out(
    server: ServerProcess, lena: Person
) -> None:
    study, group = new_group(lena)
    old = invite(lena, study, {"group_id": group, "label": "Mei"})
    mei = Person(server, "Mei").join(old["token"], "Mei")
    intruder = Person(server, "intruder").join(old["token"], "Intruder")  # the link leaked
    assert intruder.me["participant_id"] == mei.me["participant_id"]

    new = lena.ok("POST", f"/api/studies/{study}/invites/{old['id']}/reissue", status=201)
    assert new["token"] != old["token"] and new["id"] != old["id"]
    assert (new["kind"], new["label"], new["participant_id"]) == ("personal", "Mei", mei.me["participant_id"])
    assert listed(lena, study, old["id"])["status"] == "revoked"

    gone = join(server, old["token"], "Intruder")
    assert gone.status_code == 401 and gone.json()["type"] == "/api/problems/token-revoked"
    assert intruder.get("/api/me").status_code == 401  # signed out with the old link
    again = Person(server, "Mei again").join(new["token"], "Mei")
    assert again.me["participant_id"] == mei.me["participant_id"]
    assert len(participants(lena, study)) == 1


def test_a_revoked_group_link_admits_nobody_and_a_reissued_one_keeps_its_count(
    server: ServerProcess, lena: Person
) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group, "kind": "group", "max_uses": 3})
    assert join(server, link["token"], "A").status_code == 201
    new = lena.ok("POST", f"/api/studies/{study}/invites/{link['id']}/reissue", status=201)
    assert (new["kind"], new["max_uses"], new["uses"]) == ("group", 3, 1)
    assert join(server, link["token"], "B").status_code == 401
    assert [join(server, new["token"], n).status_code for n in ("B", "C", "D")] == [201, 201, 409]
    assert len(participants(lena, study)) == 3


def test_a_group_observer_link_counts_its_uses(server: ServerProcess, lena: Person) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group, "role": "observer", "kind": "group", "max_uses": 2})
    assert [join(server, link["token"], f"O{i}").status_code for i in range(3)] == [201, 201, 409]
    assert participants(lena, study) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "group"}, "max_uses"),  # a group link needs its maximum
        ({"kind": "personal", "max_uses": 5}, "max_uses"),  # a personal link is one person
        ({"kind": "group", "max_uses": 0}, "max_uses"),
        ({"kind": "group", "max_uses": 10_001}, "max_uses"),
        ({"kind": "group", "max_uses": "many"}, "max_uses"),
        ({"kind": "everyone"}, "kind"),
        ({"label": "x" * 201}, "label"),
        ({"uses": 0}, "uses"),  # the count is the server's
    ],
)
def test_malformed_invite_requests_are_refused(lena: Person, body: dict[str, Any], field: str) -> None:
    study, group = new_group(lena)
    response = lena.post(f"/api/studies/{study}/invites", {"group_id": group, **body})
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()


def test_only_the_studys_facilitator_reissues(server: ServerProcess, lena: Person) -> None:
    study, group = new_group(lena)
    link = invite(lena, study, {"group_id": group})
    participant = Person(server, "P").join(link["token"], "P")
    path = f"/api/studies/{study}/invites/{link['id']}/reissue"
    assert Person(server, "anonymous").post(path).status_code == 401
    assert participant.post(path).status_code == 403
    assert lena.post(f"/api/studies/{study}/invites/0123456789abcdef/reissue").status_code == 404
    assert listed(lena, study, link["id"])["status"] == "active"


def test_calma_admin_tokens_keep_working(server: ServerProcess, lena: Person) -> None:
    study, group = new_group(lena)
    token = admin_token(server.data_dir, study=study, role="participant", group=group, name="Asha")
    asha = Person(server, "Asha").with_token(token)
    assert asha.me["name"] == "Asha"
    # Opening it as a link resumes Asha too, in any number of browsers.
    assert {join(server, token, "x").json()["participant_id"] for _ in range(2)} == {asha.me["participant_id"]}
    facilitator = admin_token(server.data_dir, study=study, role="facilitator")
    assert Person(server, "ops").with_token(facilitator).me["role"] == "facilitator"
    refused = lena.post(f"/api/studies/{study}/invites/{facilitator.split('.')[1]}/reissue")
    assert refused.status_code == 409, refused.text


def test_the_preview_says_whether_a_link_is_personal(server: ServerProcess, lena: Person) -> None:
    study, group = new_group(lena)
    personal = invite(lena, study, {"group_id": group})
    shared = invite(lena, study, {"group_id": group, "kind": "group", "max_uses": 30})
    anonymous = Person(server, "anonymous")
    assert anonymous.ok("GET", f"/api/join?token={personal['token']}")["kind"] == "personal"
    assert anonymous.ok("GET", f"/api/join?token={shared['token']}")["kind"] == "group"


def test_old_links_are_group_links_without_a_maximum_after_the_migration(tmp_path: Path) -> None:
    """A database from before migration 12: its links keep admitting people, counted, as group links."""
    import sqlite3

    from calma.store.migrations import MIGRATIONS
    from calma.store.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)")
    for migration in MIGRATIONS:
        if migration.version >= 12:
            break
        for statement in migration.sqlite.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (migration.version, migration.description))
    conn.execute("INSERT INTO facilitators VALUES ('f', 'f@x', 'F', 'h', 0)")
    conn.execute(
        "INSERT INTO studies (id, owner_id, name, context_name, context_description, system_prompt, models, orientation,"
        " training_name, training_system_prompt, training_examples, stage_order, created_at, updated_at)"
        " VALUES ('s', 'f', 'S', '', '', '', '[]', '', '', '', '[]', '[]', 0, 0)"
    )
    conn.execute("INSERT INTO study_groups (id, study_id, name, created_at) VALUES ('g', 's', 'G', 0)")
    conn.execute("INSERT INTO invites (id, study_id, group_id, role, expires_at, created_at) VALUES ('i', 's', 'g', 'participant', 9e9, 0)")
    conn.execute("INSERT INTO participants VALUES ('p', 's', 'g', 'P', 'i', 0)")
    conn.commit()
    conn.close()

    import anyio

    async def migrate() -> None:
        store = SQLiteStore(path)
        await store.open()
        await store.close()

    anyio.run(migrate)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT kind, max_uses, uses FROM invites").fetchall() == [("group", None, 1)]
    conn.close()


# -- the console: personal by default, group links explicit with their count, re-issue ----------


@pytest.mark.browser
async def test_the_console_makes_personal_links_by_default_and_shows_group_links_uses(server: ServerProcess) -> None:
    from playwright.async_api import expect

    from tests.helpers.browser import chromium
    from tests.helpers.console import TIMEOUT_MS, add_group, create_study, new_page, sign_in
    from tests.helpers.lead import LEAD

    async with chromium("console/index.html") as browser:
        _, page, errors = await new_page(browser)
        await sign_in(page, server, LEAD)
        study = await create_study(page, "Invites in the console")
        group = await add_group(page, "Teachers")
        items = page.get_by_test_id("invite-item")

        # The default: a link for one person, labelled with who it is for.
        await expect(page.get_by_test_id("invite-max-uses")).to_be_hidden()
        await page.get_by_test_id("invite-label").fill("Ravi")
        await page.get_by_test_id("create-invite").click()
        await expect(items).to_have_count(1, timeout=TIMEOUT_MS)
        personal = items.first
        await expect(personal.get_by_test_id("invite-uses")).to_have_text("For Ravi · not opened yet")
        link = await personal.get_by_test_id("invite-link").input_value()
        ravi = join(server, link.split("token=")[1], "Ravi")
        assert ravi.status_code == 201

        # A group link is a choice, with its maximum; the console shows uses so far / maximum.
        await page.get_by_test_id("invite-kind").select_option("group")
        await expect(page.get_by_test_id("invite-max-uses")).to_be_visible()
        await page.get_by_test_id("invite-max-uses").fill("3")
        await page.get_by_test_id("create-invite").click()
        await expect(items).to_have_count(2, timeout=TIMEOUT_MS)
        group_link = items.first
        await expect(group_link.get_by_test_id("invite-uses")).to_have_text("Group link · 0 / 3 joined")
        token = (await group_link.get_by_test_id("invite-link").input_value()).split("token=")[1]
        assert [join(server, token, f"G{i}").status_code for i in range(4)] == [201, 201, 201, 409]

        # Reloaded: the personal link is still listed (now joined), the group link used up.
        await page.reload()
        await expect(items).to_have_count(2, timeout=TIMEOUT_MS)
        await expect(items.nth(1).get_by_test_id("invite-uses")).to_have_text("For Ravi · joined")
        await expect(items.first).to_have_attribute("data-status", "used-up")
        await expect(items.first.get_by_test_id("invite-uses")).to_have_text("Group link · 3 / 3 joined")

        # Re-issuing Ravi's link: a new active link first, the old one revoked.
        await items.nth(1).get_by_test_id("reissue-invite").click()
        await expect(items).to_have_count(3, timeout=TIMEOUT_MS)
        await expect(items.first).to_have_attribute("data-status", "active")
        await expect(items.first.get_by_test_id("invite-uses")).to_have_text("For Ravi · joined")
        await expect(page.locator('[data-testid="invite-item"][data-status="revoked"]')).to_have_count(1)
        fresh = (await items.first.get_by_test_id("invite-link").input_value()).split("token=")[1]
        assert join(server, fresh, "x").json()["participant_id"] == ravi.json()["participant_id"]
        assert join(server, link.split("token=")[1], "x").status_code == 401
        assert study and group and errors == []


def test_the_limits_hold_on_postgresql_too(tmp_path: Path, postgres_url: str) -> None:
    """Row locks, not SQLite's single writer, serialise the guarded UPDATEs on PostgreSQL."""
    from tests.helpers.admin import calma_admin
    from tests.helpers.lead import LEAD

    node = ServerProcess(tmp_path / "data", extra_args=["--database", postgres_url])
    node.start()
    try:
        calma_admin(node.data_dir, "create-facilitator", "--database", postgres_url, "--email", LEAD[0],
                    "--name", LEAD[1], "--password-stdin", stdin=LEAD[2] + "\n")  # fmt: skip
        lena = sign_in_lead(node)
        study, group = new_group(lena)
        shared = invite(lena, study, {"group_id": group, "kind": "group", "max_uses": 10})
        assert sorted(a.status_code for a in join_in_parallel(node, shared["token"], 50)) == [201] * 10 + [409] * 40
        other = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "Others"}, status=201)["id"]
        personal = invite(lena, study, {"group_id": other})
        opened = join_in_parallel(node, personal["token"], 20)
        assert {a.status_code for a in opened} == {201}, [a.text for a in opened if a.status_code != 201][:2]
        assert len({a.json()["participant_id"] for a in opened}) == 1
        assert len(participants(lena, study)) == 11
    finally:
        node.stop()
