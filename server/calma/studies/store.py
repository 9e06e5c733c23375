"""The `StudyStore` interface: how studies, people, invites, sessions and progress are persisted.

Both backends of the store of record implement it with the same SQL
(`calma.store.studies_sql`, on SQLite or PostgreSQL). Methods
do no authorization: callers (`calma.access`, `calma.api`) decide who may ask.
Lookups return None for what does not exist; writes raise `AlreadyExists` for
a uniqueness conflict and `calma.store.StoreError` for everything else.
"""

from __future__ import annotations

from typing import Protocol

from calma.studies.model import (
    Facilitator,
    FacilitatorAccount,
    Group,
    Invite,
    Participant,
    Progress,
    SessionRecord,
    Stage,
    Study,
    StudyContent,
)


class AlreadyExists(Exception):
    """A record with the same unique key exists (an email, a group name in a study)."""


class StudyStore(Protocol):
    # -- facilitators ----------------------------------------------------

    async def create_facilitator(self, email: str, name: str, password_hash: str) -> Facilitator:
        """A new facilitator account; AlreadyExists if the email is taken (emails compare lowercased)."""
        ...

    async def facilitator(self, facilitator_id: str) -> Facilitator | None: ...

    async def facilitator_account(self, email: str) -> FacilitatorAccount | None:
        """The account with this email (any case), with its password hash."""
        ...

    async def set_password_hash(self, facilitator_id: str, password_hash: str) -> None:
        """Replace a password hash (after a rehash with newer parameters)."""
        ...

    # -- studies ---------------------------------------------------------

    async def create_study(self, owner_id: str, content: StudyContent) -> Study: ...

    async def study(self, study_id: str) -> Study | None: ...

    async def studies_owned_by(self, owner_id: str) -> list[Study]:
        """The facilitator's studies, oldest first."""
        ...

    async def update_study(self, study_id: str, content: StudyContent) -> Study:
        """Replace the study's content; `updated_at` moves. StoreError if there is no such study."""
        ...

    # -- groups ----------------------------------------------------------

    async def create_group(self, study_id: str, name: str) -> Group:
        """AlreadyExists if the study has a group of that name."""
        ...

    async def group(self, study_id: str, group_id: str) -> Group | None:
        """The group, if it exists and belongs to the study."""
        ...

    async def groups_of(self, study_id: str) -> list[Group]:
        """The study's groups, oldest first."""
        ...

    async def rename_group(self, study_id: str, group_id: str, name: str) -> Group:
        """AlreadyExists if another group of the study has that name."""
        ...

    # -- participants and their progress ---------------------------------

    async def create_participant(
        self, study_id: str, group_id: str, display_name: str, first_stage: Stage, invite_id: str | None
    ) -> Participant:
        """A participant of the group, with progress at `first_stage`, in one transaction."""
        ...

    async def participant(self, participant_id: str) -> Participant | None: ...

    async def participant_named(self, study_id: str, group_id: str, display_name: str) -> Participant | None:
        """The oldest participant of the group with exactly this display name."""
        ...

    async def participants_of(self, study_id: str, group_id: str | None = None) -> list[Participant]:
        """The study's participants (of one group, if given), oldest first."""
        ...

    async def progress(self, participant_id: str) -> Progress | None: ...

    async def progress_of_study(self, study_id: str) -> list[Progress]:
        """Every participant's progress, ordered by group, then by when they joined."""
        ...

    async def set_stage(self, participant_id: str, stage: Stage) -> Progress:
        """Move a participant to a stage. StoreError if there is no such participant."""
        ...

    # -- invites ---------------------------------------------------------

    async def create_invite(self, invite: Invite) -> Invite: ...

    async def invite(self, invite_id: str) -> Invite | None: ...

    async def invites_of(self, study_id: str) -> list[Invite]:
        """The study's invites, newest first."""
        ...

    async def revoke_invite(self, invite_id: str, at: float) -> Invite:
        """Mark the invite revoked (a second revocation keeps the first time). StoreError if none."""
        ...

    async def join_group_invite(self, invite: Invite, display_name: str, first_stage: Stage) -> Participant | None:
        """A new participant of a group invite's group, counted as one use in the same transaction;
        None (and nothing written) if the invite is revoked or all its `max_uses` are taken."""
        ...

    async def use_invite(self, invite_id: str) -> bool:
        """Count one open of a live invite; False if it is revoked or used up (group links)."""
        ...

    async def claim_personal_invite(
        self, invite: Invite, display_name: str, first_stage: Stage
    ) -> Participant | None:
        """The participant a personal invite stands for: made now and bound to the invite if it has
        none yet (once, however many opens race), else the one bound first. None if revoked meanwhile."""
        ...

    async def reissue_invite(
        self, invite_id: str, new_id_: str, *, expires_at: float, at: float, created_by: str | None
    ) -> tuple[Invite, Invite]:
        """Revoke an invite and store its successor (same kind, group, role, label, participant, limit
        and uses so far: a group link's places are not handed out again) under `new_id_`, in one transaction; a personal invite's participant is signed
        out of every session (whoever held the old link). Returns (old, new). StoreError if none."""
        ...

    # -- sessions --------------------------------------------------------

    async def create_session(self, token_hash: str, session: SessionRecord) -> None:
        """Store a session under the hash of its cookie value; sessions expired before
        `session.created_at` are deleted in the same transaction."""
        ...

    async def session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, unless unknown or expired at `now`."""
        ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def delete_sessions_of(self, facilitator_id: str) -> int:
        """End every session of a facilitator (signing out everywhere); how many there were."""
        ...
