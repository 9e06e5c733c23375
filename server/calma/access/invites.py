"""Invites: issuing them (with their signed token) and opening them.

An invite link is `/join?token=<token>`; opening it (POST /api/join with the
token and a display name) creates the participant's record, or for an
observer just a session. Tokens from `calma admin token` are invites bound to
one identity (a participant, an observer, or the study's facilitator) and work
directly as `?token=` or `Authorization: Bearer`.
"""

from __future__ import annotations

from calma.access.authenticate import Authenticator
from calma.access.principal import Principal
from calma.access.tokens import TokenProblem, TokenRejected, TokenSigner
from calma.studies.model import Invite, Role, new_id
from calma.studies.store import StudyStore

JOIN_PATH = "/join"


def token_of(signer: TokenSigner, invite: Invite) -> str:
    """The invite's token (the same every time: it is a signature over the invite's id and expiry)."""
    return signer.sign(invite.id, int(invite.expires_at))


def join_link(token: str) -> str:
    return f"{JOIN_PATH}?token={token}"


async def issue_invite(
    store: StudyStore,
    signer: TokenSigner,
    *,
    study_id: str,
    group_id: str | None,
    role: Role,
    ttl_s: int,
    now: float,
    created_by: str | None = None,
    participant_id: str | None = None,
) -> tuple[Invite, str]:
    """Store a new invite and return it with its token. Expiry is whole seconds, as in the token."""
    invite = Invite(
        id=new_id(),
        study_id=study_id,
        group_id=group_id,
        role=role,
        expires_at=float(int(now) + ttl_s),
        created_at=now,
        created_by=created_by,
        participant_id=participant_id,
    )
    await store.create_invite(invite)
    return invite, token_of(signer, invite)


async def open_invite(store: StudyStore, authenticator: Authenticator, token: str, display_name: str) -> Principal:
    """Who the token makes its holder: a new participant of the invite's group (for an invite
    link), the participant or facilitator it is bound to, or an observer named `display_name`."""
    invite = await authenticator.live_invite(token)
    if invite.role is Role.OBSERVER:
        return Principal(Role.OBSERVER, display_name, study_id=invite.study_id, group_id=invite.group_id)
    if invite.role is Role.PARTICIPANT and invite.participant_id is None:
        study = await store.study(invite.study_id)
        if study is None or invite.group_id is None:
            raise TokenRejected(TokenProblem.UNKNOWN_INVITE)
        participant = await store.create_participant(
            study.id, invite.group_id, display_name, study.first_stage, invite.id
        )
        return Principal.of_participant(participant)
    return await authenticator.token(token)
