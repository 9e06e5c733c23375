"""Reflect's rules over its store: what a participant may code, applying operations, the views and exports.

A participant codes the model's replies in their own conversations, the
study's baseline set (everyone codes the same baseline) and — when the
facilitator turns it on — a sample of other participants' conversations
whose authors agreed to share them. Codes of others are never shown to a
participant, except the group's codes once the facilitator releases them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from calma.interact.backend import Speaker
from calma.interact.conversations import ConversationStore, current_messages
from calma.reflect.model import ReflectRecords, TargetKind
from calma.reflect.ops import OpRefused, apply
from calma.reflect.structural import HINT, StructuralDetector
from calma.store.reflect_sql import IdTaken, SQLReflectStore, VersionMoved
from calma.studies.model import Participant, Study, new_id

log = logging.getLogger(__name__)

SHARED_SAMPLE_SIZE = 5
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Item:
    """Something a participant may code: a model reply (their own, or a shared one) or a baseline item."""

    kind: TargetKind
    id: str
    prompt: str
    text: str
    source: str  # "own", "baseline" or "shared"
    conversation_id: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class CodeUse:
    label: str  # as its first user wrote it
    uses: int  # annotations coded with it
    participants: frozenset[str]


@dataclass
class OpOutcome:
    op_id: str
    status: str  # "applied", "duplicate" or "refused"
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class ReflectService:
    def __init__(self, store: SQLReflectStore, conversations: ConversationStore, detector: StructuralDetector | None,
                 *, on_change: Callable[[str, str, int], None] = lambda study, participant, version: None) -> None:
        self.store = store
        self.conversations = conversations
        self.detector = detector
        self.on_change = on_change

    # -- what there is to code ------------------------------------------------------------------

    async def items(self, study: Study, participant: Participant, others: Sequence[Participant] = ()) -> list[Item]:
        items = [Item(TargetKind.BASELINE, b.id, b.prompt, b.response, "baseline") for b in study.content.baseline_interactions]
        items += await self._replies(participant.id, study.id, "own")
        _, share = await self.store.settings(study.id)
        if share and others:
            agreed = await self.store.sharing([p.id for p in others if p.id != participant.id])
            shared: list[Item] = []
            for other in sorted(agreed):
                shared += await self._replies(other, study.id, "shared")
            ranked = sorted(shared, key=lambda item: hashlib.sha256(f"{participant.id}:{item.id}".encode()).hexdigest())
            items += ranked[:SHARED_SAMPLE_SIZE]
        return items

    async def _replies(self, participant_id: str, study_id: str, source: str) -> list[Item]:
        items = []
        for conversation in await self.conversations.conversations_of(study_id, participant_id):
            messages = current_messages(await self.conversations.messages_of(conversation.id))
            prompt = ""
            for message in messages:
                if message.role is Speaker.USER:
                    prompt = message.content
                elif message.content:
                    items.append(Item(TargetKind.MESSAGE, message.id, prompt, message.content, source,
                                      conversation.id, message.model))
        return items

    # -- operations --------------------------------------------------------------------------

    async def apply_ops(self, study: Study, participant: Participant, ops: Sequence[tuple[str, Any]],
                        others: Sequence[Participant] = ()) -> tuple[list[OpOutcome], int]:
        """Apply each operation once, in order; a refused one does not stop the rest. Returns the outcomes and version."""
        texts: dict[tuple[str, str], str] | None = None
        outcomes = []
        version = (await self.store.records(participant.id)).version
        changed = False
        for op_id, op in ops:
            if op.kind == "annotation.create" and texts is None:
                texts = {(i.kind.value, i.id): i.text for i in await self.items(study, participant, others)}
            payload = op.model_dump(mode="json")
            for attempt in range(MAX_ATTEMPTS):
                try:
                    result, version, fresh = await self.store.apply(
                        study.id, participant.id, op_id, op.kind, payload,
                        lambda records: apply(records, op, participant.id, texts or {}, [new_id() for _ in range(20)]),
                    )
                except VersionMoved:
                    if attempt == MAX_ATTEMPTS - 1:
                        raise
                    continue
                except (OpRefused, IdTaken) as refused:
                    outcomes.append(OpOutcome(op_id, "refused", error=str(refused)))
                    break
                outcomes.append(OpOutcome(op_id, "applied" if fresh else "duplicate", result))
                changed = changed or fresh
                break
        if changed:
            self.on_change(study.id, participant.id, version)
        return outcomes, version

    # -- views ---------------------------------------------------------------------------------

    async def hints(self, labels: list[str]) -> dict[str, str]:
        """Hints for structural codes; if the detector fails, no hints (a hint never blocks the page)."""
        if self.detector is None or not labels:
            return {}
        try:
            verdicts = await self.detector.judge(labels)
        except Exception:
            log.exception("the structural-label hint failed; codes are shown without hints")
            return {}
        return {label: HINT for label, verdict in zip(labels, verdicts, strict=True) if verdict.structural}

    async def state(self, study: Study, participant: Participant, others: Sequence[Participant] = (), *,
                    hints: bool = True) -> dict[str, Any]:
        """The participant's view; `hints=False` skips the structural-hint check (counts only need the records)."""
        records = await self.store.records(participant.id)
        items = await self.items(study, participant, others)
        return await self._state(records, items, hints=hints)

    async def _state(self, records: ReflectRecords, items: list[Item], *, hints: bool = True) -> dict[str, Any]:
        annotations = [a for a in records.annotations if a.deleted_at is None]
        live = records.live_codes()
        uses: Counter[str] = Counter()
        excerpts: dict[str, list[dict[str, Any]]] = {}
        for annotation in annotations:
            for code_id in {records.resolve(c) for c in annotation.code_ids}:
                uses[code_id] += 1
                excerpts.setdefault(code_id, []).append(
                    {"annotation_id": annotation.id, "target_kind": annotation.target_kind.value,
                     "target_id": annotation.target_id, "quote": annotation.quote}
                )
        hint_of = await self.hints([c.label for c in live]) if hints else {}
        coded = {(a.target_kind.value, a.target_id) for a in annotations}
        baseline = [i for i in items if i.kind is TargetKind.BASELINE]
        replies = [i for i in items if i.kind is TargetKind.MESSAGE]
        return {
            "version": records.version,
            "items": [
                {"kind": i.kind.value, "id": i.id, "prompt": i.prompt, "text": i.text, "source": i.source,
                 "conversation_id": i.conversation_id, "model": i.model, "coded": (i.kind.value, i.id) in coded}
                for i in items
            ],
            "annotations": [
                {"id": a.id, "target_kind": a.target_kind.value, "target_id": a.target_id, "start": a.start,
                 "end": a.end, "quote": a.quote, "memo": a.memo,
                 "code_ids": list(dict.fromkeys(records.resolve(c) for c in a.code_ids)),
                 "created_at": a.created_at, "updated_at": a.updated_at}
                for a in annotations
            ],
            "codes": [
                {"id": c.id, "label": c.label, "uses": uses[c.id], "excerpts": excerpts.get(c.id, []),
                 "hint": hint_of.get(c.label), "created_at": c.created_at, "updated_at": c.updated_at,
                 "merged": [m.id for m in records.codes if m.merged_into == c.id]}
                for c in live
            ],
            "clusters": [
                {"id": c.id, "name": c.name, "definition": c.definition,
                 "code_ids": list(dict.fromkeys(records.resolve(i) for i in c.code_ids)),
                 "created_at": c.created_at, "updated_at": c.updated_at}
                for c in records.clusters if c.deleted_at is None
            ],
            "progress": {
                "responses_coded": sum(1 for i in replies if (i.kind.value, i.id) in coded),
                "responses": len(replies),
                "baseline_coded": sum(1 for i in baseline if (i.kind.value, i.id) in coded),
                "baseline": len(baseline),
                "codes": len(live),
                "clusters": sum(1 for c in records.clusters if c.deleted_at is None),
            },
        }

    async def export(self, study: Study, participant: Participant, others: Sequence[Participant] = ()) -> dict[str, Any]:
        """The participant's session artifact: their interactions, annotations, codes and clusters."""
        conversations = []
        for conversation in await self.conversations.conversations_of(study.id, participant.id):
            messages = current_messages(await self.conversations.messages_of(conversation.id))
            conversations.append({
                "id": conversation.id, "model": conversation.model, "created_at": conversation.created_at,
                "turns": [{"id": m.id, "role": m.role.value, "content": m.content, "status": m.status.value}
                          for m in messages],
            })
        state = await self.state(study, participant, others, hints=False)
        labels = {c["id"]: c["label"] for c in state["codes"]}
        return {
            "format": "calma.reflect.export/1",
            "study": {"id": study.id, "name": study.name},
            "participant": {"id": participant.id, "display_name": participant.display_name},
            "conversations": conversations,
            "annotations": [{**a, "codes": [labels.get(c, c) for c in a["code_ids"]]} for a in state["annotations"]],
            "codes": [{k: c[k] for k in ("id", "label", "uses", "excerpts")} for c in state["codes"]],
            "clusters": [{**c, "codes": [labels.get(i, i) for i in c["code_ids"]]} for c in state["clusters"]],
        }

    async def group_codes(self, study: Study, participants: Sequence[Participant]) -> list[dict[str, Any]]:
        """The group's codes: how often each label was used, by how many people (labels compared case-blind)."""
        uses = await self.group_code_uses(study, participants)
        total = sum(use.uses for use in uses) or 1
        return [
            {"label": use.label, "uses": use.uses, "participants": len(use.participants), "frequency": use.uses / total}
            for use in uses
        ]

    async def group_code_uses(self, study: Study, participants: Sequence[Participant]) -> list[CodeUse]:
        """Each label the group used (compared case-blind), how often and by whom; most used first."""
        all_records = await self.store.records_of_study(study.id)
        uses: Counter[str] = Counter()
        people: dict[str, set[str]] = {}
        shown: dict[str, str] = {}
        for participant in participants:
            records = all_records.get(participant.id)
            if records is None:
                continue
            labels = {c.id: c.label for c in records.codes}
            for annotation in records.annotations:
                if annotation.deleted_at is not None:
                    continue
                for code_id in {records.resolve(c) for c in annotation.code_ids}:
                    label = labels.get(code_id)
                    if label is None:
                        continue
                    key = label.casefold()
                    shown.setdefault(key, label)
                    uses[key] += 1
                    people.setdefault(key, set()).add(participant.id)
        return [CodeUse(shown[key], count, frozenset(people[key])) for key, count in uses.most_common()]


