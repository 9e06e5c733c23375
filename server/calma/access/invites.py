"""Invites: issuing them (with their signed token), re-issuing them and opening them.

An invite link is `/join?token=<token>`; opening it (POST /api/join with the
token and a display name) signs its holder in. What that makes them depends on
the invite's kind (`InviteKind`):

- a *personal* link is one person's: its first open creates the participant,
  and every later open (another browser, another device) resumes that same
  participant. Re-issuing it revokes the old token and signs that participant
  out everywhere; the new link resumes them.
- a *group* link admits up to `max_uses` people, each a new participant. The
  use is counted by one guarded UPDATE in the same transaction that creates the
  participant, so parallel joins never exceed the limit; the rest get
  `InviteUsedUp`.

Observer links make no record: a personal one can be opened any number of
times, a group one `max_uses` times. Tokens from `calma admin token` are
personal invites bound to one identity (a participant, an observer, or the
study's facilitator) and work directly as `?token=` or `Authorization: Bearer`.
"""

from __future__ import annotations

from calma.access.live_connections import LiveConnections, invite_key, participant_sessions_key
from calma.access.authenticate import Authenticator
from calma.access.display_names import claim_name, normalized
from calma.access.principal import Principal
from calma.access.tokens import TokenProblem, TokenRejected, TokenSigner
from calma.studies.model import Invite, InviteKind, Role, new_id
from calma.studies.store import StudyStore

JOIN_PATH = "/join"
MAX_GROUP_USES = 10_000  # the most people one group link can admit


class InviteUsedUp(Exception):
    """A group link whose every place is taken."""

    def __init__(self, invite: Invite) -> None:
        super().__init__(
            f"this group link has admitted its maximum of {invite.max_uses} people;"
            " ask the facilitator for a link of your own"
        )


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
    kind: InviteKind = InviteKind.PERSONAL,
    max_uses: int | None = None,
    label: str = "",
) -> tuple[Invite, str]:
    """Store a new invite and return it with its token. Expiry is whole seconds, as in the token.

    A group invite needs `max_uses` (1 to MAX_GROUP_USES); a personal one has none."""
    if kind is InviteKind.GROUP and (max_uses is None or not 1 <= max_uses <= MAX_GROUP_USES):
        raise ValueError(f"a group invite needs max_uses between 1 and {MAX_GROUP_USES}")
    if kind is InviteKind.PERSONAL and max_uses is not None:
        raise ValueError("a personal invite is for one person: it takes no max_uses")
    invite = Invite(
        id=new_id(),
        study_id=study_id,
        group_id=group_id,
        role=role,
        expires_at=float(int(now) + ttl_s),
        created_at=now,
        created_by=created_by,
        participant_id=participant_id,
        kind=kind,
        max_uses=max_uses,
        label=label,
    )
    await store.create_invite(invite)
    return invite, token_of(signer, invite)


async def reissue_invite(
    store: StudyStore,
    signer: TokenSigner,
    invite: Invite,
    *,
    ttl_s: int,
    now: float,
    created_by: str | None,
    connections: LiveConnections,
) -> tuple[Invite, str]:
    """Revoke `invite` and issue its successor (a new token for the same person or group). The websockets
    open with the old token, and for a personal link every one of its participant's sessions, close (4401)."""
    old, new = await store.reissue_invite(
        invite.id, new_id(), expires_at=float(int(now) + ttl_s), at=now, created_by=created_by
    )
    keys = [invite_key(old.id)]
    if old.participant_id is not None:
        keys.append(participant_sessions_key(old.participant_id))
    await connections.revoke(keys, "this link was re-issued; open the new one")
    return new, token_of(signer, new)


async def revoke_invite(store: StudyStore, invite: Invite, *, now: float, connections: LiveConnections) -> Invite:
    """Revoke `invite`: its token stops working, and the websockets open with it close (4401)."""
    revoked = await store.revoke_invite(invite.id, now)
    await connections.revoke([invite_key(invite.id)], "this link was revoked")
    return revoked


async def open_invite(store: StudyStore, authenticator: Authenticator, token: str, display_name: str) -> Principal:
    """Who the token makes its holder: the participant or facilitator it is bound to, the participant
    a personal link stands for (made on its first open), a new participant of a group link's group,
    or an observer named `display_name` (normalised: `calma.access.display_names`). TokenRejected if the
    token is not live, InviteUsedUp if a group link is full, NameTaken if a participant of the group has
    a look-alike name."""
    invite = await authenticator.live_invite(token)
    if invite.role is Role.OBSERVER:
        if not await store.use_invite(invite.id):
            raise _not_usable(await store.invite(invite.id) or invite)
        return Principal(Role.OBSERVER, normalized(display_name), study_id=invite.study_id, group_id=invite.group_id)
    if invite.role is not Role.PARTICIPANT or invite.participant_id is not None:
        principal = await authenticator.token(token)  # bound to an identity: resume it
        if invite.role is Role.PARTICIPANT:
            await store.use_invite(invite.id)  # counts opens; a personal invite has no maximum
        return principal
    study = await store.study(invite.study_id)
    if study is None or invite.group_id is None:
        raise TokenRejected(TokenProblem.UNKNOWN_INVITE)
    holder = invite.id if invite.kind is InviteKind.PERSONAL else None
    async with claim_name(store, study.id, invite.group_id, display_name, holder_invite=holder) as name:  # NameTaken
        if invite.kind is InviteKind.GROUP:
            participant = await store.join_group_invite(invite, name, study.first_stage)
        else:
            participant = await store.claim_personal_invite(invite, name, study.first_stage)
    if participant is None:
        raise _not_usable(await store.invite(invite.id) or invite)
    return Principal.of_participant(participant)


def _not_usable(invite: Invite) -> Exception:
    """Why an invite that was live a moment ago could not be used: revoked meanwhile, or used up."""
    if invite.revoked:
        return TokenRejected(TokenProblem.REVOKED)
    return InviteUsedUp(invite)
