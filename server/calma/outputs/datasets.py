"""Datasets from a group's axes and its participants' coding: labelled excerpts and SteerLM-style attribute records.

Codes map to axes through provenance and clusters: an axis takes the codes
whose canvas cards fed it (its provenance), and every code a participant put
in the same Reflect cluster as one of those (their own grouping of
meanings). Labels are compared case-blind.

- `excerpts`: one record per coded span and axis: the quote, the response it
  is from, and `label` 1 if the span was coded with a code of that axis, else
  0 (a span someone coded with other values only);
- `steerlm`: one record per coded response: each axis's value 0–4, the share
  of the response's coders who tagged it with a code of that axis (rounded),
  in SteerLM's attribute-string form too.

Both are JSON Lines with the same keys on every line, so Hugging Face
`datasets.load_dataset("json", data_files=...)` reads them as they are.
Annotators appear as pseudonyms (a hash of their id and the study's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calma.outputs.schema import DerivedAxes
from calma.reflect.model import ReflectRecords

STEERLM_MAX = 4


@dataclass(frozen=True)
class CodedSpan:
    annotator: str  # pseudonym
    item_kind: str
    item_id: str
    prompt: str
    response: str
    quote: str
    codes: tuple[str, ...]  # labels, case-folded


def axis_codes(axes: DerivedAxes, records: dict[str, ReflectRecords]) -> dict[str, set[str]]:
    """Axis name → the (case-folded) code labels that stand for it."""
    mapped: dict[str, set[str]] = {}
    for axis in axes.axes:
        seeds = {s.text.casefold() for s in axis.provenance if s.kind == "code"}
        found = set(seeds)
        for participant in records.values():
            labels = {c.id: c.label.casefold() for c in participant.codes}
            for cluster in participant.clusters:
                if cluster.deleted_at is not None:
                    continue
                members = {labels.get(participant.resolve(c)) for c in cluster.code_ids} - {None}
                if members & seeds:
                    found |= {m for m in members if m is not None}
        mapped[axis.name] = found
    return mapped


def pseudonym(study_id: str, participant_id: str) -> str:
    return "p-" + hashlib.sha256(f"{study_id}:{participant_id}".encode()).hexdigest()[:10]


def coded_spans(study_id: str, records: dict[str, ReflectRecords], texts: dict[tuple[str, str], tuple[str, str]]) -> list[CodedSpan]:
    """Every live annotation with its codes; `texts` gives (prompt, response) per (kind, id) of what was coded."""
    spans = []
    for participant_id, participant in sorted(records.items()):
        labels = {c.id: c.label.casefold() for c in participant.codes}
        for annotation in participant.annotations:
            if annotation.deleted_at is not None:
                continue
            codes = tuple(sorted({labels[r] for r in (participant.resolve(c) for c in annotation.code_ids) if r in labels}))
            if not codes:
                continue
            prompt, response = texts.get((annotation.target_kind.value, annotation.target_id), ("", ""))
            spans.append(CodedSpan(pseudonym(study_id, participant_id), annotation.target_kind.value,
                                   annotation.target_id, prompt, response, annotation.quote, codes))
    return spans


def excerpts(spans: Sequence[CodedSpan], mapping: dict[str, set[str]]) -> list[dict[str, Any]]:
    return [
        {"axis": axis, "label": int(bool(set(span.codes) & codes)), "text": span.quote, "prompt": span.prompt,
         "response": span.response, "codes": list(span.codes), "item_kind": span.item_kind, "item_id": span.item_id,
         "annotator": span.annotator}
        for span in spans for axis, codes in mapping.items()
    ]


def steerlm(spans: Sequence[CodedSpan], mapping: dict[str, set[str]]) -> list[dict[str, Any]]:
    items: dict[tuple[str, str], list[CodedSpan]] = {}
    for span in spans:
        items.setdefault((span.item_kind, span.item_id), []).append(span)
    records = []
    for (kind, item_id), coded in sorted(items.items()):
        coders = {s.annotator for s in coded}
        values = {}
        for axis, codes in mapping.items():
            tagged = {s.annotator for s in coded if set(s.codes) & codes}
            values[axis] = round(STEERLM_MAX * len(tagged) / len(coders))
        records.append({"prompt": coded[0].prompt, "response": coded[0].response, "attributes": values,
                        "label": ",".join(f"{_key(a)}:{v}" for a, v in values.items()), "coders": len(coders),
                        "item_kind": kind, "item_id": item_id})
    return records


def _key(axis: str) -> str:
    return "_".join(axis.casefold().split())


def jsonl(records: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


