"""The `StudyStore` in SQL, written once for both stores of record (SQLite and PostgreSQL).

Runs on any `SQLDatabase` (`calma.store.sql`): every method is one
transaction of plain statements with `?` placeholders, and the rows it reads
are mapped to the study model here. The schema is migration 2
(`migrations.py`), whose DDL is the only place the backends differ: lists
(models, training examples, stage order) are JSON text in SQLite and JSONB in
PostgreSQL, written and read as JSON text by both; `prompt_reconstructed` is
an integer in SQLite and a boolean in PostgreSQL, written as a Python bool.
Baseline interactions get a table of their own so that later records (codes)
can refer to them. Leaves the room-log tables alone.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from calma.store.base import StoreError
from calma.store.sql import IntegrityViolation, Row, SQLDatabase, Transaction
from calma.studies.model import (
    BaselineInteraction,
    DeploymentContext,
    DiscussSettings,
    Facilitator,
    FacilitatorAccount,
    Group,
    InteractSettings,
    Invite,
    InviteKind,
    ModelChoice,
    Participant,
    Progress,
    Role,
    SessionRecord,
    Stage,
    Study,
    StudyContent,
    TrainingContext,
    TrainingExample,
    new_id,
)
from calma.studies.codec import familiarize_from_json
from calma.studies.store import AlreadyExists

S = TypeVar("S", InteractSettings, DiscussSettings)

STUDY_COLUMNS = (
    "id, owner_id, name, context_name, context_description, system_prompt, models, orientation,"
    " training_name, training_system_prompt, training_examples, stage_order, interact, familiarize, discuss,"
    " created_at, updated_at"
)
INVITE_COLUMNS = (
    "id, study_id, group_id, role, participant_id, expires_at, revoked_at, created_by, created_at,"
    " kind, max_uses, uses, label"
)
PARTICIPANT_COLUMNS = "id, study_id, group_id, display_name, invite_id, created_at"
GROUP_COLUMNS = "id, study_id, name, created_at"
PROGRESS_QUERY = (
    "SELECT p.id, p.study_id, p.group_id, p.display_name, g.stage, g.updated_at"
    " FROM participants p JOIN participant_progress g ON g.participant_id = p.id"
)


class SQLStudyStore:
    """Studies, people, invites, sessions and progress in the store of record, whichever backend it is."""

    def __init__(self, database: SQLDatabase) -> None:
        self._db = database

    # -- facilitators ----------------------------------------------------

    async def create_facilitator(self, email: str, name: str, password_hash: str) -> Facilitator:
        facilitator = Facilitator(id=new_id(), email=email.lower(), name=name, created_at=time.time())
        with _unique("a facilitator with this email already exists"):
            async with self._db.transaction(write=True) as tx:
                await tx.execute(
                    "INSERT INTO facilitators (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    (facilitator.id, facilitator.email, facilitator.name, password_hash, facilitator.created_at),
                )
        return facilitator

    async def facilitator(self, facilitator_id: str) -> Facilitator | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one("SELECT id, email, name, created_at FROM facilitators WHERE id = ?", (facilitator_id,))
        return None if row is None else _facilitator(row)

    async def facilitator_account(self, email: str) -> FacilitatorAccount | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(
                "SELECT id, email, name, created_at, password_hash FROM facilitators WHERE email = ?", (email.lower(),)
            )
        return None if row is None else FacilitatorAccount(_facilitator(row), row["password_hash"])

    async def set_password_hash(self, facilitator_id: str, password_hash: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("UPDATE facilitators SET password_hash = ? WHERE id = ?", (password_hash, facilitator_id))

    # -- studies ---------------------------------------------------------

    async def create_study(self, owner_id: str, content: StudyContent) -> Study:
        now = time.time()
        study = Study(id=new_id(), owner_id=owner_id, content=content, created_at=now, updated_at=now)
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                f"INSERT INTO studies ({STUDY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (study.id, owner_id, *_content_values(content), now, now),
            )
            await _write_baseline(tx, study.id, content.baseline_interactions)
        return study

    async def study(self, study_id: str) -> Study | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {STUDY_COLUMNS} FROM studies WHERE id = ?", (study_id,))
            return None if row is None else await _study(tx, row)

    async def studies_owned_by(self, owner_id: str) -> list[Study]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                f"SELECT {STUDY_COLUMNS} FROM studies WHERE owner_id = ? ORDER BY created_at, id", (owner_id,)
            )
            return [await _study(tx, row) for row in rows]

    async def update_study(self, study_id: str, content: StudyContent) -> Study:
        now = time.time()
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute(
                "UPDATE studies SET name = ?, context_name = ?, context_description = ?, system_prompt = ?,"
                " models = ?, orientation = ?, training_name = ?, training_system_prompt = ?,"
                " training_examples = ?, stage_order = ?, interact = ?, familiarize = ?, discuss = ?,"
                " updated_at = ? WHERE id = ?",
                (*_content_values(content), now, study_id),
            )
            if changed != 1:
                raise StoreError(f"no study {study_id!r} to update")
            await tx.execute("DELETE FROM baseline_interactions WHERE study_id = ?", (study_id,))
            await _write_baseline(tx, study_id, content.baseline_interactions)
            row = await tx.one(f"SELECT {STUDY_COLUMNS} FROM studies WHERE id = ?", (study_id,))
            assert row is not None
            return await _study(tx, row)

    # -- groups ----------------------------------------------------------

    async def create_group(self, study_id: str, name: str) -> Group:
        group = Group(id=new_id(), study_id=study_id, name=name, created_at=time.time())
        with _unique(f"the study already has a group named {name!r}"):
            async with self._db.transaction(write=True) as tx:
                await tx.execute(
                    f"INSERT INTO study_groups ({GROUP_COLUMNS}) VALUES (?, ?, ?, ?)",
                    (group.id, study_id, name, group.created_at),
                )
        return group

    async def group(self, study_id: str, group_id: str) -> Group | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(
                f"SELECT {GROUP_COLUMNS} FROM study_groups WHERE study_id = ? AND id = ?", (study_id, group_id)
            )
        return None if row is None else _group(row)

    async def groups_of(self, study_id: str) -> list[Group]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                f"SELECT {GROUP_COLUMNS} FROM study_groups WHERE study_id = ? ORDER BY created_at, id", (study_id,)
            )
        return [_group(row) for row in rows]

    async def rename_group(self, study_id: str, group_id: str, name: str) -> Group:
        with _unique(f"the study already has a group named {name!r}"):
            async with self._db.transaction(write=True) as tx:
                changed = await tx.execute(
                    "UPDATE study_groups SET name = ? WHERE study_id = ? AND id = ?", (name, study_id, group_id)
                )
                if changed != 1:
                    raise StoreError(f"no group {group_id!r} in study {study_id!r} to rename")
                row = await tx.one(f"SELECT {GROUP_COLUMNS} FROM study_groups WHERE id = ?", (group_id,))
        assert row is not None
        return _group(row)

    # -- participants and their progress ---------------------------------

    async def create_participant(
        self, study_id: str, group_id: str, display_name: str, first_stage: Stage, invite_id: str | None
    ) -> Participant:
        participant = _new_participant(study_id, group_id, display_name, invite_id)
        async with self._db.transaction(write=True) as tx:
            await _insert_participant(tx, participant, first_stage)
        return participant

    async def participant(self, participant_id: str) -> Participant | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE id = ?", (participant_id,))
        return None if row is None else _participant(row)

    async def participant_named(self, study_id: str, group_id: str, display_name: str) -> Participant | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(
                f"SELECT {PARTICIPANT_COLUMNS} FROM participants"
                " WHERE study_id = ? AND group_id = ? AND display_name = ? ORDER BY created_at, id LIMIT 1",
                (study_id, group_id, display_name),
            )
        return None if row is None else _participant(row)

    async def participants_of(self, study_id: str, group_id: str | None = None) -> list[Participant]:
        params: tuple[str, ...] = (study_id,) if group_id is None else (study_id, group_id)
        where = "WHERE study_id = ?" if group_id is None else "WHERE study_id = ? AND group_id = ?"
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(f"SELECT {PARTICIPANT_COLUMNS} FROM participants {where} ORDER BY created_at, id", params)
        return [_participant(row) for row in rows]

    async def progress(self, participant_id: str) -> Progress | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"{PROGRESS_QUERY} WHERE p.id = ?", (participant_id,))
        return None if row is None else _progress(row)

    async def progress_of_study(self, study_id: str) -> list[Progress]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                f"{PROGRESS_QUERY} JOIN study_groups s ON s.id = p.group_id"
                " WHERE p.study_id = ? ORDER BY s.created_at, s.id, p.created_at, p.id",
                (study_id,),
            )
        return [_progress(row) for row in rows]

    async def set_stage(self, participant_id: str, stage: Stage) -> Progress:
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute(
                "UPDATE participant_progress SET stage = ?, updated_at = ? WHERE participant_id = ?",
                (stage.value, time.time(), participant_id),
            )
            if changed != 1:
                raise StoreError(f"no participant {participant_id!r} to move")
            row = await tx.one(f"{PROGRESS_QUERY} WHERE p.id = ?", (participant_id,))
        assert row is not None
        return _progress(row)

    # -- invites ---------------------------------------------------------

    async def create_invite(self, invite: Invite) -> Invite:
        async with self._db.transaction(write=True) as tx:
            await _insert_invite(tx, invite)
        return invite

    async def join_group_invite(
        self, invite: Invite, display_name: str, first_stage: Stage
    ) -> Participant | None:
        # One guarded UPDATE counts the use: however many joins run at once, at most max_uses succeed.
        participant = _new_participant(invite.study_id, _group_of(invite), display_name, invite.id)
        async with self._db.transaction(write=True) as tx:
            if not await _count_use(tx, invite.id):
                return None
            await _insert_participant(tx, participant, first_stage)
        return participant

    async def use_invite(self, invite_id: str) -> bool:
        async with self._db.transaction(write=True) as tx:
            return await _count_use(tx, invite_id)

    async def claim_personal_invite(
        self, invite: Invite, display_name: str, first_stage: Stage
    ) -> Participant | None:
        participant = _new_participant(invite.study_id, _group_of(invite), display_name, invite.id)
        try:
            async with self._db.transaction(write=True) as tx:
                # The participant first (the invite refers to it), then one guarded UPDATE binds the invite
                # to it; if another open bound it first, the transaction rolls back and theirs is the one.
                await _insert_participant(tx, participant, first_stage)
                bound = await tx.execute(
                    "UPDATE invites SET participant_id = ?, uses = uses + 1"
                    " WHERE id = ? AND participant_id IS NULL AND revoked_at IS NULL",
                    (participant.id, invite.id),
                )
                if bound != 1:
                    raise _AlreadyClaimed
        except _AlreadyClaimed:
            pass
        else:
            return participant
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(
                f"SELECT {PARTICIPANT_COLUMNS} FROM participants"
                " WHERE id = (SELECT participant_id FROM invites WHERE id = ? AND revoked_at IS NULL)",
                (invite.id,),
            )
        return None if row is None else _participant(row)

    async def reissue_invite(
        self, invite_id: str, new_id_: str, *, expires_at: float, at: float, created_by: str | None
    ) -> tuple[Invite, Invite]:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, invite_id))
            row = await tx.one(f"SELECT {INVITE_COLUMNS} FROM invites WHERE id = ?", (invite_id,))
            if row is None:
                raise StoreError(f"no invite {invite_id!r} to re-issue")
            old = _invite(row)
            new = dataclasses.replace(
                old, id=new_id_, expires_at=expires_at, created_at=at, created_by=created_by, revoked_at=None
            )
            await _insert_invite(tx, new)
            if old.participant_id is not None:  # whoever opened the old link is signed out with it
                await tx.execute("DELETE FROM sessions WHERE participant_id = ?", (old.participant_id,))
        return old, new

    async def invite(self, invite_id: str) -> Invite | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(f"SELECT {INVITE_COLUMNS} FROM invites WHERE id = ?", (invite_id,))
        return None if row is None else _invite(row)

    async def invites_of(self, study_id: str) -> list[Invite]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.all(
                f"SELECT {INVITE_COLUMNS} FROM invites WHERE study_id = ? ORDER BY created_at DESC, id", (study_id,)
            )
        return [_invite(row) for row in rows]

    async def revoke_invite(self, invite_id: str, at: float) -> Invite:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, invite_id))
            row = await tx.one(f"SELECT {INVITE_COLUMNS} FROM invites WHERE id = ?", (invite_id,))
            if row is None:
                raise StoreError(f"no invite {invite_id!r} to revoke")
        return _invite(row)

    # -- sessions --------------------------------------------------------

    async def create_session(self, token_hash: str, session: SessionRecord) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (session.created_at,))
            await tx.execute(
                "INSERT INTO sessions (token_hash, role, facilitator_id, participant_id, study_id, group_id,"
                " display_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    session.role.value,
                    session.facilitator_id,
                    session.participant_id,
                    session.study_id,
                    session.group_id,
                    session.display_name,
                    session.created_at,
                    session.expires_at,
                ),
            )

    async def session(self, token_hash: str, now: float) -> SessionRecord | None:
        async with self._db.transaction(write=False) as tx:
            row = await tx.one(
                "SELECT role, facilitator_id, participant_id, study_id, group_id, display_name, created_at,"
                " expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            )
        if row is None:
            return None
        return SessionRecord(
            role=Role(row["role"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            facilitator_id=row["facilitator_id"],
            participant_id=row["participant_id"],
            study_id=row["study_id"],
            group_id=row["group_id"],
            display_name=row["display_name"],
        )

    async def delete_session(self, token_hash: str) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    async def delete_sessions_of(self, facilitator_id: str) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute("DELETE FROM sessions WHERE facilitator_id = ?", (facilitator_id,))


@contextmanager
def _unique(message: str) -> Iterator[None]:
    """Turn a uniqueness violation (the transaction already rolled back) into AlreadyExists(message)."""
    try:
        yield
    except IntegrityViolation as exc:
        if exc.unique:
            raise AlreadyExists(message) from exc
        raise


# -- records <-> rows ------------------------------------------------------


def _content_values(content: StudyContent) -> tuple[Any, ...]:
    """The study columns from `name` to `stage_order`, in STUDY_COLUMNS order."""
    context, training = content.deployment_context, content.training_context
    return (
        content.name,
        context.name,
        context.description,
        context.system_prompt,
        json.dumps(list(context.models)),
        content.orientation,
        training.name,
        training.system_prompt,
        json.dumps([dataclasses.asdict(example) for example in training.examples]),
        json.dumps([stage.value for stage in content.stage_order]),
        json.dumps(dataclasses.asdict(content.interact)),
        json.dumps(dataclasses.asdict(content.familiarize)),
        json.dumps(dataclasses.asdict(content.discuss)),
    )


async def _write_baseline(tx: Transaction, study_id: str, items: Sequence[BaselineInteraction]) -> None:
    if not items:
        return
    await tx.executemany(
        "INSERT INTO baseline_interactions (study_id, id, position, prompt, response, prompt_reconstructed)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (study_id, item.id, position, item.prompt, item.response, bool(item.prompt_reconstructed))
            for position, item in enumerate(items)
        ],
    )


async def _study(tx: Transaction, row: Row) -> Study:
    baseline = await tx.all(
        "SELECT id, prompt, response, prompt_reconstructed FROM baseline_interactions"
        " WHERE study_id = ? ORDER BY position",
        (row["id"],),
    )
    content = StudyContent(
        name=row["name"],
        deployment_context=DeploymentContext(
            name=row["context_name"],
            description=row["context_description"],
            system_prompt=row["system_prompt"],
            models=tuple(json.loads(row["models"])),
        ),
        orientation=row["orientation"],
        training_context=TrainingContext(
            name=row["training_name"],
            system_prompt=row["training_system_prompt"],
            examples=tuple(_training_example(example) for example in json.loads(row["training_examples"])),
        ),
        baseline_interactions=tuple(
            BaselineInteraction(
                id=item["id"],
                prompt=item["prompt"],
                response=item["response"],
                prompt_reconstructed=bool(item["prompt_reconstructed"]),
            )
            for item in baseline
        ),
        stage_order=tuple(Stage(stage) for stage in json.loads(row["stage_order"])),
        interact=_interact(json.loads(row["interact"])),
        familiarize=familiarize_from_json(json.loads(row["familiarize"])),
        discuss=_known_fields(DiscussSettings, json.loads(row["discuss"])),
    )
    return Study(
        id=row["id"],
        owner_id=row["owner_id"],
        content=content,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _training_example(stored: dict[str, Any]) -> TrainingExample:
    return TrainingExample(
        id=stored["id"], prompt=stored["prompt"], response=stored["response"], notes=stored.get("notes", ""),
        value_codes=tuple(stored.get("value_codes", ())), structural_codes=tuple(stored.get("structural_codes", ())),
    )


def _interact(stored: dict[str, Any]) -> InteractSettings:
    """Stored settings over the defaults (studies from before migration 3 have `{}`)."""
    settings = _known_fields(InteractSettings, stored)
    return dataclasses.replace(settings, model_choice=ModelChoice(settings.model_choice))


def _known_fields(kind: type[S], stored: dict[str, Any]) -> S:
    """Stored settings over the defaults: fields absent (rows from before they existed) read as their defaults."""
    known = {f.name for f in dataclasses.fields(kind)}
    return kind(**{key: value for key, value in stored.items() if key in known})


def _facilitator(row: Row) -> Facilitator:
    return Facilitator(id=row["id"], email=row["email"], name=row["name"], created_at=row["created_at"])


def _group(row: Row) -> Group:
    return Group(id=row["id"], study_id=row["study_id"], name=row["name"], created_at=row["created_at"])


def _participant(row: Row) -> Participant:
    return Participant(
        id=row["id"],
        study_id=row["study_id"],
        group_id=row["group_id"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        invite_id=row["invite_id"],
    )


def _progress(row: Row) -> Progress:
    return Progress(
        participant_id=row["id"],
        study_id=row["study_id"],
        group_id=row["group_id"],
        display_name=row["display_name"],
        stage=Stage(row["stage"]),
        updated_at=row["updated_at"],
    )


class _AlreadyClaimed(Exception):
    """Rolls back a participant made for a personal invite that another open bound first."""


def _new_participant(study_id: str, group_id: str, display_name: str, invite_id: str | None) -> Participant:
    return Participant(
        id=new_id(),
        study_id=study_id,
        group_id=group_id,
        display_name=display_name,
        created_at=time.time(),
        invite_id=invite_id,
    )


async def _insert_participant(tx: Transaction, participant: Participant, first_stage: Stage) -> None:
    await tx.execute(
        f"INSERT INTO participants ({PARTICIPANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        (
            participant.id,
            participant.study_id,
            participant.group_id,
            participant.display_name,
            participant.invite_id,
            participant.created_at,
        ),
    )
    await tx.execute(
        "INSERT INTO participant_progress (participant_id, stage, updated_at) VALUES (?, ?, ?)",
        (participant.id, first_stage.value, participant.created_at),
    )


def _group_of(invite: Invite) -> str:
    if invite.group_id is None:
        raise StoreError(f"invite {invite.id!r} names no group to join")
    return invite.group_id


async def _count_use(tx: Transaction, invite_id: str) -> bool:
    """Count one use of a live invite, unless it is revoked or used up: one guarded UPDATE."""
    counted = await tx.execute(
        "UPDATE invites SET uses = uses + 1"
        " WHERE id = ? AND revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses)",
        (invite_id,),
    )
    return counted == 1


async def _insert_invite(tx: Transaction, invite: Invite) -> None:
    await tx.execute(
        f"INSERT INTO invites ({INVITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            invite.id,
            invite.study_id,
            invite.group_id,
            invite.role.value,
            invite.participant_id,
            invite.expires_at,
            invite.revoked_at,
            invite.created_by,
            invite.created_at,
            invite.kind.value,
            invite.max_uses,
            invite.uses,
            invite.label,
        ),
    )


def _invite(row: Row) -> Invite:
    return Invite(
        id=row["id"],
        study_id=row["study_id"],
        group_id=row["group_id"],
        role=Role(row["role"]),
        participant_id=row["participant_id"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        kind=InviteKind(row["kind"]),
        max_uses=row["max_uses"],
        uses=row["uses"],
        label=row["label"],
    )
