"""The principal: the person a request or websocket acts for, once their session or token checked out."""

from __future__ import annotations

from dataclasses import dataclass

from calma.studies.model import Role


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str
    facilitator_id: str | None = None
    email: str | None = None
    participant_id: str | None = None
    # Participants and observers: their study and group. Facilitators: the one study
    # a token (or a session opened with one) limits them to; None means all their studies.
    study_id: str | None = None
    group_id: str | None = None

    @property
    def is_facilitator(self) -> bool:
        return self.role is Role.FACILITATOR

    @property
    def is_participant(self) -> bool:
        return self.role is Role.PARTICIPANT

    @property
    def is_observer(self) -> bool:
        return self.role is Role.OBSERVER
