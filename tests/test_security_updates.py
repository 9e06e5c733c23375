"""Hostile Yjs updates: no byte reaches Yrs, the store or another client before the bounded check.

An anonymous outsider sends a y-websocket update whose ContentAny nests 40,000
one-element arrays (once enough to overflow Yrs's native stack and kill the
process); a participant stores a deep card that every later read would trip on.
Each is refused with 4400 and a reason, the server keeps serving, nothing is
stored; a room whose stored rows fail the check (written before the check
existed) fails to load with 1011 and takes nothing else down.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pycrdt
import pytest
from websockets.asyncio.client import connect

from tests.helpers import lib0
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


def nest(value: object, depth: int) -> object:
    for _ in range(depth):
        value = [value]
    return value


def stored_rows(server: ServerProcess, room: str) -> list[bytes]:
    with sqlite3.connect(server.data_dir / "calma.sqlite3") as db:
        return [bytes(row[0]) for row in db.execute("SELECT data FROM room_updates WHERE room = ?", (room,))]


def stored_updates(server: ServerProcess, room: str) -> int:
    with sqlite3.connect(server.data_dir / "calma.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM room_updates WHERE room = ?", (room,)).fetchone()
    return int(count)


async def send_and_get_closed(server: ServerProcess, room: str, frame: bytes) -> tuple[int | None, str]:
    async with connect(server.room_url(room), max_size=None) as attacker:
        await attacker.send(frame)
        await frames_until_close(attacker)
        return attacker.close_code, attacker.close_reason or ""


async def assert_still_serving(server: ServerProcess, room: str, text: str) -> None:
    assert httpx.get(f"{server.http_url}/healthz", timeout=5).status_code == 200
    async with connect_doc(server.room_url(room)) as first, connect_doc(server.room_url(room)) as second:
        add_label(first.doc, text)
        await second.wait_for(lambda doc: text in label_texts(doc))


async def test_an_anonymous_deeply_nested_update_is_refused_and_the_server_lives(server: ServerProcess) -> None:
    frame = lib0.update_frame(lib0.any_update([lib0.nested_arrays(40_000)]))
    assert 70_000 < len(frame) < 100_000  # the ~80 KB frame of the report
    async with connect_doc(server.room_url("lobby")) as bystander:
        code, reason = await send_and_get_closed(server, "lobby", frame)
        assert code == 4400
        assert "nested deeper than 32" in reason
    await assert_still_serving(server, "lobby", "after the attack")
    assert stored_updates(server, "lobby") >= 1  # the label written after the attack...
    assert not any(b"\x75\x01" * 40 in row for row in stored_rows(server, "lobby"))  # ...and not the attack


async def test_a_deep_card_never_reaches_the_store_or_other_clients(server: ServerProcess) -> None:
    deep_card = lib0.encode_any({"text": "forged", "nested": nest("x", 35)})
    frame = lib0.update_frame(lib0.any_update([deep_card], root="cards"))
    async with connect_doc(server.room_url("board-like")) as member, connect_doc(server.room_url("board-like")) as honest:
        code, reason = await send_and_get_closed(server, "board-like", frame)
        assert code == 4400 and "nested deeper" in reason
        # Updates reach members in log order: once the honest label is here, a relayed attack would be too.
        add_label(honest.doc, "marker")
        await member.wait_for(lambda doc: "marker" in label_texts(doc))
        assert b"forged" not in member.doc.get_update()
    assert not any(b"forged" in row for row in stored_rows(server, "board-like"))


@pytest.mark.parametrize("build", [lib0.nested_maps, lib0.origin_placed_arrays])
async def test_shared_types_a_client_nests_deep_are_refused(server: ServerProcess, build: object) -> None:
    # 20,000 types each inside the last (placed by origin, the update never even names their parents): Yrs
    # stores them, but any reader (their JSON) and Yrs's own delete recurse through them and die.
    assert callable(build)
    code, reason = await send_and_get_closed(server, "sandbox", lib0.update_frame(build(20_000)))
    assert code == 4400 and "may not create shared types" in reason
    assert stored_updates(server, "sandbox") == 0
    await assert_still_serving(server, "sandbox", "after nested types")


async def test_an_update_waiting_for_a_missing_parent_is_refused_not_stored(server: ServerProcess) -> None:
    # B sits inside an item A that was never sent: Yrs would keep B pending, store it, and fail (or integrate it
    # unchecked) once A arrives. The room refuses B, so sending A later is harmless.
    parent_missing = lib0.any_under_item((999, 0), lib0.encode_any("waiting"), client=1001)
    code, reason = await send_and_get_closed(server, "sandbox", lib0.update_frame(parent_missing))
    assert code == 4400 and "pending" in reason
    assert stored_updates(server, "sandbox") == 0
    await assert_still_serving(server, "sandbox", "after a pending update")


@pytest.mark.parametrize(
    "kind, content",
    [
        ("a sub-document", lib0.var_string("guid") + lib0.encode_any({})),
        ("an unknown shared type", lib0.var_uint(42)),
        ("a huge string", lib0.var_string("x" * (300 * 1024))),
        ("deep JSON text", lib0.var_uint(1) + lib0.var_string("[" * 5000 + "]" * 5000)),
    ],
)
async def test_content_no_room_accepts_is_refused_with_a_reason(server: ServerProcess, kind: str, content: bytes) -> None:
    content_kind = {
        "a sub-document": lib0.CONTENT_DOC,
        "an unknown shared type": lib0.CONTENT_TYPE,
        "a huge string": lib0.CONTENT_STRING,
        "deep JSON text": lib0.CONTENT_JSON,
    }[kind]
    frame = lib0.update_frame(lib0.item_update(content_kind, content))
    server_frame_limit = 1024 * 1024
    assert len(frame) < server_frame_limit
    code, reason = await send_and_get_closed(server, "sandbox", frame)
    assert code == 4400, (kind, reason)
    assert reason.startswith("update refused"), (kind, reason)
    assert stored_updates(server, "sandbox") == 0
    await assert_still_serving(server, "sandbox", f"after {kind}")


async def test_a_struct_count_past_the_bytes_is_malformed_not_a_hang(server: ServerProcess) -> None:
    # Claims 90,000 structs (under the cap) but carries none: the walk stops at the end of the bytes.
    update = lib0.var_uint(1) + lib0.var_uint(90_000) + lib0.var_uint(7) + lib0.var_uint(0)
    code, reason = await send_and_get_closed(server, "sandbox", lib0.update_frame(update))
    assert code == 4400 and "truncated" in reason


async def test_a_hostile_state_vector_is_refused(server: ServerProcess) -> None:
    state_vector = lib0.var_uint(3) + lib0.var_uint(2**60) + lib0.var_uint(1)
    frame = bytes([0, 0]) + lib0.var_uint(len(state_vector)) + state_vector
    code, reason = await send_and_get_closed(server, "sandbox", frame)
    assert code == 4400 and "state vector" in reason


async def test_an_update_yrs_cannot_integrate_is_refused_before_it_is_stored(server: ServerProcess) -> None:
    honest = pycrdt.Doc(client_id=5)
    async with connect_doc(server.room_url("sandbox"), honest) as writer:
        honest.get("cards", type=pycrdt.Map)["k"] = 1  # item (5, 0): a plain value, not a shared type
        add_label(writer.doc, "before")
        async with connect_doc(server.room_url("sandbox")) as reader:
            await reader.wait_for(lambda doc: "before" in label_texts(doc))
    # Decodes fine, but its parent (5, 0) is not a shared type: once stored it would break every load.
    attack = lib0.update_frame(lib0.any_under_item((5, 0), lib0.encode_any("boom")))
    code, reason = await send_and_get_closed(server, "sandbox", attack)
    assert code == 4400 and "does not apply" in reason
    await assert_still_serving(server, "sandbox", "after the attack")
    async with connect_doc(server.room_url("sandbox")) as late:
        assert {"before", "after the attack"} <= set(label_texts(late.doc))


@pytest.fixture
def poisoned(tmp_path: Path) -> Iterator[ServerProcess]:
    """A data dir whose room 'poisoned' holds a deep row written before the check existed."""
    process = ServerProcess(tmp_path / "data")
    process.start()
    process.stop()
    poison = lib0.any_update([lib0.nested_arrays(20_000)])
    with sqlite3.connect(process.data_dir / "calma.sqlite3") as db:
        db.execute("INSERT INTO room_updates (room, data) VALUES (?, ?)", ("poisoned", poison))
    process.start()
    yield process
    process.stop()


async def test_a_room_with_a_poisoned_row_fails_to_load_and_the_server_lives(poisoned: ServerProcess) -> None:
    for _ in range(2):  # every join tries again, and fails alone
        code, reason = await send_and_get_closed(poisoned, "poisoned", b"\x00\x00\x01\x00")
        assert code == 1011, reason
    assert poisoned.process is not None and poisoned.process.poll() is None
    assert "fails the check" in poisoned.log()
    await assert_still_serving(poisoned, "healthy-room", "other rooms serve")
