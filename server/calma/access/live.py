"""The access layer's `LiveAuthenticator` for the `/live` control channel (`calma.live`).

A connection is who its `?token=` or session cookie says (the same checks as
the rooms), and may join the live session of a study and group that
`policy.room_permission` lets it into (the group's control room).

With sandbox rooms on, a connection without credentials falls back to the
sandbox authenticator (identity from the query string), but such a principal
may join only sessions of studies that do not exist in the store: a sandbox
connection can never act in a real study.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.websockets import WebSocket

from calma.access import policy
from calma.access.authenticate import AuthenticationError, Authenticator
from calma.access.principal import Principal
from calma.access.tokens import TokenRejected
from calma.live.principal import LiveAuthenticator
from calma.live.principal import Principal as LivePrincipal
from calma.live.principal import Role as LiveRole
from calma.studies.model import Role
from calma.studies.rooms import StudyRoom
from calma.studies.store import StudyStore


@dataclass(frozen=True)
class VerifiedLivePrincipal(LivePrincipal):
    """A /live principal whose identity a session or token proved (sandbox principals are plain ones)."""

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
    def __init__(
        self, store: StudyStore, authenticator: Authenticator, *, sandbox: LiveAuthenticator | None = None
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._sandbox = sandbox

    async def authenticate(self, websocket: WebSocket) -> LivePrincipal | None:
        try:
            principal = await self._authenticator.websocket(websocket)
        except (AuthenticationError, TokenRejected):
            return None  # /live closes with its own 4401 and reason
        if principal is not None:
            return live_principal(principal)
        if self._sandbox is not None:
            return await self._sandbox.authenticate(websocket)
        return None

    async def may_join(self, principal: LivePrincipal, study: str, group: str) -> bool:
        if not isinstance(principal, VerifiedLivePrincipal):
            if self._sandbox is None or await self._store.study(study) is not None:
                return False
            return await self._sandbox.may_join(principal, study, group)
        the_study = await self._store.study(study)
        the_group = await self._store.group(study, group) if the_study is not None else None
        room = StudyRoom.control(study, group)
        return policy.room_permission(_access_principal(principal), room, the_study, the_group, None) is not None


def _access_principal(principal: VerifiedLivePrincipal) -> Principal:
    return Principal(
        role=Role(principal.role.value),
        name=principal.name,
        facilitator_id=principal.facilitator,
        participant_id=principal.participant,
        study_id=principal.study,
        group_id=principal.group,
    )
