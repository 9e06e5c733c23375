"""`calma judge`: score model responses on every derived axis with an LLM judge, through any configured backend.

Reads a derived-axes file and a JSONL of responses (each line an object with
`prompt` and `response`, and optionally `id`), asks the judge model once per
response and axis (`rubric.judge_prompt`; temperature 0, a few tokens) through
the same model pool Interact uses (the packaged model, a GGUF, or the
endpoints of an --llm-config file: vLLM, any OpenAI-compatible server), and
writes one JSONL line per response and axis: id, axis, score (1–5, or null
when the judge's answer held no digit) and the judge's raw answer. A progress
bar goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from tqdm import tqdm

from calma.interact.backend import GenerationRequest, Sampling, Speaker, Turn
from calma.interact.models import LLMSettings, build_pool
from calma.outputs.compare import CompareInputError, read_axes
from calma.outputs.rubric import judge_prompt, parse_score
from calma.outputs.schema import DerivedAxes

MAX_RESPONSES = 100_000
JUDGE_SYSTEM = "You are a careful evaluator. You answer with a single digit."


class JudgeInputError(ValueError):
    """The responses file cannot be used; the message says why."""


def read_responses(path: Path) -> list[dict[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise JudgeInputError(f"cannot read {path}: {exc}") from exc
    responses = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JudgeInputError(f"{path}:{number}: not JSON: {exc}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("response"), str):
            raise JudgeInputError(f"{path}:{number}: each line is an object with a string `response` (and `prompt`)")
        responses.append({"id": str(item.get("id", number)), "prompt": str(item.get("prompt", "")),
                          "response": item["response"]})
    if not responses:
        raise JudgeInputError(f"{path} holds no responses")
    if len(responses) > MAX_RESPONSES:
        raise JudgeInputError(f"{path} holds {len(responses)} responses; at most {MAX_RESPONSES} at a time")
    return responses


def _jobs(axes: DerivedAxes, responses: list[dict[str, str]]) -> Iterator[tuple[dict[str, str], Any]]:
    for item in responses:
        for axis in axes.axes:
            yield item, axis


async def judge(axes: DerivedAxes, responses: list[dict[str, str]], llm: LLMSettings, out: Path, *,
                model: str | None = None, max_tokens: int = 6, progress: bool = True) -> int:
    """Score every response on every axis; returns how many answers held no score."""
    pool = build_pool(llm)
    name = model or pool.models[0]
    if name not in pool.models:
        raise JudgeInputError(f"no model {name!r} is configured; there are: {', '.join(pool.models)}")
    unparsed = 0
    total = len(responses) * len(axes.axes)
    async with anyio.create_task_group() as tg:
        await tg.start(pool.run)
        with out.open("w", encoding="utf-8") as sink, tqdm(total=total, desc="judging", unit="score",
                                                          disable=not progress, file=sys.stderr) as bar:
            for item, axis in _jobs(axes, responses):
                pieces: list[str] = []

                async def keep(piece: str) -> None:
                    pieces.append(piece)

                request = GenerationRequest(JUDGE_SYSTEM, (Turn(Speaker.USER, judge_prompt(axis, item["prompt"], item["response"])),),
                                            Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0))
                await pool.generate(name, "judge", request, keep)
                raw = "".join(pieces)
                score = parse_score(raw)
                unparsed += score is None
                sink.write(json.dumps({"id": item["id"], "axis": axis.name, "score": score, "raw": raw.strip(),
                                       "model": name}, ensure_ascii=False) + "\n")
                bar.update(1)
        tg.cancel_scope.cancel()
    return unparsed


def run(axes_path: Path, responses_path: Path, out: Path, llm: LLMSettings, model: str | None) -> int:
    try:
        axes = read_axes(axes_path)
        responses = read_responses(responses_path)
    except (CompareInputError, JudgeInputError) as exc:
        print(f"calma judge: {exc}", file=sys.stderr)
        return 2
    if not axes.axes:
        print(f"calma judge: {axes_path} holds no axes", file=sys.stderr)
        return 2
    try:
        unparsed = anyio.run(lambda: judge(axes, responses, llm, out, model=model))
    except JudgeInputError as exc:
        print(f"calma judge: {exc}", file=sys.stderr)
        return 2
    total = len(responses) * len(axes.axes)
    print(f"calma judge: {total} scores written to {out}" + (f"; {unparsed} answers held no score (null)" if unparsed else ""),
          file=sys.stderr)
    return 0