EXPORT_CSV_COLUMNS = ("row", "annotation_id", "target_kind", "target_id", "start", "end", "quote", "memo",
                      "code_id", "code", "cluster_id", "cluster", "definition")


def export_csv(export: dict[str, Any]) -> str:
    """The export in long form: one row per (annotation, code) and per (cluster, code), and one per code.

    Nothing is packed into a cell, so a code containing `;` or `,` survives a round trip.
    """
    out = io.StringIO()
    writer = _SafeWriter(out, fieldnames=EXPORT_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    labels = {c["id"]: c["label"] for c in export["codes"]}
    for c in export["codes"]:
        writer.writerow({"row": "code", "code_id": c["id"], "code": c["label"]})
    for a in export["annotations"]:
        for code_id in a["code_ids"]:
            writer.writerow({"row": "annotation", "annotation_id": a["id"], "target_kind": a["target_kind"],
                             "target_id": a["target_id"], "start": a["start"], "end": a["end"], "quote": a["quote"],
                             "memo": a["memo"], "code_id": code_id, "code": labels.get(code_id, "")})
    for c in export["clusters"]:
        for code_id in c["code_ids"] or [""]:
            writer.writerow({"row": "cluster", "cluster_id": c["id"], "cluster": c["name"],
                             "definition": c["definition"], "code_id": code_id, "code": labels.get(code_id, "")})
    return out.getvalue()


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    """A CSV writer that defuses spreadsheet formulas: a cell starting with = + - @ gets a leading `'`."""

    def writerow(self, rowdict: Any) -> Any:
        return super().writerow({k: _defuse(v) for k, v in rowdict.items()})


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
