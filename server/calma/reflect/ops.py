"""The operations that change a participant's codes, annotations and clusters, and what each does.

Each operation is a strict pydantic model (the API validates requests with
them) and `apply` turns one into changed records, a result and the
operations that would undo it, on a snapshot of the participant's records;
`calma.store.reflect_sql` runs that inside one transaction. Ids of new
records are chosen by the browser, so that it can work offline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from calma.reflect.anchors import AnchorError, check_span
from calma.reflect.model import Annotation, Cluster, Code, ReflectRecords, TargetKind

RecordId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="16 lowercase hex digits, chosen by the client")]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Labels = Annotated[list[Label], Field(min_length=1, max_length=20)]
Memo = Annotated[str, Field(max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Definition = Annotated[str, Field(max_length=4000)]
CodeIds = Annotated[list[RecordId], Field(max_length=500)]


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AnnotationCreate(_Op):
    kind: Literal["annotation.create"]
    id: RecordId
    target_kind: Literal["message", "baseline"]
    target_id: Annotated[str, Field(min_length=1, max_length=64)]
    start: Annotated[int, Field(ge=0, le=1_000_000)]
    end: Annotated[int, Field(ge=1, le=1_000_000)]
    quote: Annotated[str, Field(min_length=1, max_length=200_000)]
    codes: Labels
    memo: Memo = ""


class AnnotationSetCodes(_Op):
    kind: Literal["annotation.set_codes"]
    id: RecordId
    codes: Labels


class AnnotationSetMemo(_Op):
    kind: Literal["annotation.set_memo"]
    id: RecordId
    memo: Memo


class AnnotationDelete(_Op):
    kind: Literal["annotation.delete"]
    id: RecordId


class AnnotationRestore(_Op):
    kind: Literal["annotation.restore"]
    id: RecordId


class CodeRename(_Op):
    kind: Literal["code.rename"]
    id: RecordId
    label: Label


class CodeMerge(_Op):
    kind: Literal["code.merge"]
    ids: Annotated[list[RecordId], Field(min_length=1, max_length=100)]
    into: RecordId


class CodeUnmerge(_Op):
    kind: Literal["code.unmerge"]
    ids: Annotated[list[RecordId], Field(min_length=1, max_length=100)]


class ClusterCreate(_Op):
    kind: Literal["cluster.create"]
    id: RecordId
    name: Name
    definition: Definition = ""
    code_ids: CodeIds = Field(default_factory=list)


class ClusterUpdate(_Op):
    kind: Literal["cluster.update"]
    id: RecordId
    name: Name | None = None
    definition: Definition | None = None


class ClusterSetCodes(_Op):
    kind: Literal["cluster.set_codes"]
    id: RecordId
    code_ids: CodeIds


class ClusterMerge(_Op):
    kind: Literal["cluster.merge"]
    ids: Annotated[list[RecordId], Field(min_length=1, max_length=100)]
    into: RecordId


class ClusterSplit(_Op):
    kind: Literal["cluster.split"]
    id: RecordId
    new_id: RecordId
    name: Name
    definition: Definition = ""
    code_ids: Annotated[list[RecordId], Field(min_length=1, max_length=500)]


class ClusterDelete(_Op):
    kind: Literal["cluster.delete"]
    id: RecordId


class ClusterRestore(_Op):
    kind: Literal["cluster.restore"]
    id: RecordId


Operation = Annotated[
    Union[  # noqa: UP007
        AnnotationCreate, AnnotationSetCodes, AnnotationSetMemo, AnnotationDelete, AnnotationRestore,
        CodeRename, CodeMerge, CodeUnmerge,
        ClusterCreate, ClusterUpdate, ClusterSetCodes, ClusterMerge, ClusterSplit, ClusterDelete, ClusterRestore,
    ],
    Field(discriminator="kind"),
]
OPERATION: TypeAdapter[Any] = TypeAdapter(Operation)


class OpRefused(Exception):
    """The operation does not fit the participant's records (answered as 409 with this message)."""


@dataclass
class Applied:
    """What one operation changed, its result and its undo."""

    codes: list[Code] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    undo: list[dict[str, Any]] = field(default_factory=list)


