"""End to end in Debian chromium: a participant chats with the study's model on /interact/.

A real server with the packaged stand-in model (Gemma 3 270M on llama.cpp, about ten tokens a
second on a CPU), a study from `chat_study`, and a participant who joins through an invite link in
the browser as a real one would, then finds Interact from their overview. They see the context and
the stand-in notice, start a conversation, and watch the reply arrive piece by piece; what the
page shows is what the server stored; Regenerate replaces the reply. At phone size the composer
stays in view and nothing scrolls sideways. A reply waiting behind others shows its place in the
queue, and Stop keeps the partial reply. After the server restarts mid-reply the page reconnects
and shows what was kept. Until the facilitator opens Interact, the page says why it is closed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from playwright.async_api import Browser, Locator, Page, WebSocket, expect

from tests.helpers.browser import chromium, collect_errors
from tests.helpers.interact import ChatStudy, chat_study, chatting
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
REPLY_TIMEOUT_MS = 60_000  # a short reply of the CPU model, queued behind nothing
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
SHOTS = os.environ.get("CALMA_SCREENSHOTS")  # a folder: save screenshots of the page there (for looking at them)

# Records, on every change in the chat, the last reply's status, text length and state line, and the
# composer's state line: the page's own history of the reply arriving, read back once it has ended.
WATCH_REPLY = """() => {
  const seen = []
  window.calmaReplyHistory = seen
  const chat = document.getElementById('chat')
  const composer = document.getElementById('composer-state')
  new MutationObserver(() => {
    const turn = [...chat.querySelectorAll('[data-testid="turn"][data-role="assistant"]')].at(-1)
    if (turn === undefined) return
    const text = (testid) => turn.querySelector(`[data-testid="${testid}"]`).textContent
    seen.push([turn.dataset.status, text('turn-text').length, text('turn-state'), composer.textContent])
  }).observe(chat, { subtree: true, childList: true, characterData: true, attributes: true })
}"""

# Presses Stop the moment the reply's first text is on the page: the stand-in model may end a reply
# after a few tokens (it stops at its next "User:"), sooner than a click from outside could land.
STOP_ON_FIRST_TEXT = """() => {
  const transcript = document.getElementById('transcript')
  window.calmaStopPressed = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const turn = [...transcript.querySelectorAll('[data-testid="turn"][data-role="assistant"]')].at(-1)
      const stop = document.querySelector('[data-testid="stop-button"]')
      const text = turn?.querySelector('[data-testid="turn-text"]').textContent ?? ''
      if (turn?.dataset.status === 'streaming' && text !== '' && !stop.hidden && !stop.disabled) {
        observer.disconnect()
        stop.click()
        resolve(text.length)
      }
    })
    observer.observe(transcript, { subtree: true, childList: true, characterData: true, attributes: true })
  })
}"""

STORED_MESSAGE = """async ([study, conversation, id]) => {
  const response = await fetch(`/api/studies/${study}/conversations/${conversation}`, { cache: 'no-store' })
  const detail = await response.json()
  return { message: detail.messages.find((m) => m.id === id), messages: detail.messages }
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("interact/index.html", "join/index.html", "me/index.html") as browser:
        yield browser


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def screenshot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


async def join_and_open_interact(
    browser: Browser, study: ChatStudy, name: str, group: str | None = None, **options: Any
) -> tuple[Page, list[str]]:
    """A new participant joins with a fresh invite link in their own browser and goes to Interact."""
    invite = study.facilitator.ok(
        "POST", study.path("/invites"), {"group_id": group or study.group, "role": "participant"}, status=201
    )
    context = await browser.new_context(**options)
    page = await context.new_page()
    errors = collect_errors(page)
    await page.goto(f"{study.server.http_url}/join/?token={invite['token']}")
    await page.get_by_test_id("display-name").fill(name)
    await page.get_by_test_id("join-button").click()
    await expect(page).to_have_url(f"{study.server.http_url}/me/", timeout=TIMEOUT_MS)
    await page.get_by_test_id("interact-link").click()
    await expect(page).to_have_url(f"{study.server.http_url}/interact/", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("interact")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    return page, errors


async def start_conversation(page: Page) -> str:
    """Press New conversation; the id of the conversation it opened."""
    before = await page.get_by_test_id("conversation-item").count()
    await page.get_by_test_id("new-conversation").click()
    await expect(page.get_by_test_id("conversation-item")).to_have_count(before + 1, timeout=TIMEOUT_MS)
    current = page.locator('[data-testid="conversation-item"][aria-current="true"]')
    await expect(current).to_have_count(1)
    conversation = await current.get_attribute("data-conversation-id")
    assert conversation
    await expect(page.get_by_test_id("chat")).to_have_attribute("data-conversation-id", conversation)
    await expect(page.get_by_test_id("composer-input")).to_be_focused()
    return conversation


def last_reply(page: Page) -> Locator:
    return page.locator('[data-testid="turn"][data-role="assistant"]').last


async def stored(page: Page, study: ChatStudy, conversation: str, message: str) -> dict[str, Any]:
    """The conversation as the server stored it, read in the page with the participant's session."""
    result: dict[str, Any] = await page.evaluate(STORED_MESSAGE, [study.study, conversation, message])
    assert result["message"] is not None, result
    return result


async def text_of(turn: Locator) -> str:
    text: str = await turn.get_by_test_id("turn-text").evaluate("el => el.textContent")
    return text


async def test_a_reply_streams_into_the_page_token_by_token_and_is_what_the_server_stored(
    browser: Browser, node: ServerProcess
) -> None:
    study = chat_study(node, max_tokens=24, max_prompt_chars=200)
    context = study.facilitator.ok("GET", study.path())["deployment_context"]
    models = study.facilitator.ok("GET", study.path("/models"))
    assert models["notice"] and models["models"][0]["stand_in"], models

    page, errors = await join_and_open_interact(browser, study, "Asha")
    await expect(page.get_by_test_id("context-name")).to_have_text(context["name"])
    await expect(page.get_by_test_id("context-description")).to_have_text(context["description"])
    notice = page.get_by_test_id("stand-in-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(models["notice"])
    await expect(page.get_by_test_id("model-picker")).to_be_hidden()  # the pilot assigns the model
    await expect(page.get_by_test_id("conversations-empty")).to_be_visible()

    conversation = await start_conversation(page)
    await expect(page.get_by_test_id("conversation-model")).to_have_text(f"Model: {models['models'][0]['name']}")
    await page.evaluate(WATCH_REPLY)
    composer = page.get_by_test_id("composer-input")
    await composer.fill("Who was Ashoka?")
    await composer.press("Enter")

    user = page.locator('[data-testid="turn"][data-role="user"]')
    await expect(user).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(user.get_by_test_id("turn-text")).to_have_text("Who was Ashoka?")
    await expect(composer).to_have_value("", timeout=TIMEOUT_MS)  # taken by the server: the box is cleared
    reply = last_reply(page)
    await expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT_MS)
    await screenshot(page, "interact-reply")

    history: list[tuple[str, int, str, str]] = await page.evaluate("window.calmaReplyHistory")
    streamed = {length for status, length, _, _ in history if status == "streaming" and length > 0}
    assert len(streamed) >= 2, f"the reply should grow in the page while it streams, saw {history}"
    shown = await text_of(reply)
    assert shown.strip(), "the reply has text"
    reply_id = await reply.get_attribute("data-message-id")
    assert reply_id
    saved = await stored(page, study, conversation, reply_id)
    assert saved["message"]["status"] == "complete"
    assert saved["message"]["content"] == shown, "what the page shows is exactly what the server stored"
    await expect(page.get_by_test_id("stop-button")).to_be_hidden()
    await expect(page.get_by_test_id("conversation-item").first).to_contain_text("Who was Ashoka?")

    # Regenerate: a new reply takes the old one's place on the page; the old one stays on record.
    await reply.get_by_test_id("regenerate-button").click()
    await expect(page.get_by_test_id("turn")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(last_reply(page)).not_to_have_attribute("data-message-id", reply_id, timeout=TIMEOUT_MS)
    await expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT_MS)
    await expect(page.get_by_test_id("regenerate-button")).to_have_count(1)
    second_id = await last_reply(page).get_attribute("data-message-id")
    assert second_id
    again = await stored(page, study, conversation, second_id)
    assert again["message"]["replaces"] == reply_id
    assert again["message"]["content"] == await text_of(last_reply(page))
    assert [m["id"] for m in again["messages"]][1:] == [reply_id, second_id]

    # A refused message keeps what was typed, and says why next to the composer.
    await composer.fill("line one")
    await composer.press("Shift+Enter")  # a new line, not a send
    await composer.press_sequentially("line two")
    await expect(composer).to_have_value("line one\nline two")
    long = "line one\nline two " + "a" * 200
    await composer.fill(long)
    await composer.press("Enter")
    await expect(page.get_by_test_id("composer-error")).to_contain_text("at most 200", timeout=TIMEOUT_MS)
    await expect(composer).to_have_value(long)
    await expect(page.get_by_test_id("turn")).to_have_count(2)

    # A reload shows the conversation as stored, the current turns only.
    await page.reload()
    chat = page.get_by_test_id("chat")
    await expect(chat).to_have_attribute("data-conversation-id", conversation, timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("turn")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(last_reply(page)).to_have_attribute("data-message-id", second_id)
    assert errors == []


async def test_on_a_phone_the_composer_stays_in_view_and_nothing_scrolls_sideways(
    browser: Browser, node: ServerProcess
) -> None:
    study = chat_study(node, max_tokens=12)
    page, errors = await join_and_open_interact(browser, study, "Mei Ling", **PHONE)
    assert page.viewport_size == {"width": 390, "height": 844}
    await expect(page.get_by_test_id("stand-in-notice")).to_be_in_viewport()
    await expect(page.get_by_test_id("interact-closed")).to_be_hidden()  # the study opened it for the group

    async def fits() -> None:
        await expect(page.get_by_test_id("composer-input")).to_be_in_viewport()
        await expect(page.get_by_test_id("send-button")).to_be_in_viewport()
        sizes = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sizes[0] <= sizes[1], f"the page scrolls sideways: scrollWidth {sizes[0]} > innerWidth {sizes[1]}"

    await fits()
    await start_conversation(page)
    await fits()
    # A long word must wrap, not widen the page.
    await page.get_by_test_id("composer-input").fill("Who was Ashoka? " + "Mauryaaaaa" * 20)
    await page.get_by_test_id("send-button").tap()
    await expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT_MS)
    await fits()
    await screenshot(page, "interact-phone")
    assert errors == []


async def test_a_waiting_reply_shows_its_place_in_the_queue_and_stop_keeps_its_partial_text(
    browser: Browser, node: ServerProcess
) -> None:
    study = chat_study(node, max_tokens=200)
    page, errors = await join_and_open_interact(browser, study, "Asha")
    conversation = await start_conversation(page)
    # What the server tells this page about its reply's place in the queue, straight off the socket.
    positions: list[int] = []

    def on_socket(socket: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            frame = msgpack.unpackb(payload) if isinstance(payload, bytes) else {}
            if frame.get("type") == "chat.queue":
                positions.append(frame["position"])

        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    await page.reload()  # a socket opened with the listener on
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    chat = page.get_by_test_id("chat")
    await expect(chat).to_have_attribute("data-conversation-id", conversation, timeout=TIMEOUT_MS)

    # The model (one reply at a time) is busy with Ravi's reply, and Mei's waits: Asha's is behind hers.
    async with chatting(node, study.ravi) as ravi, chatting(node, study.mei) as mei:
        _, ravis = await ravi.send(study.start_conversation(study.ravi)["id"], "Tell me about the Maurya empire.")
        await ravi.until(ravis["id"], "chat.start")
        _, meis = await mei.send(study.start_conversation(study.mei)["id"], "Tell me about the Gupta empire.")

        await page.evaluate(WATCH_REPLY)
        await page.evaluate(STOP_ON_FIRST_TEXT)
        await page.get_by_test_id("composer-input").fill("Tell me the story of Chandragupta Maurya.")
        await page.get_by_test_id("composer-input").press("Enter")
        reply = last_reply(page)
        stop = page.get_by_test_id("stop-button")
        await expect(stop).to_be_visible(timeout=TIMEOUT_MS)  # from the moment the reply is queued
        await expect(page.get_by_test_id("send-button")).to_be_disabled()
        await expect(reply).to_have_attribute("data-status", "queued", timeout=TIMEOUT_MS)
        # Each place the server gave is shown to Asha, on the reply and by the composer.
        await ravi.stop(ravis["id"])
        await mei.stop(meis["id"])
        assert await page.evaluate("window.calmaStopPressed") > 0  # Stop, the moment text showed

    await expect(reply).to_have_attribute("data-status", "stopped", timeout=TIMEOUT_MS)
    history: list[tuple[str, int, str, str]] = await page.evaluate("window.calmaReplyHistory")
    assert positions, "Asha's reply waited for the model"
    for position in positions:
        place = "you are next" if position == 0 else f"{position} ahead of you"
        words = f"Waiting for the model — {place}"
        assert any(state == words == composer for _, _, state, composer in history), (words, history)

    await expect(reply.get_by_test_id("turn-state")).to_have_text("Stopped. The text so far is kept.")
    await expect(stop).to_be_hidden()
    await expect(page.get_by_test_id("send-button")).to_be_enabled()
    await expect(page.get_by_test_id("composer-state")).to_have_text("Enter sends · Shift+Enter for a new line")
    await expect(reply.get_by_test_id("regenerate-button")).to_be_visible()
    shown = await text_of(reply)
    assert shown, "the partial text stays on the page"
    reply_id = await reply.get_attribute("data-message-id")
    assert reply_id
    saved = await stored(page, study, conversation, reply_id)
    assert saved["message"]["status"] == "stopped" and saved["message"]["error"] == "stopped"
    assert saved["message"]["content"] == shown
    assert saved["message"]["completion_tokens"] < 200, "stopped before the model's limit"
    await screenshot(page, "interact-stopped")
    assert errors == []


async def test_after_the_server_restarts_mid_reply_the_page_reconnects_and_shows_what_was_kept(
    browser: Browser, node: ServerProcess
) -> None:
    study = chat_study(node, max_tokens=200)
    page, errors = await join_and_open_interact(browser, study, "Kiran")
    conversation = await start_conversation(page)
    await page.get_by_test_id("composer-input").fill("Tell me the story of the Maurya empire.")
    await page.get_by_test_id("composer-input").press("Enter")
    reply = last_reply(page)
    await expect(reply.get_by_test_id("turn-text")).not_to_be_empty(timeout=REPLY_TIMEOUT_MS)
    reply_id = await reply.get_attribute("data-message-id")
    assert reply_id

    await asyncio.to_thread(node.stop)  # the reply in flight ends; the socket closes
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "reconnecting", timeout=TIMEOUT_MS)
    await asyncio.to_thread(node.start)
    study.configure(max_tokens=12)  # a quick second reply

    # Reconnected, the page reads the conversation again: the reply as stored, with its text.
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=30_000)
    # (Unless the model happened to end the reply before the server stopped: then it is complete.)
    ended = re.compile("^(interrupted|stopped|complete)$")
    await expect(reply).to_have_attribute("data-status", ended, timeout=TIMEOUT_MS)
    if await reply.get_attribute("data-status") != "complete":
        await expect(reply.get_by_test_id("turn-state")).to_contain_text("The text so far is kept.")
    await expect(page.get_by_test_id("stop-button")).to_be_hidden()
    saved = await stored(page, study, conversation, reply_id)
    assert saved["message"]["status"] == await reply.get_attribute("data-status")
    assert saved["message"]["content"] == await text_of(reply) != ""

    # And the chat goes on.
    await page.get_by_test_id("composer-input").fill("Who was Bindusara?")
    await page.get_by_test_id("composer-input").press("Enter")
    await expect(page.get_by_test_id("turn")).to_have_count(4, timeout=TIMEOUT_MS)
    await expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT_MS)
    # The browser logs the refused connection attempts while the server was down; nothing else.
    assert [e for e in errors if "WebSocket connection to" not in e] == []


