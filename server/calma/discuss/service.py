"""Discuss's rules: what each segment lets people write, what stays private until when, and the group attributes.

The session's segment and reveals are read from its control document (the
server writes it; facilitators drive it over /live). Segment 1's top threes
are stored privately and reach nobody else — not even as cards — until the
facilitator reveals them; then they are placed on the canvas. Segment 4's
group attributes are records with a version history (merge and split keep
the originals, marked) mirrored into the board document (server-written);
each one's definition is a Y.Text in the group's edits document that the group
edits together in segment 4 only (the edits room's guard refuses it otherwise).
When segment 5 starts, the wording of every active attribute is frozen as a
version (op `rate`), and each rating names the versions it rated; a later change
(the facilitator's, over REST) is a new version in the history. Rankings
(segment 4) and ratings (segment 5) are private: the rankings' aggregate is
shown once the facilitator reveals it, the ratings only after the session closes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pycrdt

from calma.canvas.board import CardContent, CardKind, card_id
from calma.canvas.edits import MAX_DEFINITION, ensure_definition, read_definitions, replace_definition
from calma.canvas.service import CanvasService
from calma.discuss import artifacts, consensus
from calma.discuss.aggregate import Aggregate, aggregate
from calma.embeddings.model import Embedder
from calma.hub.rooms import RoomManager
from calma.interact.backend import Speaker
from calma.interact.conversations import ConversationStore, current_messages
from calma.reflect.service import CodeUse, ReflectService
from calma.live.control_state import State, control_room_name, read_state
from calma.store.discuss_sql import Attribute, AttributeVersion, Entry, SQLDiscussStore, VersionConflict
from calma.store.sql import IntegrityViolation
from calma.studies.model import Participant, Study, new_id
from calma.studies.rooms import StudyRoom
from calma.studies.store import StudyStore

log = logging.getLogger(__name__)

ATTRIBUTES = "attributes"  # the board document's Y.Map of group attributes (shared_schema/board.json)
TOP3, RANKING, RATINGS = "top3", "ranking", "ratings"
REVEAL_TOP3, REVEAL_RANKINGS = "top3", "rankings"
EDITING, RATING = "discuss", "rate"  # the segments in which definitions are edited, then rated
RATED_OP = "rate"  # the version op that freezes the wording rated in segment 5
FROZEN_BY = "segment 5 (the wording rated)"
SEGMENT_OF = {TOP3: "top3", RANKING: "discuss", RATINGS: "rate"}
MATCH_AT = 0.5  # a segment-1 attribute counts as a group attribute when this similar (if provenance does not say)


class DiscussRefused(Exception):
    """The request does not fit the session now; `kind` is `conflict`, `forbidden` or `invalid`, the message says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TopEntry:
    name: str
    definition: str


@dataclass(frozen=True)
class Example:
    kind: str  # "message" (a model reply in a conversation) or "baseline"
    id: str


