"""Sandbox rooms on the open internet: an anonymous client must not get a free, endless disk.

The attack: rooms outside any study (the demo page's) take writes from anyone, with no
credentials, and keep them forever; one client wrote about 16 MB/s of persistent data. Now a
server that listens beyond loopback refuses sandbox rooms unless told `--sandbox-rooms`; and
when they are on there is a cap on how many exist, on each one's size, on how fast one address
writes to them, and rooms unwritten for their lifetime are deleted by a periodic sweep.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pycrdt
import pytest
from pycrdt import create_sync_message, create_update_message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import REPO, ServerProcess

FACILITATOR = ("lena@example.org", "Lena", "lena's long password")


def started(data_dir: Path, *args: str) -> ServerProcess:
    process = ServerProcess(data_dir, extra_args=list(args))
    process.start()
    return process


@pytest.fixture
def public(tmp_path: Path) -> Iterator[ServerProcess]:
    """Listening on every address, with no sandbox setting: as a server on the internet would."""
    process = started(tmp_path / "data", "--host", "0.0.0.0")
    create_facilitator(process.data_dir, *FACILITATOR)
    yield process
    process.stop()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[ServerProcess]:
    """Sandbox rooms turned on explicitly on a public address, with small limits and a short lifetime."""
    process = started(
        tmp_path / "data", "--host", "0.0.0.0", "--sandbox-rooms",
        "--sandbox-max-rooms", "2", "--sandbox-max-room-bytes", "20000", "--sandbox-lifetime", "2",
    )  # fmt: skip
    yield process
    process.stop()


def stored(server: ServerProcess, room: str) -> tuple[int, int, int]:
    """Rows the store holds for `room`: updates, snapshots, sandbox registry."""
    with sqlite3.connect(server.data_dir / "calma.sqlite3") as db:
        return tuple(  # type: ignore[return-value]
            int(db.execute(f"SELECT count(*) FROM {table} WHERE room = ?", (room,)).fetchone()[0])
            for table in ("room_updates", "room_snapshots", "sandbox_rooms")
        )


def payload_update(text: str) -> bytes:
    """One y-websocket update frame that adds `text` to a fresh document."""
    doc = pycrdt.Doc()
    doc["notes"] = notes = pycrdt.Array()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    notes.append(text)
    return create_update_message(updates[-1])


async def joined(server: ServerProcess, room: str, **kwargs: object) -> ClientConnection:
    websocket = await connect(server.room_url(room), max_size=None, **kwargs)  # type: ignore[arg-type]
    try:
        await websocket.send(create_sync_message(pycrdt.Doc()))
    except ConnectionClosed:  # refused at the handshake: the close code says why
        pass
    return websocket


async def closed_with(websocket: ClientConnection) -> tuple[int | None, str]:
    await frames_until_close(websocket)
    return websocket.close_code, websocket.close_reason or ""


async def write_until_closed(websocket: ClientConnection, frames: int, size: int, prefix: str) -> int:
    """Send up to `frames` updates of `size` characters; how many were sent before the server closed."""
    sent = 0
    try:
        for index in range(frames):
            await websocket.send(payload_update(f"{prefix}{index}:" + "x" * size))
            sent += 1
    except ConnectionClosed:  # the server closed the connection under us
        pass
    return sent


async def write_and_confirm(server: ServerProcess, room: str, text: str) -> None:
    """Write `text` into `room` and wait until the store has it."""
    async with await joined(server, room) as websocket:
        await websocket.send(payload_update(text))
        with anyio.fail_after(10):
            while stored(server, room)[0] == 0:
                await anyio.sleep(0.02)  # polling the store for a condition, bounded


async def test_a_public_server_refuses_sandbox_rooms_unless_told(public: ServerProcess, tmp_path: Path) -> None:
    # Anonymous: 4401, and nothing is stored.
    code, reason = await closed_with(await joined(public, "demo"))
    assert code == 4401, (code, reason)
    # Signed in (a facilitator's session): still no sandbox rooms, 4403.
    lena = Person(public, "Lena").sign_in(FACILITATOR[0], FACILITATOR[2])
    code, reason = await closed_with(await joined(public, "demo", additional_headers=lena.cookie_headers))
    assert (code, reason) == (4403, "sandbox rooms are turned off on this server")
    assert stored(public, "demo") == (0, 0, 0)


async def test_sandbox_rooms_on_a_public_server_only_with_the_flag(tmp_path: Path) -> None:
    process = started(tmp_path / "data", "--host", "0.0.0.0", "--sandbox-rooms")
    try:
        await write_and_confirm(process, "demo", "hello")
        assert stored(process, "demo")[2] == 1
    finally:
        process.stop()


async def test_loopback_keeps_sandbox_rooms_on_and_no_sandbox_rooms_turns_them_off(tmp_path: Path) -> None:
    local = started(tmp_path / "local")
    try:
        await write_and_confirm(local, "demo", "hello")
    finally:
        local.stop()
    closed = started(tmp_path / "closed", "--no-sandbox-rooms")
    try:
        assert (await closed_with(await joined(closed, "demo")))[0] == 4401
    finally:
        closed.stop()


async def test_a_reverse_proxy_on_the_same_host_does_not_open_sandbox_rooms_to_the_internet(tmp_path: Path) -> None:
    # The usual internet setup: `calma serve` on 127.0.0.1 behind nginx/Caddy on the same host. The
    # server listens on loopback, so sandbox rooms are on by default, but for local clients only: a
    # handshake the proxy forwarded (X-Forwarded-For or Forwarded) is an outsider's, refused with 4401.
    local = started(tmp_path / "local")
    try:
        for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9;proto=https"}):
            code, reason = await closed_with(await joined(local, "demo", additional_headers=header))
            assert code == 4401, (header, code, reason)
        assert stored(local, "demo") == (0, 0, 0)
        await write_and_confirm(local, "demo", "hello from this machine")  # no proxy: still open locally
    finally:
        local.stop()
    # Told `--sandbox-rooms`, the operator means it: proxied clients get sandbox rooms too.
    told = started(tmp_path / "told", "--sandbox-rooms")
    try:
        async with await joined(told, "demo", additional_headers={"X-Forwarded-For": "203.0.113.9"}) as websocket:
            await websocket.send(payload_update("through the proxy"))
            with anyio.fail_after(10):
                while stored(told, "demo")[0] == 0:
                    await anyio.sleep(0.02)  # polling the store for a condition, bounded
    finally:
        told.stop()


async def test_no_more_sandbox_rooms_than_the_cap(small: ServerProcess) -> None:
    await write_and_confirm(small, "first", "one")
    # Two handshakes for new rooms while one place is left: both get in, only one can write.
    second, third = await joined(small, "second"), await joined(small, "third")
    for websocket in (second, third):
        with anyio.fail_after(10):
            await websocket.recv()  # the room's first frame: this connection was let in
    await second.send(payload_update("two"))
    with anyio.fail_after(10):
        while stored(small, "second")[0] == 0:
            await anyio.sleep(0.02)
    await third.send(payload_update("three"))
    code, reason = await closed_with(third)
    assert code == 4429 and "maximum of 2 sandbox rooms" in reason, (code, reason)
    await second.close()
    # Now the cap is reached: a handshake for another new room is refused at once; existing rooms still open.
    code, reason = await closed_with(await joined(small, "fourth"))
    assert code == 4429 and "maximum of 2 sandbox rooms" in reason, (code, reason)
    await write_and_confirm(small, "first", "again")
    assert stored(small, "third") == stored(small, "fourth") == (0, 0, 0)


async def test_a_sandbox_room_does_not_grow_past_its_size(small: ServerProcess) -> None:
    websocket = await joined(small, "big")
    sent = await write_until_closed(websocket, frames=40, size=1000, prefix="b")
    code, reason = await closed_with(websocket)
    assert code == 4413 and "at most 20000 bytes" in reason, (code, reason, sent)
    with sqlite3.connect(small.data_dir / "calma.sqlite3") as db:
        (size,) = db.execute("SELECT COALESCE(SUM(length(data)), 0) FROM room_updates WHERE room = 'big'").fetchone()
    assert 0 < size <= 20000


async def test_sandbox_writes_are_rate_limited_per_address(tmp_path: Path) -> None:
    # 2,000 bytes/s: bursts of 32,000 bytes; the attacker writes 2 KB updates as fast as it can.
    process = started(tmp_path / "data", "--sandbox-write-rate", "2000")
    try:
        websocket = await joined(process, "flood")
        sent = await write_until_closed(websocket, frames=200, size=2000, prefix="f")
        code, reason = await closed_with(websocket)
        assert code == 4429 and "faster than 2000 bytes/s" in reason, (code, reason, sent)
        # Another connection from the same address gets no fresh allowance.
        again = await joined(process, "flood-2")
        await again.send(payload_update("y" * 20_000))
        assert (await closed_with(again))[0] == 4429
    finally:
        process.stop()


async def test_old_sandbox_rooms_are_deleted_by_the_sweep(small: ServerProcess) -> None:
    await write_and_confirm(small, "old-a", "a")
    await write_and_confirm(small, "old-b", "b")
    # A restart unloads them (a loaded room is never swept); then nobody writes for the lifetime (2 s).
    small.stop()
    small.start()
    with anyio.fail_after(20):
        while stored(small, "old-a") != (0, 0, 0) or stored(small, "old-b") != (0, 0, 0):
            await anyio.sleep(0.1)  # polling the store for the sweep's deletion, bounded
    # Their places are free again, and the deleted rooms start empty.
    await write_and_confirm(small, "new-c", "c")
    async with await joined(small, "old-a") as websocket:
        doc = pycrdt.Doc()
        with anyio.fail_after(10):
            async for frame in websocket:  # the server's answer to our sync step 1: everything it has
                if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":
                    pycrdt.handle_sync_message(frame[1:], doc)
                    break
        assert list(doc.get("notes", type=pycrdt.Array)) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--sandbox-max-rooms", "0"],
        ["--sandbox-max-room-bytes", "-1"],
        ["--sandbox-lifetime", "0"],
        ["--sandbox-write-rate", "0"],
        ["--sandbox-max-rooms", "many"],
    ],
)
def test_bad_sandbox_settings_stop_the_server_with_a_message(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calma", "serve", "--data-dir", str(tmp_path), "--port", "1", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--sandbox" in result.stderr, result.stderr


async def test_the_cap_and_the_sweep_work_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    def rows(room: str) -> tuple[int, ...]:
        with psycopg.connect(postgres_url) as conn:
            return tuple(
                int(conn.execute(f"SELECT count(*) FROM {table} WHERE room = %s", (room,)).fetchone()[0])  # type: ignore[index]
                for table in ("room_updates", "room_snapshots", "sandbox_rooms")
            )

    node = started(tmp_path / "data", "--database", postgres_url, "--sandbox-max-rooms", "1", "--sandbox-lifetime", "2")
    try:
        async with await joined(node, "only") as websocket:
            await websocket.send(payload_update("one"))
            with anyio.fail_after(10):
                while rows("only")[0] == 0:
                    await anyio.sleep(0.02)  # polling the store for a condition, bounded
        code, reason = await closed_with(await joined(node, "another"))
        assert code == 4429, (code, reason)
        node.stop()
        node.start()  # the room is no longer loaded: the sweep may take it
        with anyio.fail_after(20):
            while rows("only") != (0, 0, 0):
                await anyio.sleep(0.1)  # polling the store for the sweep's deletion, bounded
        async with await joined(node, "another") as websocket:  # its place is free again
            await websocket.send(payload_update("two"))
            with anyio.fail_after(10):
                while rows("another")[0] == 0:
                    await anyio.sleep(0.02)
    finally:
        node.stop()
