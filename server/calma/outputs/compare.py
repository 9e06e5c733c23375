"""Aligning groups' axes by meaning: an optimal one-to-one matching, and "no counterpart" below a threshold.

Each axis is embedded as "name: definition" (MiniLM); the similarity of two
axes is the cosine of their vectors. The matching maximises the total
similarity over one-to-one pairs (the Hungarian method, scipy's
linear_sum_assignment); a pair below `threshold` is not a counterpart, and
both axes are listed as without one. With more than two groups, every pair
of groups is compared.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


import anyio
import numpy as np
from pydantic import ValidationError
from scipy.optimize import linear_sum_assignment

from calma.embeddings.model import Embedder
from calma.outputs.markdown import inline
from calma.outputs.schema import FORMAT, DerivedAxes

THRESHOLD = 0.5


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    similarity: float


@dataclass(frozen=True)
class Comparison:
    group_a: str
    group_b: str
    pairs: list[Pair]  # best first
    only_a: list[str]  # axes of A without a counterpart in B
    only_b: list[str]
    threshold: float


def axis_text(name: str, definition: str) -> str:
    return f"{name}: {definition}".strip().rstrip(":")


def match(similarity: np.ndarray, threshold: float = THRESHOLD) -> list[tuple[int, int, float]]:
    """(row, column, similarity) of the optimal one-to-one matching, keeping pairs at or above `threshold`."""
    if similarity.size == 0:
        return []
    rows, columns = linear_sum_assignment(-similarity)
    kept = [(int(r), int(c), float(similarity[r, c])) for r, c in zip(rows, columns, strict=True)
            if similarity[r, c] >= threshold]
    return sorted(kept, key=lambda item: -item[2])


def compare(a: DerivedAxes, b: DerivedAxes, vectors_a: np.ndarray, vectors_b: np.ndarray, *,
            threshold: float = THRESHOLD, name_a: str = "A", name_b: str = "B") -> Comparison:
    similarity = vectors_a @ vectors_b.T if len(a.axes) and len(b.axes) else np.zeros((len(a.axes), len(b.axes)))
    matched = match(similarity, threshold)
    pairs = [Pair(a.axes[r].name, b.axes[c].name, round(s, 4)) for r, c, s in matched]
    used_a, used_b = {r for r, _, _ in matched}, {c for _, c, _ in matched}
    return Comparison(
        a.group.name or name_a, b.group.name or name_b, pairs,
        [axis.name for i, axis in enumerate(a.axes) if i not in used_a],
        [axis.name for i, axis in enumerate(b.axes) if i not in used_b], threshold,
    )


def embed_axes(embedder: Embedder, axes: DerivedAxes) -> np.ndarray:
    return anyio.run(embedder.embed, [axis_text(x.name, x.definition) for x in axes.axes])


def markdown(comparison: Comparison) -> str:
    """The comparison as Markdown; names are escaped (`calma.outputs.markdown`), so they render as typed, inert."""
    group_a, group_b = inline(comparison.group_a), inline(comparison.group_b)
    lines = [f"## {group_a} ↔ {group_b}", "", f"| {group_a} | {group_b} | similarity |", "|---|---|---|"]
    lines += [f"| {inline(p.a)} | {inline(p.b)} | {p.similarity:.2f} |" for p in comparison.pairs]
    for group, names in ((group_a, comparison.only_a), (group_b, comparison.only_b)):
        lines += ["", f"No counterpart (below {comparison.threshold:.2f}) in {group}: "
                  + (", ".join(inline(name) for name in names) if names else "none")]
    return "\n".join(lines) + "\n"


class CompareInputError(ValueError):
    """A file that is not a derived-axes file; the message says why."""


def read_axes(path: Path) -> DerivedAxes:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CompareInputError(f"{path} is not JSON: {exc}") from exc
    try:
        return DerivedAxes.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CompareInputError(f"{path} is not a derived-axes file ({FORMAT}): {where}: {first['msg']}") from exc


def run(paths: list[Path], output_format: str, threshold: float) -> int:
    """`calma compare A.json B.json [more] [--format md|json]`: exit 0, or 2 with a message on bad input."""
    try:
        groups = [read_axes(path) for path in paths]
    except CompareInputError as exc:
        print(f"calma compare: {exc}", file=sys.stderr)
        return 2
    embedder = Embedder()
    vectors = [embed_axes(embedder, g) for g in groups]
    results = [
        compare(groups[i], groups[j], vectors[i], vectors[j], threshold=threshold, name_a=paths[i].stem, name_b=paths[j].stem)
        for i in range(len(groups)) for j in range(i + 1, len(groups))
    ]
    if output_format == "json":
        print(json.dumps({"format": "calma.axes-comparison/1", "comparisons": [asdict(r) for r in results]},
                         indent=2, ensure_ascii=False))
    else:
        print("\n".join(markdown(r) for r in results), end="")
    return 0


