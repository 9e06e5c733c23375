"""The control document: facilitators change it through /live, only the server writes it, and everyone sees the result.

Against a real study, group and tokens (made with `calma admin` and the REST API).
"""

from __future__ import annotations

import anyio
import pycrdt
import pytest
from pycrdt import create_update_message
from websockets.asyncio.client import connect

from calma.live.control_state import CONTROL_MAP, control_room_name, read_state
from tests.helpers.live_client import LiveClient, connect_live, live_url
from tests.helpers.live_study import LiveStudy, make_live_study
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc


@pytest.fixture
async def study(server: ServerProcess) -> LiveStudy:
    return await anyio.to_thread.run_sync(make_live_study, server)


def live(server: ServerProcess, study: LiveStudy, who: str) -> str:
    return live_url(server, token=study.tokens[who])


def room(server: ServerProcess, study: LiveStudy, who: str, *, observe: bool = False) -> str:
    return server.room_url(study.control_room) + f"?token={study.tokens[who]}" + ("&observe=1" if observe else "")


def segment(doc: pycrdt.Doc) -> object:
    return read_state(doc)["segment"]


async def command(client: LiveClient, study: LiveStudy, command: dict[str, object]) -> tuple[dict, list[dict]]:
    return await client.command(study.study, study.group, command)


def test_the_group_control_room_is_the_one_live_writes(study: LiveStudy) -> None:
    assert study.control_room == control_room_name(study.study, study.group)


async def test_a_facilitator_command_changes_the_control_document_for_everyone(
    server: ServerProcess, study: LiveStudy
) -> None:
    async with (
        connect_doc(room(server, study, "ana")) as yjs_reader,
        connect_live(live(server, study, "ana")) as ana,
        connect_live(live(server, study, "lead")) as lead,
    ):
        await ana.subscribe(study.study, study.group)
        ack, _ = await command(lead, study, {"name": "segment.set", "segment": "top3"})
        assert ack["type"] == "ack"
        await yjs_reader.wait_for(lambda doc: segment(doc) == "top3")
        state, _ = await ana.recv_until("control.state")
        assert state["state"]["segment"] == "top3"

        ack, _ = await command(lead, study, {"name": "timer.start", "timer": "segment", "duration_ms": 600_000})
        assert ack["type"] == "ack"
        await yjs_reader.wait_for(lambda doc: "segment" in read_state(doc)["timers"])
        timer = read_state(yjs_reader.doc)["timers"]["segment"]
        assert timer["duration_ms"] == 600_000 and abs(timer["started_at"] - lead.hello["server_time"]) < 60_000


async def test_participants_and_observers_cannot_command_the_session(server: ServerProcess, study: LiveStudy) -> None:
    async with (
        connect_live(live(server, study, "ana")) as ana,
        connect_live(live(server, study, "watcher")) as watcher,
        connect_doc(room(server, study, "watcher")) as yjs_reader,
    ):
        facilitator_only: list[dict[str, object]] = [
            {"name": "segment.set", "segment": "closed"},
            {"name": "timer.start", "timer": "segment", "duration_ms": 1000},
            {"name": "reveal", "what": "top3"},
            {"name": "speaker.set", "participant": "ana"},
        ]
        for client in (ana, watcher):
            for refused in facilitator_only:
                reply, _ = await command(client, study, refused)
                assert (reply["type"], reply["code"]) == ("error", "forbidden"), (client.hello["principal"], reply)
                assert reply["id"]
        reply, _ = await command(watcher, study, {"name": "hand.raise"})
        assert (reply["type"], reply["code"]) == ("error", "forbidden"), "observers write nothing"
        state = await watcher.subscribe(study.study, study.group)
        assert state["state"] == {**state["state"], "segment": "lobby", "timers": {}, "reveals": {}, "queue": []}
        assert read_state(yjs_reader.doc)["segment"] == "lobby"


async def test_a_claim_in_the_query_string_is_no_identity(server: ServerProcess, study: LiveStudy) -> None:
    async with connect(live_url(server, role="facilitator", study=study.study)) as claimant:
        assert await frames_until_close(claimant) == []
        assert claimant.close_code == 4401


async def test_participants_raise_hands_and_the_facilitator_gives_the_floor(
    server: ServerProcess, study: LiveStudy
) -> None:
    async with (
        connect_live(live(server, study, "ana")) as ana,
        connect_live(live(server, study, "bo")) as bo,
        connect_live(live(server, study, "lead")) as lead,
    ):
        await lead.subscribe(study.study, study.group)
        assert (await command(ana, study, {"name": "hand.raise"}))[0]["type"] == "ack"
        assert (await command(bo, study, {"name": "hand.raise"}))[0]["type"] == "ack"
        reply, _ = await command(lead, study, {"name": "hand.raise"})
        assert reply["code"] == "forbidden", "a facilitator has no hand to raise"
        bo_id = bo.hello["principal"]["participant"]
        _, states = await command(lead, study, {"name": "speaker.set", "participant": bo_id})
        final = [frame for frame in states if frame["type"] == "control.state"][-1]["state"]
        assert (final["speaker"], final["queue"]) == (bo_id, [ana.hello["principal"]["participant"]])


async def test_a_refused_command_changes_nothing(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(live(server, study, "lead")) as lead:
        await lead.subscribe(study.study, study.group)
        reply, before = await command(lead, study, {"name": "timer.pause", "timer": "segment"})
        assert (reply["type"], reply["code"]) == ("error", "conflict")
        assert before == [], "no control.state: nothing changed"


async def test_a_client_cannot_write_the_control_document_and_nobody_sees_its_attempt(
    server: ServerProcess, study: LiveStudy
) -> None:
    """An observer connection and ordinary ones (even the facilitator's) are all read-only in a control room."""
    forged = pycrdt.Doc()
    updates: list[bytes] = []
    forged.observe(lambda event: updates.append(event.update))
    forged.get(CONTROL_MAP, type=pycrdt.Map)["segment"] = "closed"

    changes: list[object] = []
    async with connect_doc(room(server, study, "bo")) as witness, connect_live(live(server, study, "lead")) as lead:
        witness.doc.observe(lambda _event: changes.append(None))  # any change at all, forged or not
        for who, observe in (("ana", True), ("ana", False), ("lead", False)):
            async with connect(room(server, study, who, observe=observe)) as writer:
                await writer.send(create_update_message(updates[0]))
                with anyio.fail_after(10):
                    while (frame := await writer.recv())[0] != 2:  # until the hub's auth message
                        pass
                assert isinstance(frame, bytes) and b"read-only" in frame, (who, observe, frame)

        ack, _ = await command(lead, study, {"name": "segment.set", "segment": "explore"})
        assert ack["type"] == "ack"
        await witness.wait_for(lambda doc: segment(doc) == "explore")
        assert len(changes) == 1, "the witness saw one change, the facilitator's command; never a forged one"
        state = await lead.subscribe(study.study, study.group)
        assert state["state"]["segment"] == "explore"

    async with connect_doc(room(server, study, "watcher")) as fresh:
        assert segment(fresh.doc) == "explore"


async def test_an_acknowledged_command_survives_kill_9(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(live(server, study, "lead")) as lead:
        ack, _ = await command(lead, study, {"name": "reveal", "what": "top3"})
        assert ack["type"] == "ack"
    server.kill9()
    server.start()
    async with connect_live(live(server, study, "ana")) as ana:
        state = await ana.subscribe(study.study, study.group)
    assert set(state["state"]["reveals"]) == {"top3"}
