"""Who a /live connection speaks for, how that is decided, and what it may watch.

Owns `Principal`, the `LiveAuthenticator` protocol the access layer implements
(which study and group a principal may watch and command; which study's
progress it may watch) and `NoLiveAccess`, which refuses everyone. Which
*command* a role may send is the schema's `roles`, checked in
`calma.live.channel`.

A principal comes only from credentials the server can check (a session cookie
or a signed token), never from what a client says about itself: everything a
connection does (sessions, commands, chat, notifications, progress) acts for
the principal fixed at its handshake, so no frame can name someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from starlette.websockets import WebSocket


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


class NoLiveAccess:
    """Refuses every /live connection (4401): the safe stand-in where rooms have real access control
    but no `LiveAuthenticator` has been wired yet."""

    async def authenticate(self, websocket: WebSocket) -> Principal | None:
        return None

    async def may_join(self, principal: Principal, study: str, group: str) -> bool:
        return False

    async def may_watch_study(self, principal: Principal, study: str) -> bool:
        return False
