"""The formats of the other exports, as pydantic models: rubrics, dataset records, classifiers, judge scores.

Like the derived axes (`schema`), each has a JSON Schema in
shared_schema/outputs/, generated from these models
(`scripts/gen_axes_schema.py` writes them all; a test fails when one drifts),
and the tests validate every export against its model. JSON Lines formats
describe one line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FewShot(Model):
    prompt: str
    response: str
    shows: str = Field(description="the axis the example shows (a 5 on its scale)")


class Rubric(Model):
    axis: str
    definition: str
    version: int | None = Field(default=None, description="the attribute's version whose wording `definition` is")
    rated_version: int | None = Field(default=None, description="the version the group rated in segment 5, if any")
    scale: dict[Literal["1", "2", "3", "4", "5"], str]
    few_shot: list[FewShot]
    prompt_template: str = Field(description="the judge prompt with {prompt} and {response} to fill in")


class Rubrics(Model):
    format: Literal["calma.rubrics/1"]
    study: str
    group: str
    rubrics: list[Rubric]


class ExcerptRecord(Model):
    """One line of datasets/excerpts.jsonl."""

    axis: str
    label: Literal[0, 1] = Field(description="1: the span was coded with a code of the axis")
    text: str = Field(description="the coded span")
    prompt: str
    response: str
    codes: list[str]
    item_kind: Literal["message", "baseline"]
    item_id: str
    annotator: str = Field(description="a pseudonym")


class SteerLMRecord(Model):
    """One line of datasets/steerlm.jsonl."""

    prompt: str
    response: str
    attributes: dict[str, int] = Field(description="axis → 0..4")
    label: str = Field(description="SteerLM's attribute string, e.g. historical_accuracy:4,balanced_views:0")
    coders: int
    item_kind: Literal["message", "baseline"]
    item_id: str


class PreferenceRecord(Model):
    """One line of ab-tests/{id}/preferences.jsonl."""

    prompt: str
    chosen: str
    rejected: str
    axis: str
    chosen_arm: Literal["a", "b"]
    test: str
    trial: str


class Figures(Model):
    folds: int
    accuracy: float
    balanced_accuracy: float
    f1: float
    majority_baseline: float


class Classifier(Model):
    axis: str
    examples: int
    positives: int
    negatives: int
    threshold: float
    weights: list[float] | None = Field(description="logistic-regression weights over the embedding (null: not trained)")
    bias: float | None
    figures: Figures | None = Field(description="cross-validated; null when there is too little data")
    note: str = Field(description="the figures, or why there are none, in words")


class Classifiers(Model):
    format: Literal["calma.classifiers/1"]
    embedding_model: str
    classifiers: list[Classifier]


class Score(Model):
    """One line of `calma judge`'s output."""

    id: str
    axis: str
    score: Literal[1, 2, 3, 4, 5] | None
    raw: str
    model: str


SCHEMAS: dict[str, type[BaseModel]] = {
    "rubrics": Rubrics, "excerpt-record": ExcerptRecord, "steerlm-record": SteerLMRecord,
    "preference-record": PreferenceRecord, "classifiers": Classifiers, "judge-score": Score,
}


def json_schema(name: str) -> dict[str, Any]:
    schema = SCHEMAS[name].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://calma.studio/schemas/outputs/{name}/1"
    return schema
