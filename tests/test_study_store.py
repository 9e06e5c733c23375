"""The StudyStore contract, run against every backend (SQLite and PostgreSQL: the same SQL on both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import anyio
import pytest

from calma.config import Settings
from calma.store import StoreError
from calma.store.factory import build_stores
from calma.studies import AlreadyExists, Invite, Role, SessionRecord, Stage, StudyStore
from calma.studies.model import new_id
from calma.studies.templates import Template, study_content


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[StudyStore]:
    """The study store on a fresh database, once per backend (the `database_url` fixture)."""
    rooms, studies = build_stores(Settings(database_url=database_url))
    await rooms.open()
    yield studies
    await rooms.close()


async def test_a_study_round_trips_with_its_whole_content(store: StudyStore) -> None:
    ana = await store.create_facilitator("Ana@Example.org", "Ana", "$argon2id$fake")
    content = study_content(Template.PILOT)
    study = await store.create_study(ana.id, content)
    loaded = await store.study(study.id)
    assert loaded is not None and loaded.content == content and loaded.owner_id == ana.id
    assert [s.id for s in await store.studies_owned_by(ana.id)] == [study.id]
    shorter = replace(content, baseline_interactions=content.baseline_interactions[:2], stage_order=(Stage.INTERACT,))
    updated = await store.update_study(study.id, shorter)
    assert updated.content == shorter and updated.updated_at >= study.updated_at
    with pytest.raises(StoreError):
        await store.update_study("0123456789abcdef", shorter)


async def test_emails_and_group_names_are_unique(store: StudyStore) -> None:
    ana = await store.create_facilitator("ana@example.org", "Ana", "h")
    with pytest.raises(AlreadyExists):
        await store.create_facilitator("ANA@example.org", "Another Ana", "h")
    account = await store.facilitator_account("ANA@EXAMPLE.ORG")
    assert account is not None and account.facilitator == ana and account.password_hash == "h"
    study = await store.create_study(ana.id, study_content(Template.BLANK))
    group = await store.create_group(study.id, "A")
    with pytest.raises(AlreadyExists):
        await store.create_group(study.id, "A")
    other = await store.create_group(study.id, "B")
    with pytest.raises(AlreadyExists):
        await store.rename_group(study.id, other.id, "A")
    assert [g.name for g in await store.groups_of(study.id)] == ["A", "B"]
    assert await store.group(study.id, group.id) == group


async def test_a_participant_belongs_to_a_group_of_their_own_study(store: StudyStore) -> None:
    ana = await store.create_facilitator("ana@example.org", "Ana", "h")
    study = await store.create_study(ana.id, study_content(Template.BLANK))
    elsewhere = await store.create_study(ana.id, study_content(Template.BLANK))
    foreign_group = await store.create_group(elsewhere.id, "X")
    with pytest.raises(StoreError):  # the foreign key (study, group) holds
        await store.create_participant(study.id, foreign_group.id, "Ravi", Stage.FAMILIARIZE, None)
    group = await store.create_group(study.id, "A")
    ravi = await store.create_participant(study.id, group.id, "Ravi", Stage.INTERACT, None)
    progress = await store.progress(ravi.id)
    assert progress is not None and progress.stage is Stage.INTERACT
    moved = await store.set_stage(ravi.id, Stage.REFLECT)
    assert moved.stage is Stage.REFLECT and [p.participant_id for p in await store.progress_of_study(study.id)] == [ravi.id]
    assert await store.participant_named(study.id, group.id, "Ravi") == ravi


async def test_an_invite_is_revoked_once_and_sessions_expire(store: StudyStore) -> None:
    ana = await store.create_facilitator("ana@example.org", "Ana", "h")
    study = await store.create_study(ana.id, study_content(Template.BLANK))
    group = await store.create_group(study.id, "A")
    invite = Invite(new_id(), study.id, group.id, Role.PARTICIPANT, expires_at=2000.0, created_at=1000.0, created_by=ana.id)
    await store.create_invite(invite)
    first = await store.revoke_invite(invite.id, at=1500.0)
    second = await store.revoke_invite(invite.id, at=1600.0)
    assert first.revoked_at == second.revoked_at == 1500.0
    session = SessionRecord(Role.FACILITATOR, created_at=1000.0, expires_at=2000.0, facilitator_id=ana.id, display_name="Ana")
    await store.create_session("hash", session)
    assert await store.session("hash", now=1999.0) == session
    assert await store.session("hash", now=2000.0) is None
    await store.create_session("later", replace(session, created_at=3000.0, expires_at=4000.0))  # sweeps "hash"
    await store.delete_session("later")
    assert await store.session("later", now=3500.0) is None


async def test_a_failed_transaction_leaves_nothing_behind(store: StudyStore) -> None:
    ana = await store.create_facilitator("ana@example.org", "Ana", "h")
    study = await store.create_study(ana.id, study_content(Template.PILOT))
    broken = replace(study.content, baseline_interactions=study.content.baseline_interactions[:1] * 2)  # duplicate id
    with pytest.raises(StoreError):
        await store.update_study(study.id, broken)
    loaded = await store.study(study.id)
    assert loaded is not None and loaded.content == study.content and loaded.updated_at == study.updated_at


async def test_concurrent_writers_each_get_their_own_transaction(store: StudyStore) -> None:
    ana = await store.create_facilitator("ana@example.org", "Ana", "h")
    study = await store.create_study(ana.id, study_content(Template.BLANK))
    group = await store.create_group(study.id, "A")
    outcomes: list[str] = []

    async def join(name: str) -> None:
        await store.create_participant(study.id, group.id, name, Stage.FAMILIARIZE, None)
        outcomes.append(name)

    async def clash() -> None:
        try:
            await store.create_group(study.id, "A")
        except AlreadyExists:
            outcomes.append("clash")

    async with anyio.create_task_group() as tg:
        for index in range(20):
            tg.start_soon(join, f"p{index}")
            tg.start_soon(clash)
    assert outcomes.count("clash") == 20
    assert len(await store.participants_of(study.id, group.id)) == 20
    assert len(await store.progress_of_study(study.id)) == 20
