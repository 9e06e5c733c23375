"""The many-node room log: one Redis stream per room, shared by every hub node (the y-redis design).

Owns the stream keys, the one blocking read loop per node, presence over
pub/sub, and the compaction lock. A node appends an update with XADD and
relays nothing until its read loop reads the entry back from the stream, so
every node applies every room's updates in the stream's order, and nothing is
relayed before Redis has acknowledged it (Redis runs with AOF). Snapshots go to
the store of record; a stream is trimmed only after a snapshot covers its
entries and every node still reading the room has read past them.

When Redis goes away the node stays up: its loops log and retry, commands
retry on a new connection, and presence channels are subscribed again on
reconnect; `check` (for /healthz) says at once whether Redis answers now.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from dataclasses import dataclass

import anyio
import redis.asyncio as aioredis
from anyio.abc import TaskStatus
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from calma.hub.log import RoomFeed
from calma.store import RoomRecord, Store, StoreError

log = logging.getLogger(__name__)

SEQ_BITS = 22  # a stream id "ms-seq" is kept in the store as ms << 22 | seq
READ_BLOCK_MS = 100
READ_COUNT = 1000
PROGRESS_FRESH_S = 60.0  # a node that has not reported progress for this long no longer holds back trimming
COMPACT_LOCK_MS = 60_000
APPLIED_WAIT_S = 10.0
HEALTH_TIMEOUT_S = 1.0  # /healthz: how long a PING may take before Redis counts as unreachable


def stream_id_to_int(stream_id: str) -> int:
    ms, _, seq = stream_id.partition("-")
    return (int(ms) << SEQ_BITS) | int(seq or 0)


def int_to_stream_id(value: int) -> str:
    return f"{value >> SEQ_BITS}-{value & ((1 << SEQ_BITS) - 1)}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class _Subscription:
    feed: RoomFeed
    last_id: str


class RedisLog:
    """A `RoomLog` on Redis streams; run `run()` in the app's task group."""

    def __init__(self, url: str, store: Store, *, prefix: str = "calma") -> None:
        self._url = url
        self._store = store
        self._prefix = prefix
        self.node_id = uuid.uuid4().hex[:12]
        # A command that meets a dropped connection (Redis restarted) reconnects and runs again. An XADD
        # run twice stores an update twice, which is harmless: applying a Yjs update again changes nothing.
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=8)
        retry_on = [RedisConnectionError, RedisTimeoutError]
        self._redis = aioredis.from_url(url, retry=retry, retry_on_error=retry_on)  # commands
        self._reader = aioredis.from_url(url, retry=retry, retry_on_error=retry_on)  # the read loops' own
        self._pubsub = self._reader.pubsub()
        # /healthz: one quick try, and one more on a new connection (the pooled one may predate a Redis restart).
        self._health = aioredis.from_url(
            url, socket_connect_timeout=HEALTH_TIMEOUT_S, socket_timeout=HEALTH_TIMEOUT_S,
            retry=Retry(NoBackoff(), retries=1), retry_on_error=retry_on,
        )  # fmt: skip
        self._rooms: dict[str, _Subscription] = {}
        self._origins: dict[str, object] = {}
        self._applied: dict[str, anyio.Event] = {}  # server writes waiting until this node has applied them
        self._tokens = itertools.count()
        self._changed = anyio.Event()  # the set of rooms changed: the read loop re-issues its XREAD
        self._subscribed = anyio.Event()  # the presence loop has a channel to listen to
        self._progress: dict[str, str] = {}
        self._progress_due = anyio.Event()
        self._unsubscribe: list[str] = []

    # -- keys --------------------------------------------------------------

    def stream_key(self, room: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:updates"

    def _progress_key(self, room: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:progress"

    def _lock_key(self, room: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:compacting"

    def _snapshot_key(self, room: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:snapshot-upto"

    def _awareness_channel(self, room: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:awareness"

    # -- RoomLog -----------------------------------------------------------

    async def open(self, room: str, feed: RoomFeed) -> RoomRecord:
        record = await self._store.load_room(room)
        start = int_to_stream_id(record.snapshot_upto) if record.snapshot_upto else "0-0"
        try:
            entries = await self._redis.xrange(self.stream_key(room), min=f"({start}" if start != "0-0" else "-")
        except RedisError as exc:
            raise StoreError(f"cannot read room {room!r} from Redis: {exc}") from exc
        updates = list(record.updates)  # a log written by a single node before this one joined Redis
        last_id = start
        for entry_id, fields in entries:
            last_id = _text(entry_id)
            updates.append((stream_id_to_int(last_id), fields[b"u"]))
        self._rooms[room] = _Subscription(feed, last_id)
        try:
            await self._pubsub.subscribe(self._awareness_channel(room))
        except RedisError as exc:
            del self._rooms[room]
            raise StoreError(f"cannot subscribe to room {room!r} presence in Redis: {exc}") from exc
        self._changed.set()
        self._subscribed.set()
        await self._publish(room, b"Q")  # the other nodes answer with their connections' presence
        return RoomRecord(record.snapshot, record.snapshot_upto, updates)

    def close(self, room: str, feed: RoomFeed) -> None:
        subscription = self._rooms.get(room)
        if subscription is not None and subscription.feed is feed:
            del self._rooms[room]
            self._unsubscribe.append(self._awareness_channel(room))
            self._changed.set()

    async def append(self, room: str, update: bytes, origin: object | None) -> None:
        """XADD the update. A server write (no origin) also waits until this node has applied it, as on one
        node: whoever writes as the server next reads a document that holds it."""
        token = f"{self.node_id}:{next(self._tokens)}"
        if origin is not None:
            self._origins[token] = origin
        applied = self._applied[token] = anyio.Event() if origin is None and room in self._rooms else None
        try:
            await self._redis.xadd(self.stream_key(room), {"u": update, "o": token})
        except RedisError as exc:
            self._origins.pop(token, None)
            self._applied.pop(token, None)
            raise StoreError(f"Redis did not take an update for room {room!r}: {exc}") from exc
        if applied is not None:
            with anyio.move_on_after(APPLIED_WAIT_S) as waited:  # durable already; this only orders what follows
                await applied.wait()
            self._applied.pop(token, None)
            if waited.cancelled_caught:
                log.warning("a server write was not read back in time", extra={"room": room})

    async def fold(self, room: str, snapshot: bytes, upto: int, pending: int) -> int | None:
        """Snapshot into the store, then trim what every live reader has read; once per round."""
        lock = self._lock_key(room)
        try:
            if not await self._redis.set(lock, self.node_id, nx=True, px=COMPACT_LOCK_MS):
                return None
            try:
                if await self._folded_this_round(room, upto, pending):
                    return None
                await self._store.write_snapshot(room, snapshot, upto)
                await self._redis.set(self._snapshot_key(room), upto)
                trim_to = min([upto, *await self._reader_positions(room)])
                trimmed = await self._redis.xtrim(self.stream_key(room), minid=int_to_stream_id(trim_to + 1))
                return int(trimmed)
            finally:
                if _text(await self._redis.get(lock) or b"") == self.node_id:
                    await self._redis.delete(lock)
        except RedisError as exc:
            raise StoreError(f"compaction of room {room!r} failed in Redis: {exc}") from exc

    async def _folded_this_round(self, room: str, upto: int, pending: int) -> bool:
        """Whether another node has folded since we last did: fewer than our `pending` updates are uncovered.

        Nodes that skip start counting again from there, so while one node keeps
        folding the others keep skipping; if it stops, the next one to count
        `pending` uncovered updates folds.
        """
        stored = int(await self._redis.get(self._snapshot_key(room)) or 0)
        if stored >= upto:
            return True
        lower = f"({int_to_stream_id(stored)}" if stored else "-"
        uncovered = await self._redis.xrange(self.stream_key(room), min=lower, max=int_to_stream_id(upto), count=pending)
        return len(uncovered) < pending

    async def _reader_positions(self, room: str) -> list[int]:
        """Where each node still serving the room has read to (stale reports are ignored)."""
        positions = []
        now = time.time()
        for _node, value in (await self._redis.hgetall(self._progress_key(room))).items():
            stream_id, _, reported_at = _text(value).partition("@")
            if now - float(reported_at or 0) < PROGRESS_FRESH_S:
                positions.append(stream_id_to_int(stream_id))
        return positions

    async def share_awareness(self, room: str, update: bytes) -> None:
        await self._publish(room, b"U" + update)

    async def _publish(self, room: str, message: bytes) -> None:
        """Presence between nodes: `<node>|U<awareness update>`, or `<node>|Q` to ask for everyone's."""
        try:
            await self._redis.publish(self._awareness_channel(room), self.node_id.encode() + b"|" + message)
        except RedisError as exc:  # presence is ephemeral: clients renew their state every 15 s
            log.warning("could not publish presence", extra={"room": room, "error": str(exc)})

    async def check(self) -> None:
        """Raise StoreError unless Redis answers a PING now (within about HEALTH_TIMEOUT_S, never the long retries)."""
        try:
            with anyio.fail_after(3 * HEALTH_TIMEOUT_S):
                await self._health.ping()
        except TimeoutError:
            raise StoreError(f"Redis did not answer a PING within {3 * HEALTH_TIMEOUT_S:g} s") from None
        except RedisError as exc:
            raise StoreError(f"Redis does not answer: {exc}") from exc

    # -- the node's loops --------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The node's loops, until cancelled; its Redis connections close when it ends."""
        try:
            await self._redis.ping()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read_updates)
                tg.start_soon(self._read_presence)
                tg.start_soon(self._report_progress)
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self._pubsub.aclose()
                await self._reader.aclose()
                await self._redis.aclose()
                await self._health.aclose()

    async def _read_updates(self) -> None:
        """One blocking XREAD over the streams of every room this node serves, forever."""
        while True:
            if not self._rooms:
                await self._changed.wait()
            self._changed = anyio.Event()
            streams = {self.stream_key(room): sub.last_id for room, sub in self._rooms.items()}
            if not streams:
                continue
            try:
                replies = await self._reader.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS)
            except RedisError as exc:
                log.error("reading room streams from Redis failed; retrying", extra={"error": str(exc)})
                await anyio.sleep(0.5)
                continue
            for key, entries in replies or []:
                self._deliver(_text(key), entries)

    def _deliver(self, key: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        room = key[len(f"{self._prefix}:room:{{") : -len("}:updates")]
        subscription = self._rooms.get(room)
        if subscription is None:
            return  # unloaded while we were reading
        for entry_id, fields in entries:
            token = _text(fields.get(b"o", b""))
            origin = self._origins.pop(token, None) if token.startswith(self.node_id + ":") else None
            subscription.last_id = _text(entry_id)
            subscription.feed.deliver(stream_id_to_int(subscription.last_id), fields[b"u"], origin)
            applied = self._applied.get(token)
            if applied is not None:
                applied.set()
        self._report_progress_soon(room, subscription.last_id)

    def _report_progress_soon(self, room: str, last_id: str) -> None:
        self._progress[room] = last_id
        self._progress_due.set()

    async def _report_progress(self) -> None:
        """Tell the other nodes how far this node has read each room (at most 5 writes a second)."""
        while True:
            await self._progress_due.wait()
            self._progress_due = anyio.Event()
            pending, self._progress = self._progress, {}
            now = time.time()
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for room, last_id in pending.items():
                        pipe.hset(self._progress_key(room), self.node_id, f"{last_id}@{now}")
                    await pipe.execute()
            except RedisError as exc:  # compaction then trims less, never more
                log.warning("could not report read progress to Redis", extra={"error": str(exc)})
            await anyio.sleep(0.2)

    async def _read_presence(self) -> None:
        own = self.node_id.encode() + b"|"
        while True:
            if not self._rooms:
                self._subscribed = anyio.Event()
                await self._subscribed.wait()
            try:
                while self._unsubscribe:
                    await self._pubsub.unsubscribe(self._unsubscribe.pop())
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError as exc:
                log.error("reading presence from Redis failed; retrying", extra={"error": str(exc)})
                await anyio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            if data.startswith(own):
                continue
            channel = _text(message["channel"])
            room = channel[len(f"{self._prefix}:room:{{") : -len("}:awareness")]
            subscription = self._rooms.get(room)
            if subscription is not None:
                _node, _, message_body = data.partition(b"|")
                if message_body == b"Q":
                    subscription.feed.awareness_query()
                elif message_body.startswith(b"U"):
                    subscription.feed.remote_awareness(message_body[1:])
