"""Presence cannot be poisoned: the hub relays only awareness states that are JSON objects of bounded depth.

A stock client parses every state of an awareness update at once, so one
client's non-JSON state used to stop newcomers' browsers from seeing anyone.
The hub now closes the offender with 4400 and relays nothing of it; a newcomer
in chromium still sees who is present.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from pycrdt import create_awareness_message
from websockets.asyncio.client import connect

from tests.helpers import lib0
from tests.helpers.browser import chromium
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.test_awareness import PresencePeer

TIMEOUT_MS = 10_000


def awareness_frame(client_id: int, clock: int, state: str) -> bytes:
    update = lib0.var_uint(1) + lib0.var_uint(client_id) + lib0.var_uint(clock) + lib0.var_string(state)
    return create_awareness_message(update)


BAD_STATES = {
    "not JSON": "{user: Mallory",
    "a JSON array": "[1, 2, 3]",
    "a JSON string": '"Mallory"',
    "JSON nested deep": '{"user": ' + "[" * 50 + "]" * 50 + "}",
}


@pytest.mark.parametrize("kind", sorted(BAD_STATES))
async def test_a_bad_presence_state_closes_the_sender_and_reaches_nobody(server: ServerProcess, kind: str) -> None:
    url = server.room_url("presence")
    async with connect(url) as alice_ws, connect(url) as bob_ws:
        alice, bob = PresencePeer(alice_ws), PresencePeer(bob_ws)
        async with connect(url) as mallory:
            await mallory.send(awareness_frame(666, 1, BAD_STATES[kind]))
            await frames_until_close(mallory)
            assert mallory.close_code == 4400, kind
            assert "awareness state must be a JSON object" in (mallory.close_reason or "")
        await bob.say({"user": {"name": "Bob", "color": "#1f77b4"}})
        await alice.wait_until(lambda states: any(s.get("user", {}).get("name") == "Bob" for s in states.values()))
        assert 666 not in alice.others()


async def test_a_newcomer_in_the_browser_sees_who_is_present_after_an_attempt(server: ServerProcess) -> None:
    async with connect(server.room_url("lobby")) as bob_ws:
        bob = PresencePeer(bob_ws)
        await bob.say({"user": {"name": "Bob", "color": "#1f77b4"}})
        async with connect(server.room_url("lobby")) as mallory:
            await mallory.send(awareness_frame(666, 1, "not json at all"))
            await frames_until_close(mallory)
        async with chromium("index.html") as browser:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{server.http_url}/?room=lobby&name=Alice")
            present = page.get_by_test_id("presence-item")
            await expect(present.filter(has_text="Bob")).to_have_count(1, timeout=TIMEOUT_MS)
            await expect(present.filter(has_text="Alice")).to_have_count(1, timeout=TIMEOUT_MS)