class _Working:
    """A mutable view over a snapshot of records, noting what changed."""

    def __init__(self, records: ReflectRecords, participant: str, now: float) -> None:
        self.participant = participant
        self.now = now
        self.codes = {c.id: c for c in records.codes}
        self.annotations = {a.id: a for a in records.annotations}
        self.clusters = {c.id: c for c in records.clusters}
        self.applied = Applied()
        self._changed: dict[str, object] = {}

    def put(self, record: Code | Annotation | Cluster) -> None:
        if isinstance(record, Code):
            self.codes[record.id] = record
        elif isinstance(record, Annotation):
            self.annotations[record.id] = record
        else:
            self.clusters[record.id] = record
        self._changed[f"{type(record).__name__}:{record.id}"] = record

    def finish(self) -> Applied:
        for record in self._changed.values():
            if isinstance(record, Code):
                self.applied.codes.append(record)
            elif isinstance(record, Annotation):
                self.applied.annotations.append(record)
            elif isinstance(record, Cluster):
                self.applied.clusters.append(record)
        return self.applied

    # -- lookups --------------------------------------------------------------------------

    def live_code(self, code_id: str) -> Code:
        code = self.codes.get(code_id)
        if code is None or code.deleted_at is not None or code.merged_into is not None:
            raise OpRefused(f"no code {code_id} of yours (merged or never made)")
        return code

    def annotation(self, annotation_id: str, *, deleted: bool = False) -> Annotation:
        annotation = self.annotations.get(annotation_id)
        if annotation is None or (annotation.deleted_at is not None) != deleted:
            raise OpRefused(f"no {'deleted ' if deleted else ''}annotation {annotation_id} of yours")
        return annotation

    def cluster(self, cluster_id: str, *, deleted: bool = False) -> Cluster:
        cluster = self.clusters.get(cluster_id)
        if cluster is None or (cluster.deleted_at is not None) != deleted:
            raise OpRefused(f"no {'deleted ' if deleted else ''}cluster {cluster_id} of yours")
        return cluster

    def code_for(self, label: str, new_id: str) -> Code:
        """The participant's live code with this label (case and spacing aside), or a new one."""
        wanted = " ".join(label.split())
        for code in self.codes.values():
            if code.deleted_at is None and code.merged_into is None and code.label.casefold() == wanted.casefold():
                return code
        code = Code(new_id, self.participant, wanted, self.now, self.now)
        self.put(code)
        return code

    def labels(self, code_ids: tuple[str, ...]) -> list[str]:
        return [self.codes[c].label for c in code_ids if c in self.codes]


