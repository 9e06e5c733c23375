"""The access layer's `LiveAuthenticator` for the `/live` control channel (`calma.live`).

A connection is who its `?token=` or session cookie says (the same checks as
the rooms), and may join the live session of a study and group that
`policy.room_permission` lets it into (the group's control room). A connection
without either is refused (4401), whatever the server's sandbox setting and
whatever its query string claims: there is no anonymous or self-declared
identity on /live, so no frame (chat, commands, notifications, progress) can
act for someone the connection has not proved to be.

A study's progress (`study.watch`) is for its facilitator only
(`policy.manages_study`). Each authenticated connection is registered under its
credential (`calma.access.live_connections`) and closed with 4401 when that
session or token is revoked (found through `attach_channel`). `StudyProgressFeed` reads the snapshots from the
store; `LiveStudyEvents` is what the REST API tells when it writes progress
(a participant joined, or changed stage), passed on to the watchers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from calma.access import policy
from calma.access.authenticate import AuthenticationError, Authenticator
from calma.access.principal import Principal
from calma.access.tokens import TokenRejected
from calma.live.codes import LiveClosed, LiveCloseCode
from calma.live.connection import LiveConnection
from calma.live.principal import Principal as LivePrincipal
from calma.live.principal import Role as LiveRole
from calma.live.watch import StudyWatchers
from calma.studies.model import Progress, Role
from calma.studies.rooms import StudyRoom
from calma.studies.store import StudyStore


@dataclass(frozen=True)
class VerifiedLivePrincipal(LivePrincipal):
    """A /live principal whose identity a session or token proved: the only kind this module hands out."""

    name: str = ""


def live_principal(principal: Principal) -> VerifiedLivePrincipal:
    return VerifiedLivePrincipal(
        role=LiveRole(principal.role.value),
        study=principal.study_id,
        group=principal.group_id,
        participant=principal.participant_id,
        facilitator=principal.facilitator_id,
        name=principal.name,
    )


class StudyLiveAuthenticator:
    def __init__(self, store: StudyStore, authenticator: Authenticator) -> None:
        self._store = store
        self._authenticator = authenticator
        self._connection_of: Callable[[WebSocket], LiveConnection | None] | None = None

    def attach_channel(self, connection_of: Callable[[WebSocket], LiveConnection | None]) -> None:
        """How to find the /live connection of a websocket, to close it when its credential is revoked."""
        self._connection_of = connection_of

    async def authenticate(self, websocket: WebSocket) -> LivePrincipal | None:
        """Who the session cookie or `?token=` proves; None (closed 4401) without them. Nothing else is read."""
        try:
            principal, credential = await self._authenticator.websocket_credential(websocket)
        except (AuthenticationError, TokenRejected):
            return None  # /live closes with its own 4401 and reason
        if principal is None:
            return None
        self._authenticator.connections.register(websocket, credential, self._close)
        return live_principal(principal)

    def _close(self, websocket: WebSocket, reason: str) -> None:
        connection = None if self._connection_of is None else self._connection_of(websocket)
        if connection is not None:
            connection.close(LiveClosed(LiveCloseCode.UNAUTHORIZED, reason))

    async def may_join(self, principal: LivePrincipal, study: str, group: str) -> bool:
        if not isinstance(principal, VerifiedLivePrincipal):
            return False  # not from this authenticator: nobody we know
        the_study = await self._store.study(study)
        the_group = await self._store.group(study, group) if the_study is not None else None
        room = StudyRoom.control(study, group)
        return policy.room_permission(_access_principal(principal), room, the_study, the_group, None) is not None

    async def may_watch_study(self, principal: LivePrincipal, study: str) -> bool:
        if not isinstance(principal, VerifiedLivePrincipal) or principal.role is not LiveRole.FACILITATOR:
            return False
        the_study = await self._store.study(study)
        return the_study is not None and policy.manages_study(_access_principal(principal), the_study)


MAX_DISPLAY_NAME = 200  # ParticipantProgress.display_name in control.json


def progress_entry(progress: Progress) -> dict[str, Any]:
    """One participant's progress as a ParticipantProgress map of the control channel."""
    return {
        "participant": progress.participant_id,
        "display_name": progress.display_name[:MAX_DISPLAY_NAME],
        "group": progress.group_id,
        "stage": progress.stage.value,
        "updated_at": int(progress.updated_at * 1000),
    }


class StudyProgressFeed:
    """Progress snapshots for /live watchers, from the store of record."""

    def __init__(self, store: StudyStore) -> None:
        self._store = store

    async def snapshot(self, study: str) -> tuple[Sequence[str], Sequence[Mapping[str, Any]]]:
        the_study = await self._store.study(study)
        order = [] if the_study is None else [stage.value for stage in the_study.content.stage_order]
        return order, [progress_entry(p) for p in await self._store.progress_of_study(study)]


class LiveStudyEvents:
    """Tells /live watchers of a study what the API changed (the API's `StudyEvents`)."""

    def __init__(self, watchers: StudyWatchers) -> None:
        self._watchers = watchers

    def progress_changed(self, progress: Progress) -> None:
        self._watchers.publish(progress.study_id, progress_entry(progress))


def _access_principal(principal: VerifiedLivePrincipal) -> Principal:
    return Principal(
        role=Role(principal.role.value),
        name=principal.name,
        facilitator_id=principal.facilitator,
        participant_id=principal.participant,
        study_id=principal.study,
        group_id=principal.group,
    )
