"""Presence: relayed to everyone, merged under floods, removed when a client leaves, answered on query."""

from __future__ import annotations

import anyio
import pycrdt
from pycrdt import Awareness, create_awareness_message, create_sync_message
from websockets.asyncio.client import ClientConnection, connect

from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


class PresencePeer:
    """A raw client that keeps a pycrdt Awareness in step with the room's awareness messages."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self.doc = pycrdt.Doc()
        self.awareness = Awareness(self.doc)
        self.awareness_frames = 0

    async def say(self, state: dict[str, object]) -> None:
        self.awareness.set_local_state(state)
        update = self.awareness.encode_awareness_update([self.doc.client_id])
        await self.websocket.send(create_awareness_message(update))

    async def wait_until(self, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        """Read frames, applying awareness, until `predicate(states)` holds."""
        with anyio.fail_after(timeout):
            while not predicate(self.others()):
                frame = await self.websocket.recv()
                assert isinstance(frame, bytes)
                if frame[0] == 1:
                    self.awareness_frames += 1
                    self.awareness.apply_awareness_update(pycrdt.read_message(frame[1:]), "server")

    def others(self) -> dict[int, dict[str, object]]:
        return {cid: state for cid, state in self.awareness.states.items() if cid != self.doc.client_id}


async def test_presence_is_relayed_and_removed_on_disconnect(server: ServerProcess) -> None:
    url = server.room_url("presence")
    async with connect(url) as alice_ws:
        alice = PresencePeer(alice_ws)
        async with connect(url) as bob_ws:
            bob = PresencePeer(bob_ws)
            await bob.say({"user": {"name": "Bob", "color": "#1f77b4"}})
            await alice.wait_until(lambda states: any(s.get("user", {}).get("name") == "Bob" for s in states.values()))
        await alice.wait_until(lambda states: not states)  # Bob's connection closed: his state was removed


async def test_a_late_joiner_gets_current_presence_and_query_awareness_answers(server: ServerProcess) -> None:
    url = server.room_url("presence-late")
    async with connect(url) as bob_ws:
        bob = PresencePeer(bob_ws)
        await bob.say({"user": {"name": "Bob"}})
        async with connect(url) as carol_ws:
            carol = PresencePeer(carol_ws)
            await carol.wait_until(lambda states: len(states) == 1)
            frames_before = carol.awareness_frames
            await carol_ws.send(b"\x03")  # query-awareness
            with anyio.fail_after(10):
                while True:
                    frame = await carol_ws.recv()
                    assert isinstance(frame, bytes)
                    if frame[0] == 1:
                        break
            assert b'"Bob"' in frame
            assert carol.awareness_frames == frames_before


async def test_a_presence_flood_is_merged_and_does_not_drown_document_updates(server: ServerProcess) -> None:
    url = server.room_url("flood")
    async with connect(url) as listener_ws, connect(url) as flooder_ws, connect_doc(url) as writer:
        listener = PresencePeer(listener_ws)
        await listener_ws.send(create_sync_message(listener.doc))
        flooder = PresencePeer(flooder_ws)
        for index in range(500):
            await flooder.say({"cursor": index, "pad": "p" * 200})
        add_label(writer.doc, "made during the flood")
        await listener.wait_until(lambda states: any(s.get("cursor") == 499 for s in states.values()), timeout=20)
        assert listener.awareness_frames < 100, f"{listener.awareness_frames} awareness frames for 500 updates"

    async with connect_doc(url) as reader:
        await reader.wait_for(lambda doc: "made during the flood" in label_texts(doc))


async def test_an_oversized_presence_state_is_refused(server: ServerProcess) -> None:
    async with connect(server.room_url("presence-big")) as websocket:
        peer = PresencePeer(websocket)
        await peer.say({"blob": "z" * 20_000})
        await frames_until_close(websocket)
        assert websocket.close_code == 4400
        assert "awareness state exceeds" in (websocket.close_reason or "")
