"""Minimal y-websocket peers over raw websockets, for tests that need to see every frame."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pycrdt
from pycrdt import create_sync_message, create_update_message, handle_sync_message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.ydoc_client import add_label, label_texts


async def record_labels(url: str, seen: set[str], on_change: Callable[[], None] | None = None) -> None:
    """Sync a fresh doc with the room and add every label text it ever holds to `seen`, until the socket closes."""
    doc = pycrdt.Doc()
    try:
        async with connect(url, max_size=None) as websocket:
            await websocket.send(create_sync_message(doc))
            async for frame in websocket:
                assert isinstance(frame, bytes)
                if frame[0] == 0:
                    reply = handle_sync_message(frame[1:], doc)
                    if reply is not None:
                        await websocket.send(reply)
                    seen.update(label_texts(doc))
                    if on_change is not None:
                        on_change()
    except ConnectionClosed:
        return


async def write_labels(url: str, prefix: str, count: int, interval_s: float = 0.002) -> int:
    """Send `count` labels as separate updates, one per `interval_s` (pacing, so the writer
    does not starve the other tasks of this test process); return how many were sent."""
    doc = pycrdt.Doc()
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    sent = 0
    try:
        async with connect(url, max_size=None) as websocket:
            for index in range(count):
                add_label(doc, f"{prefix}-{index}")
                while updates:
                    await websocket.send(create_update_message(updates.pop(0)))
                sent += 1
                await anyio.sleep(interval_s)
    except ConnectionClosed:
        pass
    finally:
        doc.unobserve(subscription)
    return sent


async def frames_until_close(websocket: ClientConnection, timeout: float = 10.0) -> list[bytes]:
    """Every frame the server sends until it closes the connection (the close code is on `websocket`)."""
    frames: list[bytes] = []
    with anyio.fail_after(timeout):
        try:
            while True:
                frame = await websocket.recv()
                assert isinstance(frame, bytes), "the room protocol is binary"
                frames.append(frame)
        except ConnectionClosed:
            return frames