async def test_the_page_follows_the_study_interact_closed_until_opened_and_a_model_to_pick(
    browser: Browser, node: ServerProcess
) -> None:
    study = chat_study(node)
    study.configure(model_choice="participant")
    models = study.facilitator.ok("GET", study.path("/models"))["models"]
    late = study.facilitator.ok("POST", study.path("/groups"), {"name": "Late group"}, status=201)["id"]
    page, errors = await join_and_open_interact(browser, study, "Dev", group=late)
    picker = page.get_by_test_id("model-picker")
    await expect(picker).to_be_visible()
    await expect(picker.locator("option")).to_have_text([f"{m['name']} (stand-in)" for m in models])

    # Interact is not open for the late group yet: the page says so, and the server refuses.
    closed = page.get_by_test_id("interact-closed")
    await expect(closed).to_be_visible(timeout=TIMEOUT_MS)
    await expect(closed).to_contain_text("Interact opens once you have finished Familiarize.")
    await page.get_by_test_id("new-conversation").click()
    await expect(page.get_by_test_id("conversations-error")).to_contain_text("not open for you", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("conversation-item")).to_have_count(0)

    study.facilitator.ok("PUT", study.path("/stage-overrides"), {"group_id": late, "stage": "interact", "state": "open"})
    conversation = await start_conversation(page)
    await expect(closed).to_be_hidden()
    started = await page.evaluate(
        "async ([s, c]) => (await (await fetch(`/api/studies/${s}/conversations/${c}`)).json()).conversation",
        [study.study, conversation],
    )
    assert started["model"] == await picker.input_value()
    await expect(page.get_by_test_id("conversation-model")).to_have_text(f"Model: {started['model']}")
    await expect(page.get_by_test_id("conversations-error")).to_be_empty()
    # The refused request is the only thing the browser logged.
    assert all("409" in error for error in errors), errors
