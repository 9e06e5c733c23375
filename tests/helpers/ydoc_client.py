"""A stock pycrdt client (pycrdt.Provider) over a real websocket, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pycrdt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class WebsocketChannel:
    """pycrdt's Channel over a `websockets` client connection."""

    def __init__(self, websocket: ClientConnection, path: str) -> None:
        self._websocket = websocket
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> WebsocketChannel:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration() from None

    async def send(self, message: bytes) -> None:
        await self._websocket.send(message)

    async def recv(self) -> bytes:
        message = await self._websocket.recv()
        assert isinstance(message, bytes), "the room protocol is binary"
        return message


@dataclass
class DocClient:
    doc: pycrdt.Doc
    websocket: ClientConnection

    async def wait_for(self, predicate: Callable[[pycrdt.Doc], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate(doc)` holds, re-checking on every change of the document."""
        changed = anyio.Event()

        def on_change(_event: object) -> None:
            changed.set()

        subscription = self.doc.observe(on_change)
        try:
            with anyio.fail_after(timeout):
                while not predicate(self.doc):
                    await changed.wait()
                    changed = anyio.Event()
        finally:
            self.doc.unobserve(subscription)


@asynccontextmanager
async def connect_doc(url: str, doc: pycrdt.Doc | None = None, *, sync_timeout: float = 10.0,
                      headers: dict[str, str] | None = None) -> AsyncIterator[DocClient]:
    """Connect a pycrdt document to a room (with these headers, e.g. a session cookie) and wait until the first sync."""
    doc = doc if doc is not None else pycrdt.Doc()
    async with connect(url, max_size=None, additional_headers=headers or {}) as websocket:
        async with pycrdt.Provider(doc, WebsocketChannel(websocket, url)) as provider:
            with anyio.fail_after(sync_timeout):
                await provider.synced.wait()
            yield DocClient(doc, websocket)


def labels(doc: pycrdt.Doc) -> pycrdt.Array:
    return doc.get("labels", type=pycrdt.Array)


def add_label(doc: pycrdt.Doc, text: str, author: str = "test") -> None:
    labels(doc).append({"id": text, "text": text, "author": author, "createdAt": 0.0})  # a plain value, as the client


def label_texts(doc: pycrdt.Doc) -> list[str]:
    return [str(item["text"]) for item in labels(doc)]
