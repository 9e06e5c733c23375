"""Study watchers on this node: facilitators' /live connections that follow a study's progress.

A connection watches a study after `study.watch` (the access layer decides who
may). It first gets a `progress.state` snapshot, then one `progress.update`
per change, published by whoever wrote the change (the REST API, through the
access layer's `StudyEvents`). Updates published while a watcher's snapshot is
still being read are held and sent right after it, so a watcher never sees a
snapshot older than an update it already got.

In-process only: a change made on another hub node reaches this node's
watchers once the many-nodes fan-out carries these events (a reconnect and a
new `study.watch` always resyncs from the store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from calma.live.connection import LiveConnection
from calma.live.frames import encode_server_frame


class ProgressSource(Protocol):
    """Where snapshots come from (the store of record, through the access layer)."""

    async def snapshot(self, study: str) -> tuple[Sequence[str], Sequence[Mapping[str, Any]]]:
        """The study's stage order and every participant's progress (ParticipantProgress maps)."""
        ...


class StudyWatchers:
    """Who watches which study, and the updates held for watchers still waiting for their snapshot."""

    def __init__(self) -> None:
        # study -> connection -> None (live) or the encoded updates held until its snapshot is sent
        self._watchers: dict[str, dict[LiveConnection, list[bytes] | None]] = {}

    def __len__(self) -> int:
        return sum(len(connections) for connections in self._watchers.values())

    def begin(self, study: str, connection: LiveConnection) -> None:
        """Start holding updates of `study` for `connection` until `ready` (its snapshot was queued)."""
        self._watchers.setdefault(study, {})[connection] = []

    def ready(self, study: str, connection: LiveConnection) -> None:
        """The snapshot is queued: send what was held, then every update as it comes."""
        watchers = self._watchers.get(study, {})
        held = watchers.get(connection)
        if connection in watchers:
            watchers[connection] = None
        for frame in held or ():
            connection.send_encoded(frame)

    def remove(self, study: str, connection: LiveConnection) -> None:
        watchers = self._watchers.get(study)
        if watchers is not None:
            watchers.pop(connection, None)
            if not watchers:
                del self._watchers[study]

    def publish(self, study: str, progress: Mapping[str, Any]) -> None:
        """Send one participant's progress to everyone watching `study` (checked against the schema once)."""
        watchers = self._watchers.get(study)
        if not watchers:
            return
        frame = encode_server_frame({"type": "progress.update", "study": study, "progress": dict(progress)})
        for connection, held in list(watchers.items()):
            if held is None:
                connection.send_encoded(frame)
            else:
                held.append(frame)
