"""Interop with the stock JavaScript clients: yjs + y-websocket's WebsocketProvider under Node.

A pycrdt client and `client/scripts/interop.mjs` (stock yjs + y-websocket with the `ws`
package) exchange board labels through a real hub, in both directions.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc, labels

pytestmark = pytest.mark.node

CLIENT_DIR = Path(__file__).resolve().parents[1] / "client"
INTEROP_SCRIPT = CLIENT_DIR / "scripts" / "interop.mjs"
NODE_PACKAGES = ("yjs", "y-websocket", "ws")
SETUP_HINT = "install the client's packages first (client/README.md): `cd client && npm ci`"


def node_executable() -> str:
    """The `node` binary, with the client's npm packages installed; fails the test otherwise."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js is not on PATH; install Node >= 20.19, then {SETUP_HINT}")
    missing = [name for name in NODE_PACKAGES if not (CLIENT_DIR / "node_modules" / name / "package.json").is_file()]
    if missing:
        pytest.fail(f"client/node_modules lacks {', '.join(missing)}; {SETUP_HINT}")
    return node


async def run_interop(
    server: ServerProcess, room: str, mode: str, expect: int, prefix: str, timeout_s: float = 20.0
) -> dict[str, Any]:
    """Run interop.mjs to completion and return the JSON line it printed."""
    process = await asyncio.create_subprocess_exec(
        node_executable(), str(INTEROP_SCRIPT),
        "--url", f"{server.ws_url}/rooms", "--room", room, "--mode", mode,
        "--expect", str(expect), "--text", prefix, "--timeout", str(int(timeout_s * 1000)),
        cwd=CLIENT_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_s + 15)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"interop.mjs --mode {mode} did not exit within {timeout_s + 15}s")
    out, err = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    assert process.returncode == 0, (
        f"interop.mjs --mode {mode} exited {process.returncode}\nstdout:\n{out}\nstderr:\n{err}\n"
        f"server log:\n{server.log()[-4000:]}"
    )
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"interop.mjs printed nothing\nstderr:\n{err}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def add_schema_label(doc: pycrdt.Doc, text: str, author: str) -> None:
    """Append a label with every field of shared_schema/board.json."""
    labels(doc).append(
        {"id": uuid.uuid4().hex, "text": text, "author": author, "createdAt": float(time.time() * 1000)}
    )


def labels_with_prefix(doc: pycrdt.Doc, prefix: str) -> list[dict[str, Any]]:
    """The labels whose text starts with `prefix-`, as plain dicts."""
    found = []
    for item in labels(doc):
        value = item.to_py() if isinstance(item, pycrdt.Map) else item
        if isinstance(value, dict) and str(value.get("text", "")).startswith(f"{prefix}-"):
            found.append(value)
    return found


async def test_pycrdt_writes_node_reads(server: ServerProcess) -> None:
    """Labels written by pycrdt arrive, with their fields, at the stock JS client."""
    room, prefix, count = "interop-py-to-node", "from-python", 5
    async with connect_doc(server.room_url(room)) as writer:
        with writer.doc.transaction():
            for i in range(count):
                add_schema_label(writer.doc, f"{prefix}-{i}", author="pycrdt")
        result = await run_interop(server, room, "read", count, prefix)
    assert result["mode"] == "read"
    assert result["seen"] == count
    assert sorted(result["texts"]) == sorted(f"{prefix}-{i}" for i in range(count))
    assert result["authors"] == ["pycrdt"]


async def test_node_writes_pycrdt_reads(server: ServerProcess) -> None:
    """Labels written by the stock JS client reach a live pycrdt client and a late one."""
    room, prefix, count = "interop-node-to-py", "from-node", 5
    expected = {f"{prefix}-{i}" for i in range(count)}
    async with connect_doc(server.room_url(room)) as live:
        result = await run_interop(server, room, "write", count, prefix)
        assert result == {
            "mode": "write", "room": room, "written": count, "confirmed": count,
            "texts": [f"{prefix}-{i}" for i in range(count)],
        }  # fmt: skip
        await live.wait_for(lambda doc: {label["text"] for label in labels_with_prefix(doc, prefix)} >= expected)
    async with connect_doc(server.room_url(room)) as late:
        seen = labels_with_prefix(late.doc, prefix)
    assert {label["text"] for label in seen} == expected
    for label in seen:
        assert label["author"] == "node-interop"
        assert isinstance(label["id"], str) and label["id"]
        assert isinstance(label["createdAt"], float) and label["createdAt"] > 0