def apply(records: ReflectRecords, op: Any, participant: str, texts: Mapping[tuple[str, str], str],
          new_ids: list[str], now: float | None = None) -> Applied:
    """Apply one operation to a snapshot of the participant's records.

    `texts` maps (target kind, target id) to the text an annotation.create may
    anchor in (only what the participant may code); `new_ids` supplies ids for
    codes made from new labels.
    """
    w = _Working(records, participant, time.time() if now is None else now)
    ids = iter(new_ids)

    def fresh() -> str:
        return next(ids)

    kind = op.kind
    if kind == "annotation.create":
        if op.id in w.annotations:
            raise OpRefused(f"annotation {op.id} exists already")
        text = texts.get((op.target_kind, op.target_id))
        if text is None:
            raise OpRefused(f"no {op.target_kind} {op.target_id} that you may code")
        try:
            span = check_span(text, op.start, op.end, op.quote)
        except AnchorError as exc:
            raise OpRefused(str(exc)) from exc
        codes = tuple(dict.fromkeys(w.code_for(label, fresh()).id for label in op.codes))
        w.put(Annotation(op.id, participant, TargetKind(op.target_kind), op.target_id, span.start, span.end, span.quote,
                         op.memo, codes, w.now, w.now))
        w.applied.result = {"annotation": op.id, "code_ids": list(codes)}
        w.applied.undo = [{"kind": "annotation.delete", "id": op.id}]
    elif kind == "annotation.set_codes":
        annotation = w.annotation(op.id)
        codes = tuple(dict.fromkeys(w.code_for(label, fresh()).id for label in op.codes))
        w.put(dataclasses.replace(annotation, code_ids=codes, updated_at=w.now))
        w.applied.result = {"annotation": op.id, "code_ids": list(codes)}
        w.applied.undo = [{"kind": "annotation.set_codes", "id": op.id, "codes": w.labels(annotation.code_ids)}]
    elif kind == "annotation.set_memo":
        annotation = w.annotation(op.id)
        w.put(dataclasses.replace(annotation, memo=op.memo, updated_at=w.now))
        w.applied.undo = [{"kind": "annotation.set_memo", "id": op.id, "memo": annotation.memo}]
    elif kind == "annotation.delete":
        annotation = w.annotation(op.id)
        w.put(dataclasses.replace(annotation, deleted_at=w.now, updated_at=w.now))
        w.applied.undo = [{"kind": "annotation.restore", "id": op.id}]
    elif kind == "annotation.restore":
        annotation = w.annotation(op.id, deleted=True)
        w.put(dataclasses.replace(annotation, deleted_at=None, updated_at=w.now))
        w.applied.undo = [{"kind": "annotation.delete", "id": op.id}]
    elif kind == "code.rename":
        code = w.live_code(op.id)
        label = " ".join(op.label.split())
        clash = next((c for c in w.codes.values() if c.id != code.id and c.deleted_at is None
                      and c.merged_into is None and c.label.casefold() == label.casefold()), None)
        if clash is not None:
            raise OpRefused(f"you have a code {clash.label!r} already: merge the two instead")
        w.put(dataclasses.replace(code, label=label, updated_at=w.now))
        w.applied.undo = [{"kind": "code.rename", "id": op.id, "label": code.label}]
    elif kind == "code.merge":
        into = w.live_code(op.into)
        merged = [w.live_code(code_id) for code_id in dict.fromkeys(op.ids) if code_id != into.id]
        if not merged:
            raise OpRefused("merge at least one other code into it")
        for code in merged:
            w.put(dataclasses.replace(code, merged_into=into.id, updated_at=w.now))
        w.applied.result = {"into": into.id, "merged": [c.id for c in merged]}
        w.applied.undo = [{"kind": "code.unmerge", "ids": [c.id for c in merged]}]
    elif kind == "code.unmerge":
        codes = []
        for code_id in dict.fromkeys(op.ids):
            code = w.codes.get(code_id)
            if code is None or code.merged_into is None:
                raise OpRefused(f"code {code_id} is not merged into another")
            codes.append(code)
        targets: dict[str, list[str]] = {}
        for code in codes:
            targets.setdefault(code.merged_into, []).append(code.id)  # type: ignore[arg-type]
            w.put(dataclasses.replace(code, merged_into=None, updated_at=w.now))
        w.applied.undo = [{"kind": "code.merge", "ids": ids, "into": into} for into, ids in targets.items()]
    elif kind == "cluster.create":
        if op.id in w.clusters:
            raise OpRefused(f"cluster {op.id} exists already")
        code_ids = tuple(w.live_code(c).id for c in dict.fromkeys(op.code_ids))
        w.put(Cluster(op.id, participant, op.name.strip(), op.definition, code_ids, w.now, w.now))
        w.applied.undo = [{"kind": "cluster.delete", "id": op.id}]
    elif kind == "cluster.update":
        cluster = w.cluster(op.id)
        w.put(dataclasses.replace(
            cluster,
            name=cluster.name if op.name is None else op.name.strip(),
            definition=cluster.definition if op.definition is None else op.definition,
            updated_at=w.now,
        ))
        w.applied.undo = [{"kind": "cluster.update", "id": op.id, "name": cluster.name, "definition": cluster.definition}]
    elif kind == "cluster.set_codes":
        cluster = w.cluster(op.id)
        code_ids = tuple(w.live_code(c).id for c in dict.fromkeys(op.code_ids))
        w.put(dataclasses.replace(cluster, code_ids=code_ids, updated_at=w.now))
        w.applied.undo = [{"kind": "cluster.set_codes", "id": op.id, "code_ids": list(cluster.code_ids)}]
    elif kind == "cluster.merge":
        into = w.cluster(op.into)
        merged = [w.cluster(cluster_id) for cluster_id in dict.fromkeys(op.ids) if cluster_id != into.id]
        if not merged:
            raise OpRefused("merge at least one other cluster into it")
        code_ids = tuple(dict.fromkeys([*into.code_ids, *(c for m in merged for c in m.code_ids)]))
        w.put(dataclasses.replace(into, code_ids=code_ids, updated_at=w.now))
        for cluster in merged:
            w.put(dataclasses.replace(cluster, deleted_at=w.now, updated_at=w.now))
        w.applied.undo = [
            {"kind": "cluster.set_codes", "id": into.id, "code_ids": list(into.code_ids)},
            *({"kind": "cluster.restore", "id": c.id} for c in merged),
        ]
    elif kind == "cluster.split":
        cluster = w.cluster(op.id)
        if op.new_id in w.clusters:
            raise OpRefused(f"cluster {op.new_id} exists already")
        moving = tuple(dict.fromkeys(op.code_ids))
        missing = [c for c in moving if c not in cluster.code_ids]
        if missing:
            raise OpRefused(f"code {missing[0]} is not in cluster {cluster.id}")
        w.put(dataclasses.replace(cluster, code_ids=tuple(c for c in cluster.code_ids if c not in moving),
                                  updated_at=w.now))
        w.put(Cluster(op.new_id, participant, op.name.strip(), op.definition, moving, w.now, w.now))
        w.applied.undo = [
            {"kind": "cluster.set_codes", "id": cluster.id, "code_ids": list(cluster.code_ids)},
            {"kind": "cluster.delete", "id": op.new_id},
        ]
    elif kind == "cluster.delete":
        cluster = w.cluster(op.id)
        w.put(dataclasses.replace(cluster, deleted_at=w.now, updated_at=w.now))
        w.applied.undo = [{"kind": "cluster.restore", "id": op.id}]
    elif kind == "cluster.restore":
        cluster = w.cluster(op.id, deleted=True)
        w.put(dataclasses.replace(cluster, deleted_at=None, updated_at=w.now))
        w.applied.undo = [{"kind": "cluster.delete", "id": op.id}]
    else:  # pragma: no cover - the union above lists every kind
        raise OpRefused(f"unknown operation {kind!r}")
    return w.finish()