class DiscussService:
    def __init__(self, store: SQLDiscussStore, studies: StudyStore, rooms: Callable[[], RoomManager],
                 canvas: Callable[[], CanvasService], conversations: Callable[[], ConversationStore],
                 reflect: Callable[[], ReflectService], embedder: Embedder,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._studies = studies
        self._conversations = conversations
        self._reflect = reflect
        self._rooms = rooms
        self._canvas = canvas
        self._embedder = embedder
        self._clock = clock

    # -- the session's control state ---------------------------------------------------------------

    async def control(self, study_id: str, group_id: str) -> State:
        rooms = self._rooms()
        room = await rooms.acquire(control_room_name(study_id, group_id))
        try:
            return read_state(room.doc)
        finally:
            rooms.release(room)

    async def _require_segment(self, study_id: str, group_id: str, kind: str) -> State:
        state = await self.control(study_id, group_id)
        wanted = SEGMENT_OF[kind]
        if state["segment"] != wanted:
            raise DiscussRefused("conflict", f"this is for the {wanted!r} segment; the session is in {state['segment']!r}")
        return state

    async def after_command(self, study_id: str, group_id: str, command: dict[str, Any]) -> None:
        """Called after a control command was stored: revealing the top threes puts them on the canvas."""
        if command.get("name") == "reveal" and command.get("what") == REVEAL_TOP3:
            await self.publish_top3(study_id, group_id)
        if command.get("name") == "segment.set" and command.get("segment") == RATING:
            await self.freeze_for_rating(study_id, group_id)

    # -- before the session: the artifacts ----------------------------------------------------------

    async def group_codes(self, study: Study, group_id: str) -> list[CodeUse]:
        participants = await self._studies.participants_of(study.id, group_id)
        return await self._reflect().group_code_uses(study, participants)

    async def codes_released(self, study_id: str) -> bool:
        released_at, _ = await self._reflect().store.settings(study_id)
        return released_at is not None

    async def topics(self, study: Study, group_id: str) -> tuple[list[artifacts.Topic], int]:
        """The topics the group's prompts explored (names and counts only; see `artifacts.topics`)."""
        conversations = self._conversations()
        prompts: list[str] = []
        authors: list[str] = []
        for participant in await self._studies.participants_of(study.id, group_id):
            for conversation in await conversations.conversations_of(study.id, participant.id):
                messages = current_messages(await conversations.messages_of(conversation.id))
                mine = [m.content for m in messages if m.role is Speaker.USER and m.content.strip()]
                prompts += mine
                authors += [participant.id] * len(mine)
        if not prompts:
            return [], 0
        vectors = await self._embedder.embed(prompts)
        return await anyio.to_thread.run_sync(artifacts.topics, prompts, vectors, authors)

    async def own_summary(self, study: Study, participant: Participant) -> dict[str, Any]:
        """A participant's own interactions and codes, in counts and labels (the full export is Reflect's)."""
        conversations = await self._conversations().conversations_of(study.id, participant.id)
        records = await self._reflect().store.records(participant.id)
        uses: dict[str, int] = {}
        labels = {c.id: c.label for c in records.codes}
        annotations = [a for a in records.annotations if a.deleted_at is None]
        for annotation in annotations:
            for code in {records.resolve(c) for c in annotation.code_ids}:
                if code in labels:
                    uses[labels[code]] = uses.get(labels[code], 0) + 1
        return {
            "conversations": len(conversations), "annotations": len(annotations),
            "codes": [{"label": label, "uses": n} for label, n in sorted(uses.items(), key=lambda item: (-item[1], item[0]))],
            "clusters": [{"name": c.name, "definition": c.definition} for c in records.clusters if c.deleted_at is None],
        }

    # -- segment 1: each one's top three, private until the reveal -------------------------------

    async def put_top3(self, study: Study, participant: Participant, entries: Sequence[TopEntry]) -> Entry:
        assert participant.group_id is not None
        state = await self._require_segment(study.id, participant.group_id, TOP3)
        if REVEAL_TOP3 in state["reveals"]:
            raise DiscussRefused("conflict", "the top threes were revealed; yours can no longer change")
        names = [" ".join(e.name.split()).casefold() for e in entries]
        if len(set(names)) != len(names):
            raise DiscussRefused("invalid", "name three different attributes")
        payload = {"entries": [{"name": " ".join(e.name.split()), "definition": e.definition.strip()} for e in entries]}
        entry = await self.store.put_entry(study.id, participant.group_id, participant.id, TOP3, payload)
        if await self.top3_revealed(study.id, participant.group_id):  # revealed while this was being stored
            await self.publish_top3(study.id, participant.group_id)
        return entry

    async def top3_revealed(self, study_id: str, group_id: str) -> bool:
        return REVEAL_TOP3 in (await self.control(study_id, group_id))["reveals"]

    async def publish_top3(self, study_id: str, group_id: str) -> int:
        """Everyone's top three as cards on the group's canvas (once revealed; again is harmless)."""
        study = await self._studies.study(study_id)
        if study is None:
            return 0
        people = {p.id: p.display_name for p in await self._studies.participants_of(study_id, group_id)}
        anonymous = study.content.discuss.anonymous_canvas
        cards: dict[str, CardContent] = {}
        for entry in await self.store.entries(group_id, TOP3):
            for item in entry.payload["entries"]:
                key = card_id(CardKind.TOP3, item["name"])
                before = cards.get(key)
                author = () if anonymous else (people.get(entry.participant_id, "someone"),)
                if before is None:
                    cards[key] = CardContent(item["name"], CardKind.TOP3, author, 1, 1)
                else:
                    cards[key] = replace(before, authors=tuple(dict.fromkeys(before.authors + author)),
                                         uses=before.uses + 1, people=before.people + 1)
        await self._canvas().place(study_id, group_id, list(cards.values()), replace_kind=CardKind.TOP3,
                                   anonymous=anonymous)
        return len(cards)

    # -- segment 4: group attributes ---------------------------------------------------------------

    async def attributes(self, group_id: str, *, active_only: bool = False) -> list[Attribute]:
        found = await self.store.attributes(group_id)
        return [a for a in found if a.status == "active"] if active_only else found

    async def live_definitions(self, study_id: str, group_id: str) -> dict[str, str]:
        """Each attribute's definition as the group is editing it (the edits document's Y.Text; a board
        written before version 3 kept it in the board)."""
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.board(study_id, group_id).name)
        try:
            legacy = _definitions(room.doc)
        finally:
            rooms.release(room)
        room = await rooms.acquire(StudyRoom.edits(study_id, group_id).name)
        try:
            return legacy | read_definitions(room.doc)
        finally:
            rooms.release(room)

    async def freeze_for_rating(self, study_id: str, group_id: str) -> list[Attribute]:
        """Segment 5 starts: every active attribute's wording as it reads now becomes a version (op `rate`),
        the one the ratings reference (unless that exact wording is frozen already)."""
        definitions = await self.live_definitions(study_id, group_id)
        now = self._clock()
        frozen = []
        for attribute in await self.attributes(group_id, active_only=True):
            text = definitions.get(attribute.id, attribute.definition)
            history = await self.store.history(attribute.id)
            if history and history[-1].op == RATED_OP and text == attribute.definition:
                continue
            frozen.append(replace(attribute, version=attribute.version + 1, updated_at=now, definition=text))
        if frozen:
            await self._commit(study_id, group_id, frozen, RATED_OP, FROZEN_BY)
        return frozen

    async def rated_versions(self, group_id: str) -> dict[str, tuple[int, str]]:
        """attribute id → (version, its definition) that the group's segment-5 ratings rated (the version most
        ratings name; ratings stored before versions were recorded name none)."""
        counts: dict[str, dict[int, int]] = {}
        for entry in await self.store.entries(group_id, RATINGS):
            versions = entry.payload.get("versions")
            if not isinstance(versions, dict):
                continue
            for attribute_id, version in versions.items():
                if isinstance(version, int):
                    counts.setdefault(attribute_id, {}).setdefault(version, 0)
                    counts[attribute_id][version] += 1
        rated = {}
        for attribute_id, tally in counts.items():
            version = max(tally, key=lambda v: (tally[v], v))
            snapshot = next((v.snapshot for v in await self.store.history(attribute_id) if v.version == version), None)
            if snapshot is not None:
                rated[attribute_id] = (version, str(snapshot.get("definition", "")))
        return rated

    async def create_attribute(self, study: Study, group_id: str, by: str, name: str, definition: str,
                               provenance: Sequence[str], examples: Sequence[Example], *,
                               writer: str | None = None) -> Attribute:
        """`writer`: the participant who writes (None: the facilitator), for whose examples they may attach."""
        await self._check_examples(study, group_id, examples, writer)
        await self._check_provenance(study.id, group_id, provenance)
        now = self._clock()
        attribute = Attribute(new_id(), study.id, group_id, " ".join(name.split()), definition.strip(),
                              tuple({"kind": e.kind, "id": e.id} for e in examples), tuple(dict.fromkeys(provenance)),
                              "active", None, None, 1, by, now, now)
        await self._commit(study.id, group_id, [attribute], "create", by, new_texts={attribute.id: attribute.definition})
        return attribute

    async def update_attribute(self, study: Study, group_id: str, attribute_id: str, by: str, *, name: str | None,
                               provenance: Sequence[str] | None, examples: Sequence[Example] | None,
                               writer: str | None = None, definition: str | None = None) -> Attribute:
        """`definition`: a new wording, set as a new version (participants: in segment 4 only; the facilitator:
        any time, e.g. after the vote, where it is a new version next to the one that was rated)."""
        current = await self._active(group_id, attribute_id)
        if definition is not None and writer is not None:
            segment = (await self.control(study.id, group_id))["segment"]
            if segment != EDITING:
                raise DiscussRefused("conflict", f"definitions change in segment 4 only; the session is in {segment!r}")
        if examples is not None:
            await self._check_examples(study, group_id, [e for e in examples if {"kind": e.kind, "id": e.id}
                                                         not in current.examples], writer)
        if provenance is not None:
            await self._check_provenance(study.id, group_id, [c for c in provenance if c not in current.provenance])
        definitions = await self.live_definitions(study.id, group_id)
        changed = replace(
            current, version=current.version + 1, updated_at=self._clock(),
            definition=definition.strip() if definition is not None else definitions.get(current.id, current.definition),
            name=" ".join(name.split()) if name is not None else current.name,
            provenance=tuple(dict.fromkeys(provenance)) if provenance is not None else current.provenance,
            examples=tuple({"kind": e.kind, "id": e.id} for e in examples) if examples is not None else current.examples,
        )
        await self._commit(study.id, group_id, [changed], "update", by,
                           replaced_texts={changed.id: changed.definition} if definition is not None else None)
        return changed

    async def save_version(self, study: Study, group_id: str, attribute_id: str, by: str) -> Attribute:
        """Keep the definition as it reads now as a version (the text is edited live on the board)."""
        return await self.update_attribute(study, group_id, attribute_id, by, name=None, provenance=None, examples=None)

    async def merge_attributes(self, study: Study, group_id: str, ids: Sequence[str], by: str, name: str) -> Attribute:
        if len(set(ids)) < 2:
            raise DiscussRefused("invalid", "merge needs two or more different attributes")
        parts = [await self._active(group_id, i) for i in dict.fromkeys(ids)]
        definitions = await self.live_definitions(study.id, group_id)
        now = self._clock()
        text = "\n\n".join(t for t in (definitions.get(p.id, p.definition).strip() for p in parts) if t)
        merged = Attribute(new_id(), study.id, group_id, " ".join(name.split()), text,
                           tuple(_unique_examples(e for p in parts for e in p.examples)),
                           tuple(dict.fromkeys(c for p in parts for c in p.provenance)),
                           "active", None, None, 1, by, now, now)
        retired = [replace(p, status="merged", merged_into=merged.id, version=p.version + 1, updated_at=now,
                           definition=definitions.get(p.id, p.definition)) for p in parts]
        await self._commit(study.id, group_id, [merged, *retired], "merge", by, new_texts={merged.id: text})
        return merged

    async def split_attribute(self, study: Study, group_id: str, attribute_id: str, by: str,
                              names: Sequence[str]) -> list[Attribute]:
        if len(names) < 2 or len({" ".join(n.split()).casefold() for n in names}) != len(names):
            raise DiscussRefused("invalid", "split into two or more attributes with different names")
        whole = await self._active(group_id, attribute_id)
        definition = (await self.live_definitions(study.id, group_id)).get(whole.id, whole.definition)
        now = self._clock()
        parts = [Attribute(new_id(), study.id, group_id, " ".join(n.split()), definition, whole.examples,
                           whole.provenance, "active", None, whole.id, 1, by, now, now) for n in names]
        retired = replace(whole, status="split", version=whole.version + 1, updated_at=now, definition=definition)
        await self._commit(study.id, group_id, [*parts, retired], "split", by,
                           new_texts={p.id: definition for p in parts})
        return parts

    async def remove_attribute(self, study: Study, group_id: str, attribute_id: str, by: str) -> Attribute:
        current = await self._active(group_id, attribute_id)
        removed = replace(current, status="removed", version=current.version + 1, updated_at=self._clock())
        await self._commit(study.id, group_id, [removed], "remove", by)
        return removed

    async def history(self, group_id: str, attribute_id: str) -> list[AttributeVersion]:
        attribute = await self.store.attribute(attribute_id)
        if attribute is None or attribute.group_id != group_id:
            raise DiscussRefused("not-found", "the attribute")
        return await self.store.history(attribute_id)

    async def _active(self, group_id: str, attribute_id: str) -> Attribute:
        attribute = await self.store.attribute(attribute_id)
        if attribute is None or attribute.group_id != group_id:
            raise DiscussRefused("not-found", "the attribute")
        if attribute.status != "active":
            raise DiscussRefused("conflict", f"the attribute was {attribute.status}; change the one it became")
        return attribute

    async def _check_provenance(self, study_id: str, group_id: str, cards: Sequence[str]) -> None:
        if not cards:
            return
        on_board = await self._canvas().cards(study_id, group_id)
        missing = [c for c in cards if c not in on_board]
        if missing:
            raise DiscussRefused("invalid", f"not cards on the group's canvas: {missing[:5]}")

    async def _check_examples(self, study: Study, group_id: str, examples: Sequence[Example], writer: str | None) -> None:
        """Examples are real turns: a baseline item of the study, or a model reply in a conversation of the group
        that the writer may read (their own, one whose author shares, or any for the facilitator)."""
        baseline = {b.id for b in study.content.baseline_interactions}
        members = {p.id for p in await self._studies.participants_of(study.id, group_id)}
        sharing = await self._reflect().store.sharing(sorted(members)) if writer is not None else set()
        conversations = self._conversations()
        for example in examples:
            if example.kind == "baseline":
                if example.id not in baseline:
                    raise DiscussRefused("invalid", f"there is no baseline item {example.id!r} in this study")
                continue
            message = await conversations.message(example.id)
            conversation = await conversations.conversation(message.conversation_id) if message is not None else None
            if (message is None or conversation is None or conversation.participant_id not in members
                    or message.role.value != "assistant"):
                raise DiscussRefused("invalid", f"{example.id!r} is not a model reply in a conversation of this group")
            author = conversation.participant_id
            if writer is not None and author != writer and author not in sharing:
                raise DiscussRefused("invalid", f"{example.id!r} is from a conversation its author has not shared")

    async def _commit(self, study_id: str, group_id: str, changed: list[Attribute], op: str, by: str, *,
                      new_texts: dict[str, str] | None = None, replaced_texts: dict[str, str] | None = None) -> None:
        """Store the attributes with their versions, then mirror them into the board, then give each active one
        its Y.Text in the edits document (new ones start with `new_texts`; `replaced_texts` overwrite)."""
        for attribute in changed:
            if len(attribute.definition) > MAX_DEFINITION:
                raise DiscussRefused("invalid", f"the definition of {attribute.name!r} is {len(attribute.definition)} "
                                                f"characters; at most {MAX_DEFINITION}: shorten it on the board")
        try:
            await self.store.save_attributes(changed, op, by)
        except (VersionConflict, IntegrityViolation) as exc:
            raise DiscussRefused("conflict", "someone changed this attribute at the same moment; look again and retry") from exc
        texts = new_texts or {}
        replaced = replaced_texts or {}
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.board(study_id, group_id).name)
        try:
            await room.write_as_server(lambda doc: _mirror(doc, changed))
        finally:
            rooms.release(room)

        def texts_of(doc: pycrdt.Doc) -> None:
            for attribute in changed:
                if attribute.id in replaced:
                    replace_definition(doc, attribute.id, replaced[attribute.id])
                elif attribute.status == "active":
                    ensure_definition(doc, attribute.id, texts.get(attribute.id, attribute.definition))

        room = await rooms.acquire(StudyRoom.edits(study_id, group_id).name)
        try:
            await room.write_as_server(texts_of)
        finally:
            rooms.release(room)
        await self.publish_attributes(study_id, group_id)

    async def publish_attributes(self, study_id: str, group_id: str) -> None:
        """The group's active attributes as cards on its canvas (kind `attribute`), next to the labels that fed them."""
        study = await self._studies.study(study_id)
        if study is None:
            return
        anonymous = study.content.discuss.anonymous_canvas
        cards = [CardContent(a.name, CardKind.ATTRIBUTE, () if anonymous else (a.created_by,), 1, 1)
                 for a in await self.attributes(group_id, active_only=True)]
        unique = list({c.id: c for c in cards}.values())
        await self._canvas().place(study_id, group_id, unique, replace_kind=CardKind.ATTRIBUTE, anonymous=anonymous)

    # -- rankings (segment 4) and ratings (segment 5) ----------------------------------------------

    async def put_ranking(self, study: Study, participant: Participant, top3: Sequence[str],
                          top5: Sequence[str]) -> Entry:
        assert participant.group_id is not None
        state = await self._require_segment(study.id, participant.group_id, RANKING)
        if REVEAL_RANKINGS in state["reveals"]:
            raise DiscussRefused("conflict", "the rankings were revealed; yours can no longer change")
        active = {a.id for a in await self.attributes(participant.group_id, active_only=True)}
        for name, ballot, size in (("top3", top3, 3), ("top5", top5, 5)):
            _check_ballot(name, ballot, size, active)
        return await self.store.put_entry(study.id, participant.group_id, participant.id, RANKING,
                                          {"top3": list(top3), "top5": list(top5)})

    async def put_ratings(self, study: Study, participant: Participant, likert: dict[str, int],
                          ranking: Sequence[str]) -> Entry:
        assert participant.group_id is not None
        await self._require_segment(study.id, participant.group_id, RATINGS)
        active = {a.id for a in await self.attributes(participant.group_id, active_only=True)}
        unknown = set(likert) - active
        if unknown:
            raise DiscussRefused("invalid", f"not attributes of this group now: {sorted(unknown)}")
        if set(likert) != active:
            raise DiscussRefused("invalid", f"rate every group attribute ({len(active)}); {len(active - set(likert))} missing")
        _check_ballot("ranking", ranking, len(active), active)
        if set(ranking) != active:
            raise DiscussRefused("invalid", "rank every group attribute")
        versions = {a.id: a.version for a in await self.attributes(participant.group_id, active_only=True)}
        return await self.store.put_entry(study.id, participant.group_id, participant.id, RATINGS,
                                          {"likert": dict(likert), "ranking": list(ranking), "versions": versions})

    async def rankings(self, group_id: str) -> dict[str, Aggregate]:
        """The group's top three and top five, by Borda and by Schulze, over the active attributes."""
        candidates = [a.id for a in await self.attributes(group_id, active_only=True)]
        ballots = [e.payload for e in await self.store.entries(group_id, RANKING)]
        standing = set(candidates)
        return {
            size: aggregate(candidates, [[c for c in b[size] if c in standing] for b in ballots], top=int(size[-1]))
            for size in ("top3", "top5")
        }

    async def consensus(self, study: Study, group_id: str) -> dict[str, Any]:
        """The before/after figures (see calma.discuss.consensus), over the group's active attributes."""
        attributes = await self.attributes(group_id, active_only=True)
        items = [a.id for a in attributes]
        definitions = await self.live_definitions(study.id, group_id)
        people = {p.id: p.display_name for p in await self._studies.participants_of(study.id, group_id)}
        before = {e.participant_id: await self._segment1_ranking(e, attributes, definitions)
                  for e in await self.store.entries(group_id, TOP3)}
        ratings = {e.participant_id: e.payload for e in await self.store.entries(group_id, RATINGS)}
        after = {pid: payload["ranking"] for pid, payload in ratings.items()}
        per_person = []
        for pid in sorted(set(before) | set(after), key=lambda p: people.get(p, p)):
            b, a = before.get(pid), after.get(pid)
            per_person.append({
                "participant_id": pid, "display_name": people.get(pid, "someone"),
                "segment1": b, "segment5": a,
                "kendall_tau": consensus.kendall_tau(b, a, items) if b is not None and a is not None else None,
                "top3_overlap": consensus.top_overlap(b, a) if b is not None and a is not None else None,
            })
        both = [pid for pid in before if pid in after]
        likert = []
        for attribute in attributes:
            values = [int(r["likert"][attribute.id]) for r in ratings.values() if attribute.id in r["likert"]]
            summary = consensus.likert_summary(values)
            likert.append({"attribute_id": attribute.id, "name": attribute.name, "n": summary.n, "median": summary.median,
                           "q1": summary.q1, "q3": summary.q3, "iqr": summary.iqr, "share_agreeing": summary.share_agreeing,
                           "caveat": consensus.group_caveat(summary.n, len(items)) if summary.n else "No ratings."})
        return {
            "attributes": [{"id": a.id, "name": a.name} for a in attributes],
            "participants": per_person,
            "kendalls_w_before": consensus.kendalls_w([before[p] for p in both], items),
            "kendalls_w_after": consensus.kendalls_w([after[p] for p in both], items),
            "kendalls_w_people": len(both),
            "kendalls_w_caveat": consensus.group_caveat(len(both), len(items)),
            "likert": likert,
            "krippendorff_alpha": consensus.krippendorff_ordinal({p: r["likert"] for p, r in ratings.items()}, items),
            "krippendorff_caveat": consensus.group_caveat(len(ratings), len(items)),
        }

    async def _segment1_ranking(self, entry: Entry, attributes: list[Attribute], definitions: dict[str, str]) -> list[str]:
        """A participant's top three as group attributes: by provenance (the top-3 card fed it), else by meaning."""
        ranking: list[str] = []
        for item in entry.payload["entries"]:
            key = card_id(CardKind.TOP3, item["name"])
            match = next((a.id for a in attributes if key in a.provenance), None)
            if match is None and attributes:
                texts = [f"{item['name']}: {item['definition']}"] + [
                    f"{a.name}: {definitions.get(a.id, a.definition)}" for a in attributes]
                vectors = await self._embedder.embed(texts)
                similarity = vectors[1:] @ vectors[0]
                best = int(np.argmax(similarity))
                match = attributes[best].id if similarity[best] >= MATCH_AT else None
            if match is not None and match not in ranking:
                ranking.append(match)
        return ranking


