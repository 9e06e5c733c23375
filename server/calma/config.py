"""Settings: every tunable of a hub node, with the embedded defaults.

Owns the defaults and their validation; must not read files or start anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from calma.hub.update_check import UpdateLimits
from calma.interact.models import LLMSettings
from calma.edge.caps import CapSettings
from calma.edge.slow_clients import ReadDeadlines

ROOM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


@dataclass(frozen=True)
class RoomLimits:
    """Per-room and per-connection limits, each enforced with a close code."""

    max_frame_bytes: int = 1024 * 1024
    # A newcomer receives the whole document in one sync step into its outbox: the document, plus one more
    # frame, must fit in `max_outbox_bytes` (checked below), or one big board would lock everyone out (4408).
    max_document_bytes: int = 6 * 1024 * 1024
    max_connections_per_room: int = 2000
    max_awareness_state_bytes: int = 8 * 1024
    max_outbox_bytes: int = 8 * 1024 * 1024
    room_name_pattern: str = ROOM_NAME_PATTERN
    # What one client update may hold (nesting depth, string sizes, counts): checked before Yrs sees it.
    updates: UpdateLimits = field(default_factory=UpdateLimits)

    def __post_init__(self) -> None:
        if self.max_document_bytes + self.max_frame_bytes > self.max_outbox_bytes:
            raise ValueError(
                f"a document of up to {self.max_document_bytes} bytes plus a frame of {self.max_frame_bytes} must fit "
                f"in what a newcomer can receive ({self.max_outbox_bytes} bytes): lower --max-document-bytes"
            )

    def room_name_ok(self, name: str) -> bool:
        return re.fullmatch(self.room_name_pattern, name) is not None


@dataclass(frozen=True)
class Settings:
    """Everything `calma serve` can be told."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("calma-data")
    static_dir: Path | None = None
    limits: RoomLimits = field(default_factory=RoomLimits)
    # Group commit: how long the first append of a batch waits for company.
    group_commit_window_s: float = 0.002
    group_commit_max_batch: int = 512
    # Compaction: fold the update log into a snapshot once it holds this many updates.
    compact_after_updates: int = 500
    # Awareness: at most one combined relay per room per interval.
    awareness_interval_s: float = 0.05
    # A room with no connections is unloaded after this long.
    room_idle_s: float = 30.0
    # The store of record: `sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB` (calma.store.factory);
    # None: the SQLite file in the data dir (`database_path`).
    database_url: str | None = None
    # Many nodes: Redis carries every room's updates (one stream per room) and presence between hub nodes.
    redis_url: str | None = None
    # Embeddings: True sends them to `calma embed-worker` processes over `redis_url` (one model process for
    # many nodes) instead of the model in this process; a call fails if no worker answers within the timeout.
    embed_workers: bool = False
    embed_timeout_s: float = 10.0
    # SQLite synchronous mode: FULL survives power loss; NORMAL survives process crashes.
    sqlite_synchronous: str = "FULL"
    # On shutdown, how long to wait for connections to take their 1001 close.
    drain_timeout_s: float = 2.0
    log_level: str = "info"
    # Rooms outside any study (the demo page's): open to anyone when True, refused when False. `calma serve`
    # turns them on only when it listens on loopback, unless told (calma.access.sandbox.sandbox_default).
    sandbox_rooms: bool = True
    # Whether `sandbox_rooms` was asked for (`--sandbox-rooms`) rather than the loopback default: only then do
    # sandbox rooms take handshakes that came through a proxy (X-Forwarded-For / Forwarded).
    sandbox_rooms_explicit: bool = False
    # The secret that signs tokens; None: `secret.key` in the data dir, created on first start.
    secret_file: Path | None = None
    # REST API: the largest request body accepted, and how long a browser session lasts.
    api_max_body_bytes: int = 256 * 1024
    session_ttl_s: int = 14 * 24 * 3600
    # How often each node asks the store whether the sessions and invites of its open websockets still hold,
    # closing those revoked elsewhere (another node, `calma admin reset-password`); calma.access.live_connections.
    recheck_credentials_s: float = 30.0
    # Interact: the models participants chat with (default: the packaged Gemma 3 270M stand-in, embedded).
    llm: LLMSettings = field(default_factory=LLMSettings)
    # Where the packaged model's GGUF is assembled (None: ~/.cache/calma/models).
    model_cache_dir: Path | None = None
    # Interact: streamed text is stored, then sent, in batches at most this far apart.
    chat_flush_interval_s: float = 0.1
    # Floods (calma.edge): open websocket connections per client address and in all, refused before any route;
    # how long a client may take to send a request's head and body, and the largest head.
    connection_caps: CapSettings = field(default_factory=CapSettings)
    read_deadlines: ReadDeadlines = field(default_factory=ReadDeadlines)
    # What one participant may add: A/B trials per test, labels written on a group's canvas.
    max_ab_trials_per_participant: int = 100
    max_canvas_labels_per_participant: int = 60
    # Sign-in throttle (calma.access.throttle): after this many failures in a row on an account (four times as
    # many from one address), each attempt waits the base delay, doubling each failure up to the cap.
    sign_in_free_failures: int = 5
    sign_in_base_delay_s: float = 1.0
    sign_in_max_delay_s: float = 300.0
    # /metrics: loopback clients always; anyone else only with `Authorization: Bearer <this>` (None: nobody else).
    metrics_token: str | None = None
    # Sandbox rooms (calma.access.sandbox), when `sandbox_rooms` is on: at most this many rooms, each at most
    # this many bytes, deleted once unwritten for the lifetime; each client address writes at most this many
    # bytes per second to them (in bursts of up to 16 seconds' worth).
    sandbox_max_rooms: int = 100
    sandbox_max_room_bytes: int = 1024 * 1024
    sandbox_room_lifetime_s: float = 24 * 3600.0
    sandbox_write_bytes_per_s: int = 64 * 1024

    @property
    def database_path(self) -> Path:
        return self.data_dir / "calma.sqlite3"

    @property
    def secret_path(self) -> Path:
        return self.secret_file or self.data_dir / "secret.key"
