"""The derived-axes format, version 1: one group's axes, each with a definition, examples, provenance, rank and agreement.

The pydantic models here are the definition; `shared_schema/derived-axes.schema.json`
is generated from them (`scripts/gen_axes_schema.py`; a test fails when it
drifts). Only `format` and each axis's `name` and `definition` are required,
so a file holding just names and definitions is a valid derived-axes file
(`calma compare` takes those too).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "calma.derived-axes/1"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Example(Model):
    kind: Literal["message", "baseline"] = Field(description="a model reply in a participant's conversation, or a baseline item")
    id: str
    prompt: str = Field(default="", description="what the model was asked")
    response: str = Field(default="", description="what it answered")


class Source(Model):
    card_id: str
    text: str
    kind: str = Field(description="code, top3, attribute or label: where on the canvas the label came from")


class Rank(Model):
    borda_position: int | None = Field(default=None, description="1 = first by symmetric Borda over the top-five ballots")
    borda_score: int | None = None
    schulze_position: int | None = Field(default=None, description="1 = first tier of the Schulze order")
    ballots: int = 0


class Agreement(Model):
    n: int = 0
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    iqr: float | None = None
    share_agreeing: float | None = Field(default=None, description="share rating 4 (agree) or 5 (strongly agree)")
    caveat: str | None = None


class Axis(Model):
    id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    definition: str = Field(max_length=5000)
    version: int | None = Field(default=None, description="the attribute's version whose wording `definition` is")
    rated_version: int | None = Field(default=None, description="the version whose wording the segment-5 ratings rated "
                                                                "(frozen when segment 5 started); none if not rated")
    rated_definition: str | None = Field(default=None, max_length=5000,
                                         description="the wording that was rated (differs from `definition` only if "
                                                     "the facilitator changed it after the vote, as a later version)")
    examples: list[Example] = Field(default_factory=list)
    provenance: list[Source] = Field(default_factory=list)
    rank: Rank | None = None
    agreement: Agreement | None = None


class GroupRef(Model):
    id: str | None = None
    name: str = ""


class StudyRef(Model):
    id: str | None = None
    name: str = ""
    deployment_context: str = ""


class DerivedAxes(Model):
    format: Literal["calma.derived-axes/1"] = Field(description="this format and its version")
    study: StudyRef = Field(default_factory=StudyRef)
    group: GroupRef = Field(default_factory=GroupRef)
    generated_at: str | None = Field(default=None, description="ISO 8601, UTC")
    axes: list[Axis] = Field(max_length=500)
    consensus: dict[str, Any] | None = Field(default=None, description="the session's consensus figures, as GET …/discuss/consensus gives them")


def json_schema() -> dict[str, Any]:
    schema = DerivedAxes.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://calma.studio/schemas/derived-axes/1"
    schema["title"] = "CALMA derived axes, version 1"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
