"""Bad input closes the one offending connection with its close code; the room keeps serving everyone else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pycrdt
import pytest
from pycrdt import create_update_message
from websockets.asyncio.client import connect

from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import REPO, ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts

CLOSE_CODES = {int(k): v for k, v in json.loads((REPO / "shared_schema/close_codes.json").read_text())["codes"].items()}


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "data",
        extra_args=["--max-frame-bytes", "4096", "--max-connections-per-room", "4", "--max-document-bytes", "30000"],
    )
    process.start()
    yield process
    process.stop()


async def assert_room_still_serves(server: ServerProcess, room: str, text: str) -> None:
    async with connect_doc(server.room_url(room)) as first, connect_doc(server.room_url(room)) as second:
        add_label(first.doc, text)
        await second.wait_for(lambda doc: text in label_texts(doc))


def update_with_label(text: str) -> bytes:
    doc = pycrdt.Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    add_label(doc, text)
    return create_update_message(updates[0])


MALFORMED = {
    "unknown message type": b"\x07\x00",
    "unknown sync type": b"\x00\x09\x00",
    "truncated length": b"\x00\x02\x10abc",
    "trailing bytes": b"\x00\x02\x02\x00\x00\xff\xff",
    "garbage update": b"\x00\x02\x05\x01\x02\x03\x04\x05",
    "bad state vector": b"\x00\x00\x03\xff\xff\xff",
    "empty frame": b"",
    "overlong varint": b"\x00\x02" + b"\xff" * 12,
    "bad awareness": b"\x01\x04\x05\x01\x01\x09",
    "awareness not utf-8": b"\x01\x06\x01\x01\x01\x02\xff\xfe",
    "auth from a client": b"\x02\x00\x02no",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
async def test_a_malformed_frame_closes_that_connection_only(limited: ServerProcess, kind: str) -> None:
    async with connect_doc(limited.room_url("shared")) as bystander:
        async with connect(limited.room_url("shared")) as offender:
            await offender.send(MALFORMED[kind])
            await frames_until_close(offender)
            assert offender.close_code == 4400, (kind, offender.close_code, offender.close_reason)
            assert offender.close_reason
        async with connect_doc(limited.room_url("shared")) as other:
            add_label(other.doc, f"after {kind}")
            await bystander.wait_for(lambda doc: f"after {kind}" in label_texts(doc))
    assert "malformed" in CLOSE_CODES[4400]["reason"]


async def test_a_text_frame_is_malformed(limited: ServerProcess) -> None:
    async with connect(limited.room_url("shared")) as offender:
        await offender.send("hello")
        await frames_until_close(offender)
        assert offender.close_code == 4400
        assert "binary" in (offender.close_reason or "")
    await assert_room_still_serves(limited, "shared", "after text")


async def test_an_oversized_frame_gets_1009_and_is_not_stored(limited: ServerProcess) -> None:
    async with connect(limited.room_url("big")) as offender:
        await offender.send(update_with_label("x" * 5000))
        await frames_until_close(offender)
        assert offender.close_code == 1009
    async with connect_doc(limited.room_url("big")) as fresh:
        assert label_texts(fresh.doc) == []
    await assert_room_still_serves(limited, "big", "small is fine")


async def test_a_document_may_not_grow_past_its_limit(limited: ServerProcess) -> None:
    async with connect(limited.room_url("growing")) as writer:
        refused = None
        for index in range(40):  # 40 × ~1 KiB > the 30,000-byte document limit
            await writer.send(update_with_label(f"{index}-" + "y" * 1000))
        frames = await frames_until_close(writer)
        refused = writer.close_code
    assert refused == 4413, (refused, len(frames))
    async with connect_doc(limited.room_url("growing")) as fresh:
        stored = label_texts(fresh.doc)
    assert 0 < len(stored) < 40
    assert sum(len(text) for text in stored) <= 30000


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "a" * 129, "slash/inside", "üñí"])
async def test_bad_room_names_are_refused(limited: ServerProcess, name: str) -> None:
    async with connect(limited.room_url(name.replace(" ", "%20"))) as websocket:
        assert await frames_until_close(websocket) == []
        assert websocket.close_code == 4404


async def test_a_full_room_refuses_one_more_and_keeps_serving(limited: ServerProcess) -> None:
    url = limited.room_url("crowded")
    async with connect_doc(url) as one, connect_doc(url) as two, connect_doc(url) as three, connect_doc(url) as four:
        async with connect(url) as fifth:
            assert await frames_until_close(fifth) == []
            assert fifth.close_code == 4429
        add_label(one.doc, "still flowing")
        for member in (two, three, four):
            await member.wait_for(lambda doc: "still flowing" in label_texts(doc))
    async with connect_doc(url) as later:  # once people leave, there is room again
        await later.wait_for(lambda doc: "still flowing" in label_texts(doc))


async def test_an_observer_updates_are_dropped_but_it_sees_everything(limited: ServerProcess) -> None:
    url = limited.room_url("observed")
    async with connect_doc(url) as writer, connect_doc(url + "?observe=1") as observer:
        add_label(observer.doc, "observer tried to write")
        add_label(writer.doc, "participant wrote")
        await observer.wait_for(lambda doc: "participant wrote" in label_texts(doc))
        async with connect_doc(url) as fresh:
            await fresh.wait_for(lambda doc: "participant wrote" in label_texts(doc))
            assert "observer tried to write" not in label_texts(fresh.doc)
        assert "observer tried to write" not in label_texts(writer.doc)
