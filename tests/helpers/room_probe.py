"""Finding out what a websocket may do in a room: write, only read, or not enter (and the close code)."""

from __future__ import annotations

import uuid

import anyio
import pycrdt
from pycrdt import create_sync_message, create_update_message, handle_sync_message
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.ydoc_client import add_label, label_texts

READ_WRITE = "read-write"
READ_ONLY = "read-only"


def _label_update(text: str) -> bytes:
    doc = pycrdt.Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    add_label(doc, text)
    return create_update_message(updates[0])


async def probe_room(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> str:
    """READ_WRITE, READ_ONLY, or the close code (as a string) the server refused the connection with.

    Writes one label, then asks for the whole document (sync step 1 from an empty doc). The hub
    handles a connection's frames in order, so its sync step 2 answer holds the label if the write
    was accepted; a read-only connection is told so (an auth message) before that answer.
    """
    label = f"probe-{uuid.uuid4().hex}"
    seen = pycrdt.Doc()
    told_read_only = False
    try:
        async with connect(url, additional_headers=headers or {}, max_size=None) as websocket:
            await websocket.send(_label_update(label))
            await websocket.send(create_sync_message(pycrdt.Doc()))
            with anyio.fail_after(timeout):
                while True:
                    frame = await websocket.recv()
                    assert isinstance(frame, bytes)
                    if frame[0] == 2:  # auth: permission denied (read-only)
                        told_read_only = True
                    elif frame[:2] == b"\x00\x01":  # sync step 2: the answer to our step 1
                        handle_sync_message(frame[1:], seen)
                        break
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server closed without a close frame"
        return str(closed.rcvd.code)
    written = label in label_texts(seen)
    if written and not told_read_only:
        return READ_WRITE
    assert told_read_only and not written, (told_read_only, written)
    return READ_ONLY


async def close_reason(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """The close code and reason of a connection the server refuses."""
    async with connect(url, additional_headers=headers or {}, max_size=None) as websocket:
        try:
            with anyio.fail_after(10):
                while True:
                    await websocket.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")
