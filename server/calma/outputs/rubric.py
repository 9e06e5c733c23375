"""LLM-judge rubrics and annotation guidelines from derived axes.

A rubric per axis: its definition, a 1–5 scale with an anchor per point, and
few-shot examples drawn from the interactions the group attached to the axis
(they show the quality: the group picked them). `judge_prompt` renders the
prompt a judge model answers with one digit; `parse_score` reads it back.
The same material, written for people, is the annotation guidelines.
"""

from __future__ import annotations

import re
from typing import Any

from calma.outputs.markdown import escaped
from calma.outputs.schema import Axis, DerivedAxes

RUBRICS_FORMAT = "calma.rubrics/1"
MAX_FEW_SHOT = 3
MAX_EXAMPLE_CHARS = 1200
SCALE: dict[int, str] = {
    1: "The response works against this quality.",
    2: "The response mostly lacks this quality.",
    3: "The response shows this quality in part.",
    4: "The response shows this quality clearly, with small lapses.",
    5: "The response fully embodies this quality.",
}
_SCORE = re.compile(r"(?<!\d)([1-5])(?!\d)")


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_EXAMPLE_CHARS else text[:MAX_EXAMPLE_CHARS].rstrip() + " …"


def rubric(axis: Axis) -> dict[str, Any]:
    few_shot = [{"prompt": _clip(e.prompt), "response": _clip(e.response), "shows": axis.name}
                for e in axis.examples if e.response][:MAX_FEW_SHOT]
    return {"axis": axis.name, "definition": axis.definition, "version": axis.version,
            "rated_version": axis.rated_version, "scale": {str(k): v for k, v in SCALE.items()}, "few_shot": few_shot}


def rubrics(axes: DerivedAxes) -> dict[str, Any]:
    """Every axis's rubric, with the ready prompt template (`{prompt}` and `{response}` to fill in)."""
    return {
        "format": RUBRICS_FORMAT,
        "study": axes.study.name, "group": axes.group.name,
        "rubrics": [{**rubric(axis), "prompt_template": judge_prompt(axis, "{prompt}", "{response}")} for axis in axes.axes],
    }


def judge_prompt(axis: Axis, prompt: str, response: str) -> str:
    item = rubric(axis)
    lines = [f"You rate one quality of an AI assistant's response: {axis.name}.",
             f"Definition: {axis.definition.strip() or axis.name}", "", "Scale:"]
    lines += [f"{point} - {text}" for point, text in SCALE.items()]
    for index, shot in enumerate(item["few_shot"], start=1):
        lines += ["", f"Example {index} of a response that shows this quality (a 5):",
                  f"Prompt: {shot['prompt']}", f"Response: {shot['response']}"]
    lines += ["", "Rate this response.", f"Prompt: {prompt}", f"Response: {response}", "",
              "Answer with one digit from 1 to 5.", "Score:"]
    return "\n".join(lines)


def parse_score(text: str) -> int | None:
    """The first digit 1–5 standing alone in the judge's answer, or None."""
    found = _SCORE.search(text)
    return int(found.group(1)) if found else None


def guidelines(axes: DerivedAxes) -> str:
    """Annotation guidelines in Markdown: per axis, what it means, how to score it, and the group's examples.

    People's text in it is escaped (`calma.outputs.markdown`): it renders as typed, inert."""
    axes = escaped(axes)
    lines = [f"# Annotation guidelines — {axes.study.name or 'CALMA study'}", "",
             f"These axes were derived by the group “{axes.group.name}” in a CALMA study "
             f"({axes.study.deployment_context or 'its deployment context'}). For each response, read the prompt and the "
             "response, then give each axis a score from 1 to 5 using the scale below. Score each axis on its own.", "",
             "| score | meaning |", "|---|---|"]
    lines += [f"| {point} | {text} |" for point, text in SCALE.items()]
    for index, axis in enumerate(axes.axes, start=1):
        lines += ["", f"## {index}. {axis.name}", "", axis.definition.strip() or "_No definition was written._"]
        if axis.provenance:
            lines += ["", "Participants' own words behind it: " + ", ".join(f"“{s.text}”" for s in axis.provenance) + "."]
        shots = [e for e in axis.examples if e.response]
        if shots:
            lines += ["", "Examples the group chose as showing it (a 5):"]
            for example in shots:
                lines += ["", f"> **Prompt:** {_clip(example.prompt)}", ">", f"> **Response:** {_clip(example.response)}"]
    return "\n".join(lines) + "\n"
