"""Outputs: a group's derived axes exported under their schema, and groups' axes compared by meaning."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from calma.canvas.board import CardKind, card_id
from calma.embeddings.model import Embedder
from calma.outputs.classifier import train_all
from calma.outputs.compare import match
from calma.outputs.formats import Classifiers, ExcerptRecord, Rubrics, Score, SteerLMRecord
from calma.outputs.rubric import parse_score
from calma.outputs.schema import DerivedAxes
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.discuss import ATTRIBUTES, FinishedSession, run_session
from tests.helpers.server import REPO, ServerProcess

_studies = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("outputs") / "node") as node:
        yield node


@pytest.fixture
async def finished(server: ServerProcess) -> FinishedSession:
    lead = sign_in_lead(server, "Lena")
    return await run_session(server, lead, f"Outputs {next(_studies)}")


def test_the_schema_file_is_what_the_models_generate() -> None:
    done = subprocess.run([sys.executable, "scripts/gen_axes_schema.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_file_of_names_and_definitions_is_a_derived_axes_file() -> None:
    axes = DerivedAxes.model_validate({"format": "calma.derived-axes/1", "axes": [{"name": "Kind", "definition": "Warm."}]})
    assert axes.axes[0].examples == [] and axes.axes[0].rank is None


async def test_a_closed_sessions_axes_export_as_json_csv_and_markdown_and_round_trip(finished: FinishedSession) -> None:
    s = finished
    query = f"?group_id={s.group}"
    exported = s.lead.ok("GET", s.path(f"/outputs/axes.json{query}"))
    axes = DerivedAxes.model_validate(exported)  # the schema's own validator
    assert DerivedAxes.model_validate_json(axes.model_dump_json()) == axes, "export → import → the same axes"
    assert [a.name for a in axes.axes] == [ATTRIBUTES[0][0], ATTRIBUTES[1][0], ATTRIBUTES[2][0]], "Borda order"
    first = axes.axes[0]
    assert first.rank is not None and (first.rank.borda_position, first.rank.schulze_position, first.rank.ballots) == (1, 1, 3)
    assert first.agreement is not None and (first.agreement.median, first.agreement.share_agreeing) == (5.0, 1.0)
    assert first.examples[0].kind == "baseline" and first.examples[0].response, "examples carry their text"
    assert [p.text for p in first.provenance] == ["Historical accuracy"]
    assert axes.consensus is not None and axes.consensus["krippendorff_alpha"] is not None

    table = list(csv.DictReader(io.StringIO(s.lead.request("GET", s.path(f"/outputs/axes.csv{query}")).text)))
    assert [row["name"] for row in table] == [a.name for a in axes.axes] and table[0]["likert_median"] == "5.0"
    markdown = s.lead.request("GET", s.path(f"/outputs/axes.md{query}"))
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## 1. Historical accuracy" in markdown.text and "Borda 1, Schulze 1 (3 ballots)" in markdown.text
    for who in ("Ravi",):
        assert s.people[who].request("GET", s.path(f"/outputs/axes.json{query}")).status_code == 403


def test_the_matching_is_optimal_not_greedy() -> None:
    # Greedy would take (0, 0) = 0.9 and leave (1, 1) = 0.1; the optimum pairs (0, 1) and (1, 0): 0.8 + 0.8.
    similarity = np.array([[0.9, 0.8], [0.8, 0.1]])
    assert match(similarity, threshold=0.5) == [(0, 1, 0.8), (1, 0, 0.8)]
    assert match(similarity, threshold=0.85) == [], "below the threshold: no counterpart"


def write(path: Path, group: str, axes: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps({"format": "calma.derived-axes/1", "group": {"name": group},
                                "axes": [{"name": n, "definition": d} for n, d in axes]}), encoding="utf-8")
    return path


def calma_compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calma", "compare", *args], capture_output=True, text=True, timeout=120)


def test_calma_compare_pairs_toy_groups_by_meaning_and_lists_those_without_a_counterpart(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", "MIT students", [
        ("Historical accuracy", "Facts, dates and names are correct and sourced."),
        ("Balanced perspectives", "Presents several viewpoints on contested events."),
        ("Engaging tone", "Sparks curiosity and invites further questions.")])
    b = write(tmp_path / "b.json", "Professionals from India", [
        ("Multiple viewpoints", "Gives more than one side of a debated historical event."),
        ("Factual correctness", "Does not invent facts; dates and people are right."),
        ("Cultural sensitivity", "Respects religious and regional communities of India.")])
    done = calma_compare(str(a), str(b), "--format", "json")
    assert done.returncode == 0, done.stderr
    (comparison,) = json.loads(done.stdout)["comparisons"]
    assert {(p["a"], p["b"]) for p in comparison["pairs"]} == {
        ("Historical accuracy", "Factual correctness"), ("Balanced perspectives", "Multiple viewpoints")}
    assert comparison["only_a"] == ["Engaging tone"] and comparison["only_b"] == ["Cultural sensitivity"]
    table = calma_compare(str(a), str(b))
    assert "| Balanced perspectives | Multiple viewpoints |" in table.stdout
    assert "No counterpart (below 0.50) in MIT students: Engaging tone" in table.stdout


@pytest.mark.parametrize(("content", "problem"), [
    ("not json", "is not JSON"),
    ('{"format": "calma.derived-axes/2", "axes": []}', "format"),
    ('{"format": "calma.derived-axes/1", "axes": [{"name": "x"}]}', "axes.0.definition"),
])  # fmt: skip
def test_calma_compare_refuses_what_is_not_a_derived_axes_file(tmp_path: Path, content: str, problem: str) -> None:
    good = write(tmp_path / "good.json", "G", [("Kind", "Warm")])
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    done = calma_compare(str(good), str(bad))
    assert done.returncode == 2 and problem in done.stderr and "bad.json" in done.stderr
    assert calma_compare(str(good), str(good), "--threshold", "2").returncode == 2


async def test_rubrics_guidelines_and_a_judge_run_come_from_the_axes(finished: FinishedSession, tmp_path: Path) -> None:
    s = finished
    query = f"?group_id={s.group}"
    rubrics = json.loads(s.lead.request("GET", s.path(f"/outputs/rubrics.json{query}")).text)
    Rubrics.model_validate(rubrics)
    assert rubrics["format"] == "calma.rubrics/1" and len(rubrics["rubrics"]) == 3
    accuracy = rubrics["rubrics"][0]
    assert accuracy["axis"] == "Historical accuracy" and list(accuracy["scale"]) == ["1", "2", "3", "4", "5"]
    assert len(accuracy["few_shot"]) == 1, "the baseline example the group attached"
    template = accuracy["prompt_template"]
    assert template.startswith("You rate one quality of an AI assistant's response: Historical accuracy.")
    assert "Definition: Facts, dates and names are right; nothing is invented." in template
    assert "Example 1 of a response that shows this quality (a 5):" in template
    assert template.endswith("Prompt: {prompt}\nResponse: {response}\n\nAnswer with one digit from 1 to 5.\nScore:")
    guide = s.lead.request("GET", s.path(f"/outputs/guidelines.md{query}")).text
    assert "## 1. Historical accuracy" in guide and "| 5 | The response fully embodies this quality. |" in guide

    axes_file = tmp_path / "axes.json"
    axes_file.write_text(s.lead.request("GET", s.path(f"/outputs/axes.json{query}")).text, encoding="utf-8")
    one_axis = json.loads(axes_file.read_text())
    one_axis["axes"] = one_axis["axes"][:1]
    axes_file.write_text(json.dumps(one_axis), encoding="utf-8")
    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps({"id": "r1", "prompt": "Who built the Taj Mahal?",
                                     "response": "Shah Jahan, the Mughal emperor, completed it around 1653."}) + "\n")
    out = tmp_path / "scores.jsonl"
    done = subprocess.run([sys.executable, "-m", "calma", "judge", "--axes", str(axes_file), "--responses", str(responses),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    Score.model_validate(line)
    assert (line["id"], line["axis"], line["model"]) == ("r1", "Historical accuracy", "gemma-3-270m")
    assert line["score"] in (1, 2, 3, 4, 5, None) and isinstance(line["raw"], str)
    assert line["score"] == parse_score(line["raw"])
    bad = subprocess.run([sys.executable, "-m", "calma", "judge", "--axes", str(axes_file), "--responses", str(axes_file),
                          "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "each line is an object" in bad.stderr


def test_the_judges_answer_is_read_back_as_a_score() -> None:
    assert [parse_score(t) for t in ("4", " 5 - fully", "Score: 3/5", "12", "none", "0 or 7")] == [4, 5, 3, None, None, None]


# -- datasets and classifiers ------------------------------------------------------------------------------

ACCURATE = ["The treaty was signed in 1947, as the records show.", "Akbar ruled from 1556 to 1605.",
            "The date given is correct and sourced to the census.", "Shah Jahan commissioned the Taj Mahal in 1632.",
            "It cites the primary documents for each date.", "The figures match the archival sources.",
            "The battle took place in 1757 at Plassey.", "The names and dates are all accurate.",
            "The account is faithful to the historical record.", "Every fact is checked against sources."]
CURIOUS = ["What do you think life was like for a child then?", "Imagine walking through the bazaar: what would you ask?",
           "This opens a fascinating question for you to explore.", "Why not look up what happened next?",
           "Can you guess why the emperor decided this?", "There is a mystery here worth digging into.",
           "Try asking your grandparents what they remember!", "What would you have done in their place?",
           "Keep wondering: there is much more to discover.", "Here is a puzzle to think about tonight."]


async def test_a_classifier_on_small_meaningful_data_beats_chance_and_says_so(tmp_path: Path) -> None:
    rows = [{"axis": "Historical accuracy", "text": t, "label": 1} for t in ACCURATE]
    rows += [{"axis": "Historical accuracy", "text": t, "label": 0} for t in CURIOUS]
    trained = await train_all(rows, Embedder())
    Classifiers.model_validate(trained)
    (entry,) = trained["classifiers"]
    figures = entry["figures"]
    assert figures["folds"] == 5 and figures["majority_baseline"] == 0.5
    assert figures["accuracy"] > 0.75 and figures["balanced_accuracy"] > 0.75, figures
    assert entry["note"].startswith("5-fold cross-validated on 20 examples: accuracy")
    assert "rough" in entry["note"], "twenty examples are few, and the note says so"

    too_few = (await train_all(rows[:2] + rows[-1:], Embedder()))["classifiers"][0]
    assert too_few["figures"] is None and too_few["note"].startswith("too little data")
    one_class = (await train_all(rows[:4], Embedder()))["classifiers"][0]
    assert one_class["weights"] is None and one_class["note"].startswith("cannot train")

    classifiers = tmp_path / "classifiers.json"
    classifiers.write_text(json.dumps(trained), encoding="utf-8")
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"id": "a", "response": "The Mughal empire was founded in 1526 by Babur, the sources agree."})
                       + "\n" + json.dumps({"id": "b", "text": "What would you ask the emperor if you could meet him?"}) + "\n")
    tagged_path = tmp_path / "tagged.jsonl"
    done = subprocess.run([sys.executable, "-m", "calma", "tag", "--classifiers", str(classifiers), "--in", str(outputs),
                           "--out", str(tagged_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tagged = [json.loads(line) for line in tagged_path.read_text().splitlines()]
    assert tagged[0]["axes"] == ["Historical accuracy"] and tagged[1]["axes"] == []
    assert tagged[0]["scores"]["Historical accuracy"] > tagged[1]["scores"]["Historical accuracy"]
    bad = subprocess.run([sys.executable, "-m", "calma", "tag", "--classifiers", str(outputs), "--in", str(outputs),
                          "--out", str(tagged_path)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "calma tag:" in bad.stderr


def code(s: FinishedSession, who: str, item_index: int, codes: list[str], cluster: str | None = None) -> None:
    person = s.people[who]
    items = [i for i in person.ok("GET", s.path("/reflect"))["items"] if i["kind"] == "baseline"]
    item = items[item_index]
    ops = [{"kind": "annotation.create", "id": uuid.uuid4().hex[:16], "target_kind": "baseline", "target_id": item["id"],
            "start": 0, "end": 20, "quote": item["text"][:20], "codes": codes}]
    person.ok("POST", s.path("/reflect/ops"), {"ops": [{"op_id": op["id"], "op": op} for op in ops]})
    if cluster is not None:
        state = person.ok("GET", s.path("/reflect"))
        ids = [c["id"] for c in state["codes"] if c["label"] in codes]
        op = {"kind": "cluster.create", "id": uuid.uuid4().hex[:16], "name": cluster, "definition": "", "code_ids": ids}
        person.ok("POST", s.path("/reflect/ops"), {"ops": [{"op_id": op["id"], "op": op}]})


async def test_datasets_map_codes_to_axes_through_provenance_and_clusters_and_load_in_hf_datasets(
    finished: FinishedSession, tmp_path: Path
) -> None:
    s = finished
    s.lead.ok("PUT", s.path("/stage-overrides"), {"group_id": s.group, "stage": "reflect", "state": "open"})
    code(s, "Ravi", 0, ["accurate dates", "checks facts"], cluster="Getting it right")  # clustered together
    code(s, "Mei", 0, ["accurate dates"])
    code(s, "Mei", 1, ["sparks curiosity"])
    code(s, "Ana", 1, ["checks facts"])
    s.lead.ok("PUT", s.path("/reflect/settings"), {"codes_released": True})
    s.lead.ok("POST", s.path("/canvas/refresh"), {"group_id": s.group})
    accuracy = s.attributes["Historical accuracy"]
    s.lead.ok("PATCH", s.path(f"/discuss/attributes/{accuracy}"),
              {"group_id": s.group, "provenance": [card_id(CardKind.CODE, "accurate dates")]})
    query = f"?group_id={s.group}"

    excerpts_file = tmp_path / "excerpts.jsonl"
    excerpts_file.write_text(s.lead.request("GET", s.path(f"/outputs/datasets/excerpts.jsonl{query}")).text)
    rows = [json.loads(line) for line in excerpts_file.read_text().splitlines()]
    for row in rows:
        ExcerptRecord.model_validate(row)
    about_accuracy = {(r["annotator"], tuple(r["codes"])): r["label"] for r in rows if r["axis"] == "Historical accuracy"}
    assert sorted(about_accuracy.values()) == [0, 1, 1, 1], "checks facts counts through Ravi's cluster; curiosity does not"
    assert all(r["annotator"].startswith("p-") for r in rows), "annotators are pseudonyms"

    steer_file = tmp_path / "steerlm.jsonl"
    steer_file.write_text(s.lead.request("GET", s.path(f"/outputs/datasets/steerlm.jsonl{query}")).text)
    steer = [json.loads(line) for line in steer_file.read_text().splitlines()]
    for record in steer:
        SteerLMRecord.model_validate(record)
    # Baseline item 0: Ravi and Mei both coded it with accuracy codes → 4 of 4. Item 1: Ana ("checks facts", an
    # accuracy code through Ravi's cluster) and Mei ("sparks curiosity") → one of two coders → 2.
    assert sorted(r["attributes"]["Historical accuracy"] for r in steer) == [2, 4]
    assert all(r["coders"] == 2 for r in steer)
    assert next(r for r in steer if r["attributes"]["Historical accuracy"] == 4)["label"].startswith("historical_accuracy:4,")

    import datasets

    loaded = datasets.load_dataset("json", data_files=str(excerpts_file), split="train")
    assert loaded.num_rows == len(rows) and set(loaded.column_names) >= {"axis", "label", "text"}
    steer_loaded = datasets.load_dataset("json", data_files=str(steer_file), split="train")
    assert steer_loaded.num_rows == len(steer) and steer_loaded[0]["attributes"]["Historical accuracy"] in range(5)

    trained = json.loads(s.lead.request("GET", s.path(f"/outputs/classifiers.json{query}")).text)
    Classifiers.model_validate(trained)
    names = [c["axis"] for c in trained["classifiers"]]
    assert names == [a for a, _, _ in ATTRIBUTES] and all(c["note"] for c in trained["classifiers"])


async def test_the_report_is_one_printable_page_with_the_axes_and_pictures_and_no_script(finished: FinishedSession) -> None:
    s = finished
    s.lead.ok("PATCH", s.path(f"/discuss/attributes/{s.attributes['Balanced views']}"),
              {"group_id": s.group, "name": "Balanced <b>views</b>"})
    page = s.lead.request("GET", s.path(f"/outputs/report.html?group_id={s.group}"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"] and "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert "<h2>1. Historical accuracy</h2>" in text and "Balanced &lt;b&gt;views&lt;/b&gt;" in text, "people's words escaped"
    assert "<script" not in text.lower()
    assert text.count('src="data:image/png;base64,') == 3, "the canvas, the agreement and the tau plots"
    assert "Krippendorff's alpha (ordinal)" in text and "Only 3 people" in text


OTHER_GROUP = [("Multiple viewpoints", "Gives more than one side of a debated historical event.", None),
               ("Factual correctness", "Does not invent facts; dates and people are right.", None),
               ("Cultural sensitivity", "Respects the religious and regional communities of India.", None)]


async def test_two_groups_axes_are_paired_by_meaning_and_the_facilitators_correction_is_kept(
    finished: FinishedSession,
) -> None:
    s = finished
    other = await run_session(s.server, s.lead, "unused", "Professionals from India", study=s.study, attributes=OTHER_GROUP)
    query = f"?group_a={s.group}&group_b={other.group}"
    auto = s.lead.ok("GET", s.path(f"/outputs/comparison{query}"))
    pairs = {(p["a"]["name"], p["b"]["name"]) for p in auto["pairs"]}
    assert pairs == {("Historical accuracy", "Factual correctness"), ("Balanced views", "Multiple viewpoints")}
    assert [x["name"] for x in auto["only_a"]] == ["Encourages curiosity"]
    assert [x["name"] for x in auto["only_b"]] == ["Cultural sensitivity"] and not auto["corrected"]

    a, b = s.attributes, other.attributes
    correction = {"group_a": s.group, "group_b": other.group, "pairs": [
        [a["Historical accuracy"], b["Factual correctness"]], [a["Encourages curiosity"], b["Cultural sensitivity"]]]}
    corrected = s.lead.ok("PUT", s.path("/outputs/comparison"), correction)
    assert corrected["corrected"] and corrected["corrected_by"] == "Lena"
    again = s.lead.ok("GET", s.path(f"/outputs/comparison{query}"))
    assert {(p["a"]["name"], p["b"]["name"]) for p in again["pairs"]} == {
        ("Historical accuracy", "Factual correctness"), ("Encourages curiosity", "Cultural sensitivity")}, "kept"
    assert [x["name"] for x in again["only_a"]] == ["Balanced views"]

    not_one_to_one = {**correction, "pairs": [[a["Historical accuracy"], b["Factual correctness"]],
                                              [a["Historical accuracy"], b["Multiple viewpoints"]]]}
    assert s.lead.request("PUT", s.path("/outputs/comparison"), json=not_one_to_one).status_code == 422
    swapped = {**correction, "pairs": [[b["Factual correctness"], a["Historical accuracy"]]]}
    assert s.lead.request("PUT", s.path("/outputs/comparison"), json=swapped).status_code == 422
    assert s.people["Ravi"].request("GET", s.path(f"/outputs/comparison{query}")).status_code == 403
    reset = s.lead.request("DELETE", s.path(f"/outputs/comparison{query}")).json()
    assert not reset["corrected"] and len(reset["pairs"]) == 2
