"""Who a /live connection speaks for, how that is decided, and what it may watch.

Owns `Principal`, the `LiveAuthenticator` protocol the access layer implements,
the sandbox stand-in, and the session rule (which study and group a principal
may watch and command; which study's progress it may watch). Which *command* a role may send is the schema's
`roles`, checked in `calma.live.channel`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from starlette.websockets import WebSocket

from calma.live.schema import CONTROL_SCHEMA

ID_PATTERN = re.compile(CONTROL_SCHEMA.document["types"]["Id"]["pattern"])


class Role(StrEnum):
    FACILITATOR = "facilitator"
    PARTICIPANT = "participant"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Principal:
    """A connection's identity. A facilitator's `study` and `group` may be None: not limited to one."""

    role: Role
    study: str | None = None
    group: str | None = None
    participant: str | None = None
    facilitator: str | None = None

    def as_frame(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "study": self.study,
            "group": self.group,
            "participant": self.participant,
            "facilitator": self.facilitator,
        }


class LiveAuthenticator(Protocol):
    """What the access layer provides to /live: who a connection is, and which sessions they may join."""

    async def authenticate(self, websocket: WebSocket) -> Principal | None:
        """The principal behind this (accepted) websocket, from its session cookie or `?token=`; None if none."""
        ...

    async def may_join(self, principal: Principal, study: str, group: str) -> bool:
        """Whether `principal` may see the live session `study`/`group` (subscribe; command, if their role allows).

        False also when the study or group does not exist: what one may not see does not exist for them.
        """
        ...

    async def may_watch_study(self, principal: Principal, study: str) -> bool:
        """Whether `principal` may follow every participant's progress in `study` (its facilitator only)."""
        ...


class SandboxAuthenticator:
    """SANDBOX ONLY: believes whoever the query string says you are.

    `/live?role=facilitator|participant|observer&study=S&group=G&participant=P&facilitator=F`.
    `study` and `role` are required; participants and observers need `group`; participants need
    `participant`; a facilitator without `facilitator` is "sandbox", and one without `group` may
    join every group of `study`. There is no secret: use it only where the hub's rooms are open to
    anyone too (the foundation's `OpenRooms` policy), never alongside real access control.
    """

    async def authenticate(self, websocket: WebSocket) -> Principal | None:
        query = websocket.query_params
        try:
            role = Role(query.get("role", ""))
        except ValueError:
            return None
        study, group, participant = query.get("study"), query.get("group"), query.get("participant")
        facilitator = query.get("facilitator") or ("sandbox" if role is Role.FACILITATOR else None)
        if not all(value is None or ID_PATTERN.fullmatch(value) for value in (study, group, participant, facilitator)):
            return None
        if study is None:
            return None
        if role is not Role.FACILITATOR and group is None:
            return None
        if role is Role.PARTICIPANT and participant is None:
            return None
        return Principal(role, study, group, participant if role is Role.PARTICIPANT else None, facilitator)

    async def may_join(self, principal: Principal, study: str, group: str) -> bool:
        if study != principal.study:
            return False
        return principal.group in (None, group) if principal.role is Role.FACILITATOR else principal.group == group

    async def may_watch_study(self, principal: Principal, study: str) -> bool:
        return False  # sandbox studies have no participants' progress to watch


class NoLiveAccess:
    """Refuses every /live connection (4401): the safe stand-in where rooms have real access control
    but no `LiveAuthenticator` has been wired yet."""

    async def authenticate(self, websocket: WebSocket) -> Principal | None:
        return None

    async def may_join(self, principal: Principal, study: str, group: str) -> bool:
        return False

    async def may_watch_study(self, principal: Principal, study: str) -> bool:
        return False
