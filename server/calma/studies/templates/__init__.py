"""Study templates: the content a new study starts from.

`pilot` is the CALMA pilot (a history educational assistant for high-school
students in India), built from `pilot.json` in this folder: its deployment
context, system prompt, models and the baseline responses quoted in the paper.
`blank` is an empty study with the four stages in their usual order.
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from importlib import resources
from typing import Any

from calma.studies.codec import familiarize_from_json
from calma.studies.model import (
    DEFAULT_STAGE_ORDER,
    BaselineInteraction,
    DeploymentContext,
    StudyContent,
    TrainingContext,
    TrainingExample,
)


class Template(StrEnum):
    PILOT = "pilot"
    BLANK = "blank"


def pilot_data() -> dict[str, Any]:
    """The pilot's data as shipped in the package."""
    text = resources.files(__package__).joinpath("pilot.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def study_content(template: Template, name: str | None = None) -> StudyContent:
    """A new study's content from a template; `name` overrides the template's study name."""
    content = pilot_content() if template is Template.PILOT else blank_content()
    return content if name is None else dataclasses.replace(content, name=name)


def training_data() -> dict[str, Any]:
    """The grounded-theory training on the home-cooking context, as shipped in the package."""
    text = resources.files(__package__).joinpath("training_cooking.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def training_examples(data: dict[str, Any]) -> tuple[TrainingExample, ...]:
    return tuple(
        TrainingExample(id=e["id"], prompt=e["prompt"], response=e["response"], notes=e["notes"],
                        value_codes=tuple(e["value_codes"]), structural_codes=tuple(e["structural_codes"]))
        for e in data["worked_examples"]
    )


def pilot_content() -> StudyContent:
    data = pilot_data()
    lessons = training_data()
    context = data["deployment_context"]
    training = data["familiarize_example_context"]
    deployment = DeploymentContext(
        name=context["name"],
        description=context["description"],
        system_prompt=context["system_prompt"],
        models=(),  # the server's models: the pilot's (below, in the orientation) are rarely configured
    )
    return StudyContent(
        name=f"CALMA pilot: {context['name']}",
        deployment_context=deployment,
        orientation=_pilot_orientation(deployment, context["models_in_pilot"]),
        training_context=TrainingContext(
            name=training["name"], system_prompt=training["system_prompt"], examples=training_examples(lessons)
        ),
        familiarize=familiarize_from_json(lessons),
        baseline_interactions=tuple(
            BaselineInteraction(
                id=item["id"],
                prompt=item["prompt"],
                response=item["response"],
                prompt_reconstructed=bool(item.get("prompt_reconstructed", False)),
            )
            for item in data["baseline_interactions"]
        ),
        stage_order=DEFAULT_STAGE_ORDER,
    )


def blank_content() -> StudyContent:
    return StudyContent(
        name="Untitled study",
        deployment_context=DeploymentContext(name="", description="", system_prompt=""),
        orientation="",
        training_context=TrainingContext(name="", system_prompt=""),
    )


def _pilot_orientation(context: DeploymentContext, pilot_models: list[str]) -> str:
    return (
        f"# {context.name}\n\n"
        f"{context.description}\n\n"
        "In this study you help decide what a good assistant for this context looks like: "
        "which qualities it should be judged and improved on.\n\n"
        "1. **Familiarize**: learn the context, and practise labelling the values you see in "
        "conversations from an unrelated context.\n"
        f"2. **Interact**: chat freely with the assistant (the pilot used {' and '.join(pilot_models)}).\n"
        "3. **Reflect**: label the values in your own chats and in a shared set of example "
        "answers, then group your labels.\n"
        "4. **Discuss**: agree with your group on the qualities that matter most.\n"
    )
