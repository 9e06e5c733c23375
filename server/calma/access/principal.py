"""The principal: the person a request or websocket acts for, once their session or token checked out."""

from __future__ import annotations

from dataclasses import dataclass

from calma.studies.model import Facilitator, Participant, Role


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

    @classmethod
    def of_facilitator(cls, facilitator: Facilitator, study_id: str | None = None) -> Principal:
        """A facilitator, limited to `study_id` when a token (or a session opened with one) says so."""
        return cls(
            Role.FACILITATOR, facilitator.name, facilitator_id=facilitator.id, email=facilitator.email, study_id=study_id
        )

    @classmethod
    def of_participant(cls, participant: Participant) -> Principal:
        return cls(
            Role.PARTICIPANT,
            participant.display_name,
            participant_id=participant.id,
            study_id=participant.study_id,
            group_id=participant.group_id,
        )

    @property
    def is_facilitator(self) -> bool:
        return self.role is Role.FACILITATOR

    @property
    def is_participant(self) -> bool:
        return self.role is Role.PARTICIPANT

    @property
    def is_observer(self) -> bool:
        return self.role is Role.OBSERVER
