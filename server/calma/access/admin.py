"""What `calma admin` does, against the store of record directly (the server may be running).

`create_facilitator` makes an account; `reset_password` gives one a new
password, ends its sessions and lifts its sign-in delay; `issue_token` makes a token bound to a
role in a study: a participant (an existing one of that name in the group, or
a new one), an observer of a group, or the study's facilitator (limited to
that study). Each token is an invite in the store, so it can be revoked like one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from calma.access.accounts import set_password
from calma.access.invites import issue_invite
from calma.access.secret import load_or_create_secret
from calma.access.tokens import TokenSigner
from calma.access.throttle import FailureCounters, account_key
from calma.store.sqlite import SQLiteStore
from calma.store.studies_sqlite import SQLiteStudyStore
from calma.studies.model import Facilitator, Invite, Participant, Role
from calma.studies.store import StudyStore
from calma.studies.text import display_name


class AdminError(Exception):
    """The command cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    invite: Invite
    participant: Participant | None


@asynccontextmanager
async def open_study_store(database: Path) -> AsyncIterator[StudyStore]:
    """The study store of a data dir's database (migrated to the latest schema), closed afterwards."""
    store = SQLiteStore(database)
    await store.open()
    try:
        yield SQLiteStudyStore(store)
    finally:
        await store.close()


def signer_for(secret_path: Path) -> TokenSigner:
    return TokenSigner(load_or_create_secret(secret_path))


async def issue_token(
    store: StudyStore,
    signer: TokenSigner,
    *,
    study_id: str,
    group_id: str | None,
    role: Role,
    ttl_s: int,
    name: str,
) -> IssuedToken:
    if ttl_s < 0:
        raise AdminError("--ttl must be 0 or more seconds (0 makes an already expired token)")
    study = await store.study(study_id)
    if study is None:
        raise AdminError(f"there is no study {study_id!r}")
    if group_id is None and role is not Role.FACILITATOR:
        raise AdminError(f"a {role.value} token needs --group")
    if group_id is not None and await store.group(study_id, group_id) is None:
        raise AdminError(f"study {study_id!r} has no group {group_id!r}")
    participant = None
    if role is Role.PARTICIPANT:
        assert group_id is not None
        try:
            name = display_name(name, 80)  # as on joining: NFKC, no invisible characters, trimmed
        except ValueError as exc:
            raise AdminError(f"--name needs 1 to 80 visible characters: {exc}") from exc
        participant = await store.participant_named(study_id, group_id, name)
        if participant is None:
            participant = await store.create_participant(study_id, group_id, name, study.first_stage, None)
    invite, token = await issue_invite(
        store,
        signer,
        study_id=study_id,
        group_id=group_id,
        role=role,
        ttl_s=ttl_s,
        now=time.time(),
        participant_id=None if participant is None else participant.id,
    )
    return IssuedToken(token, invite, participant)


async def reset_password(
    store: StudyStore, email: str, password: str, counters: FailureCounters | None = None
) -> tuple[Facilitator, int]:
    """Set a facilitator's new password, sign them out everywhere and clear their account's failed sign-ins.

    Returns the facilitator and how many sessions ended. AdminError if there is no such account,
    InvalidAccount for a password the rules refuse.
    """
    facilitator = await set_password(store, email, password)
    if facilitator is None:
        raise AdminError(f"there is no facilitator with the email {email.strip()!r}")
    ended = await store.delete_sessions_of(facilitator.id)
    if counters is not None:
        await counters.clear(account_key(facilitator.email))
    return facilitator, ended
