"""Outputs over REST: a group's derived axes as JSON (shared_schema/derived-axes.schema.json), CSV and Markdown.

The facilitator's: the axes carry example interactions from participants'
conversations. Agreement figures appear once the session is closed.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, visible_group
from calma.api.problems import Problem
from calma.outputs.axes import axes_csv, axes_markdown, derived_axes
from calma.outputs.classifier import train_all
from calma.outputs.datasets import CodedSpan, axis_codes, coded_spans, excerpts, jsonl, steerlm
from calma.outputs.rubric import guidelines, rubrics
from calma.outputs.schema import DerivedAxes
from calma.studies.model import Study

TAG = "outputs"


async def _axes(call: Call) -> tuple[Study, DerivedAxes]:
    study = await managed_study(call)
    group_id = call.query_as(schemas.DiscussQuery).group_id
    if group_id is None:
        raise Problem("validation-failed", "say which group (group_id)")
    group = await visible_group(call, study, group_id)
    discuss = call.api.discuss_service()
    closed = (await discuss.control(study.id, group.id))["segment"] == "closed"
    cards = await call.api.canvas_service().cards(study.id, group.id)
    return study, await derived_axes(study, group, discuss, call.api.chat().conversations, cards, closed=closed)


def _filename(axes: DerivedAxes, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="axes-{axes.group.id}.{suffix}"'}


async def axes_json(call: Call) -> Response:
    _, axes = await _axes(call)
    return json_reply(axes)


async def axes_csv_file(call: Call) -> Response:
    _, axes = await _axes(call)
    return Response(axes_csv(axes), media_type="text/csv; charset=utf-8", headers=_filename(axes, "csv"))


async def rubrics_json(call: Call) -> Response:
    _, axes = await _axes(call)
    return Response(json.dumps(rubrics(axes), ensure_ascii=False), media_type="application/json",
                    headers=_filename(axes, "rubrics.json"))


async def guidelines_md(call: Call) -> Response:
    _, axes = await _axes(call)
    return Response(guidelines(axes), media_type="text/markdown; charset=utf-8", headers=_filename(axes, "guidelines.md"))


async def _coding(call: Call, study: Study, axes: DerivedAxes) -> tuple[list[CodedSpan], dict[str, set[str]]]:
    """The group's coded spans (with the text they are from) and which codes stand for which axis."""
    assert axes.group.id is not None
    reflect = call.api.reflect_service()
    participants = await call.api.store.participants_of(study.id, axes.group.id)
    everyone = await reflect.store.records_of_study(study.id)
    records = {p.id: everyone[p.id] for p in participants if p.id in everyone}
    texts: dict[tuple[str, str], tuple[str, str]] = {
        ("baseline", b.id): (b.prompt, b.response) for b in study.content.baseline_interactions}
    for participant in participants:
        for item in await reflect.items(study, participant):
            if item.kind.value == "message":
                texts[("message", item.id)] = (item.prompt, item.text)
    return coded_spans(study.id, records, texts), axis_codes(axes, records)


async def excerpts_jsonl(call: Call) -> Response:
    study, axes = await _axes(call)
    spans, mapping = await _coding(call, study, axes)
    return Response(jsonl(excerpts(spans, mapping)), media_type="application/x-ndjson",
                    headers=_filename(axes, "excerpts.jsonl"))


async def steerlm_jsonl(call: Call) -> Response:
    study, axes = await _axes(call)
    spans, mapping = await _coding(call, study, axes)
    return Response(jsonl(steerlm(spans, mapping)), media_type="application/x-ndjson",
                    headers=_filename(axes, "steerlm.jsonl"))


async def classifiers_json(call: Call) -> Response:
    study, axes = await _axes(call)
    spans, mapping = await _coding(call, study, axes)
    trained = await train_all(excerpts(spans, mapping), call.api.canvas_service().embedder)
    return Response(json.dumps(trained), media_type="application/json", headers=_filename(axes, "classifiers.json"))


async def axes_md_file(call: Call) -> Response:
    _, axes = await _axes(call)
    return Response(axes_markdown(axes), media_type="text/markdown; charset=utf-8", headers=_filename(axes, "md"))


ENDPOINTS = [
    Endpoint("GET", "/studies/{study_id}/outputs/axes.json", axes_json, "derivedAxes",
             "A group's derived axes (shared_schema/derived-axes.schema.json): facilitators", TAG,
             response=DerivedAxes, query=schemas.DiscussQuery, problems=(403,)),
    Endpoint("GET", "/studies/{study_id}/outputs/axes.csv", axes_csv_file, "derivedAxesCsv",
             "A group's derived axes, a row per axis (CSV)", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="text/csv",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.csv"}),
    Endpoint("GET", "/studies/{study_id}/outputs/axes.md", axes_md_file, "derivedAxesMarkdown",
             "A group's derived axes as a Markdown document", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="text/markdown",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.md"}),
    Endpoint("GET", "/studies/{study_id}/outputs/rubrics.json", rubrics_json, "judgeRubrics",
             "LLM-judge rubrics, one per axis: definition, 1-5 scale, few-shot examples, the ready prompt", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="application/json",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.rubrics.json"}),
    Endpoint("GET", "/studies/{study_id}/outputs/guidelines.md", guidelines_md, "annotationGuidelines",
             "Annotation guidelines per axis, with the scale and the group's examples (Markdown)", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="text/markdown",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.guidelines.md"}),
    Endpoint("GET", "/studies/{study_id}/outputs/datasets/excerpts.jsonl", excerpts_jsonl, "excerptsDataset",
             "Labelled excerpts per axis (JSON Lines): a coded span, the response it is from, 1 if coded with the axis", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="application/x-ndjson",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.excerpts.jsonl"}),
    Endpoint("GET", "/studies/{study_id}/outputs/datasets/steerlm.jsonl", steerlm_jsonl, "steerlmDataset",
             "SteerLM-style attribute records (JSON Lines): each coded response with a 0-4 value per axis", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="application/x-ndjson",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.steerlm.jsonl"}),
    Endpoint("GET", "/studies/{study_id}/outputs/classifiers.json", classifiers_json, "axisClassifiers",
             "A classifier per axis trained on the labelled excerpts, with cross-validated figures (for calma tag)", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="application/json",
             response_headers={"Content-Disposition": "attachment; filename=axes-GROUP.classifiers.json"}),
]  # fmt: skip
