"""Outputs over REST: a group's derived axes as JSON (shared_schema/derived-axes.schema.json), CSV and Markdown.

The facilitator's: the axes carry example interactions from participants'
conversations. Agreement figures appear once the session is closed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import anyio
import numpy as np
import anyio.to_thread
from starlette.responses import HTMLResponse, Response

from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, visible_group
from calma.api.problems import Problem
from calma.outputs.axes import axes_csv, axes_markdown, derived_axes
from calma.discuss.artifacts import word_cloud_png
from calma.outputs.classifier import train_all
from calma.outputs.compare import THRESHOLD, axis_text, match
from calma.store.outputs_sql import SQLOutputsStore
from calma.outputs.report import report_html
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


async def report(call: Call) -> Response:
    study, axes = await _axes(call)
    assert axes.group.id is not None
    cards = await call.api.canvas_service().cards(study.id, axes.group.id)
    codes = await call.api.discuss_service().group_codes(study, axes.group.id)
    cloud = await anyio.to_thread.run_sync(word_cloud_png, {c.label: c.uses for c in codes}) if codes else None
    page = await anyio.to_thread.run_sync(report_html, axes, cards, cloud)
    # people's words, escaped; pictures inline; no script, no requests
    return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


async def _comparison(call: Call, group_a: str, group_b: str) -> schemas.GroupComparison:
    study = await managed_study(call)
    if group_a == group_b:
        raise Problem("validation-failed", "compare two different groups")
    a, b = await visible_group(call, study, group_a), await visible_group(call, study, group_b)
    discuss = call.api.discuss_service()
    axes_a = await discuss.attributes(a.id, active_only=True)
    axes_b = await discuss.attributes(b.id, active_only=True)
    text_a = {**{x.id: x.definition for x in axes_a}, **await discuss.live_definitions(study.id, a.id)}
    text_b = {**{x.id: x.definition for x in axes_b}, **await discuss.live_definitions(study.id, b.id)}
    embedder = call.api.canvas_service().embedder
    vectors_a = await embedder.embed([axis_text(x.name, text_a[x.id]) for x in axes_a])
    vectors_b = await embedder.embed([axis_text(x.name, text_b[x.id]) for x in axes_b])
    similarity = vectors_a @ vectors_b.T if axes_a and axes_b else np.zeros((len(axes_a), len(axes_b)))
    index_a, index_b = {x.id: i for i, x in enumerate(axes_a)}, {x.id: i for i, x in enumerate(axes_b)}
    stored = await _outputs_store(call).pairing(study.id, a.id, b.id)
    if stored is not None:
        chosen = [(index_a[x], index_b[y]) for x, y in stored.pairs if x in index_a and y in index_b]
    else:
        chosen = [(r, c) for r, c, _ in match(similarity, THRESHOLD)]
    ref_a = [schemas.AxisRef(id=x.id, name=x.name) for x in axes_a]
    ref_b = [schemas.AxisRef(id=x.id, name=x.name) for x in axes_b]
    return schemas.GroupComparison(
        group_a=schemas.AxisRef(id=a.id, name=a.name), group_b=schemas.AxisRef(id=b.id, name=b.name), threshold=THRESHOLD,
        pairs=[schemas.ComparedPair(a=ref_a[r], b=ref_b[c], similarity=round(float(similarity[r, c]), 4)) for r, c in chosen],
        only_a=[ref_a[i] for i in range(len(axes_a)) if i not in {r for r, _ in chosen}],
        only_b=[ref_b[i] for i in range(len(axes_b)) if i not in {c for _, c in chosen}],
        corrected=stored is not None, corrected_by=stored.by_name if stored else None,
        corrected_at=datetime.fromtimestamp(stored.updated_at, UTC) if stored else None,
    )


def _outputs_store(call: Call) -> SQLOutputsStore:
    return call.api.outputs_store()


async def get_comparison(call: Call) -> Response:
    query = call.query_as(schemas.ComparisonQuery)
    return json_reply(await _comparison(call, query.group_a, query.group_b))


async def put_comparison(call: Call) -> Response:
    body = call.body_as(schemas.ComparisonIn)
    study = await managed_study(call)
    discuss = call.api.discuss_service()
    await visible_group(call, study, body.group_a)
    await visible_group(call, study, body.group_b)
    axes_a = {x.id for x in await discuss.attributes(body.group_a, active_only=True)}
    axes_b = {x.id for x in await discuss.attributes(body.group_b, active_only=True)}
    pairs = [(p[0], p[1]) for p in body.pairs]
    if any(a not in axes_a or b not in axes_b for a, b in pairs):
        raise Problem("validation-failed", "each pair is [an axis of group A, an axis of group B]")
    if len({a for a, _ in pairs}) != len(pairs) or len({b for _, b in pairs}) != len(pairs):
        raise Problem("validation-failed", "a pairing is one to one: each axis in at most one pair")
    await _outputs_store(call).set_pairing(study.id, body.group_a, body.group_b, pairs, call.user.name)
    return json_reply(await _comparison(call, body.group_a, body.group_b))


async def delete_comparison(call: Call) -> Response:
    query = call.query_as(schemas.ComparisonQuery)
    study = await managed_study(call)
    await _outputs_store(call).clear_pairing(study.id, query.group_a, query.group_b)
    return json_reply(await _comparison(call, query.group_a, query.group_b))


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
    Endpoint("GET", "/studies/{study_id}/outputs/comparison", get_comparison, "groupComparison",
             "Two groups' axes side by side: paired by meaning (or as the facilitator corrected), and those without a counterpart",
             TAG, response=schemas.GroupComparison, query=schemas.ComparisonQuery, problems=(403,)),
    Endpoint("PUT", "/studies/{study_id}/outputs/comparison", put_comparison, "correctComparison",
             "Set the pairing of two groups' axes (kept; it replaces the automatic matching)", TAG,
             response=schemas.GroupComparison, request=schemas.ComparisonIn, problems=(403,)),
    Endpoint("DELETE", "/studies/{study_id}/outputs/comparison", delete_comparison, "resetComparison",
             "Forget the correction: back to the automatic matching", TAG,
             response=schemas.GroupComparison, query=schemas.ComparisonQuery, problems=(403,)),
    Endpoint("GET", "/studies/{study_id}/outputs/report.html", report, "groupReport",
             "A group's report: axes, the canvas, the word cloud and the consensus plots, as one printable page", TAG,
             query=schemas.DiscussQuery, problems=(403,), text_media_type="text/html"),
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