def _check_ballot(name: str, ballot: Sequence[str], size: int, active: set[str]) -> None:
    if len(ballot) > size or len(set(ballot)) != len(ballot):
        raise DiscussRefused("invalid", f"{name}: at most {size} different attributes")
    unknown = [a for a in ballot if a not in active]
    if unknown:
        raise DiscussRefused("invalid", f"{name}: not attributes of this group now: {unknown}")


def _unique_examples(examples: Any) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for example in examples:
        seen.setdefault((example["kind"], example["id"]), example)
    return list(seen.values())


def _definitions(doc: pycrdt.Doc) -> dict[str, str]:
    """Live texts a board written before version 3 kept (a Y.Text under each attribute)."""
    found = {}
    attributes = doc.get(ATTRIBUTES, type=pycrdt.Map)
    for key in list(attributes.keys()):
        entry = attributes.get(key)
        if isinstance(entry, pycrdt.Map) and isinstance(entry.get("definition"), pycrdt.Text):
            found[key] = str(entry["definition"])
    return found


def _mirror(doc: pycrdt.Doc, changed: list[Attribute]) -> None:
    """The attributes' records as the board shows them (`definition`: the text of `version`)."""
    attributes = doc.get(ATTRIBUTES, type=pycrdt.Map)
    for attribute in changed:
        fields = {"name": attribute.name, "definition": attribute.definition,
                  "examples": [dict(e) for e in attribute.examples],
                  "provenance": list(attribute.provenance), "status": attribute.status,
                  "mergedInto": attribute.merged_into or "", "splitFrom": attribute.split_from or "",
                  "version": attribute.version, "createdBy": attribute.created_by}
        entry = attributes.get(attribute.id)
        if not isinstance(entry, pycrdt.Map):
            attributes[attribute.id] = pycrdt.Map(fields)
            continue
        shown = entry.get("version")
        if isinstance(shown, (int, float)) and shown >= attribute.version:
            continue  # a later change was mirrored first: leave it
        for key, value in fields.items():
            if entry.get(key) != value:
                entry[key] = value
