"""`calma map LABELS.txt --json OUT.json --png OUT.png`: place any list of labels the way the live canvas does.

For researchers preparing or revisiting a map outside a live session. Reads
one label per line (blank lines and duplicates dropped), embeds them with the
packaged MiniLM, places them (`placement`), suggests groups (`grouping`) and
writes label → x, y and suggested group as JSON, and a picture.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from calma.canvas.grouping import group_of, suggest
from calma.canvas.placement import fresh_layout
from calma.embeddings.model import Embedder

MAX_LABELS = 20_000
MAX_LABEL_CHARS = 500


class MapInputError(ValueError):
    """The labels file cannot be used; the message says why."""


def read_labels(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MapInputError(f"cannot read {path}: {exc}") from exc
    labels = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if not labels:
        raise MapInputError(f"{path} holds no labels (one per line)")
    if len(labels) > MAX_LABELS:
        raise MapInputError(f"{path} holds {len(labels)} labels; at most {MAX_LABELS} fit on one map")
    long = next((label for label in labels if len(label) > MAX_LABEL_CHARS), None)
    if long is not None:
        raise MapInputError(f"a label is longer than {MAX_LABEL_CHARS} characters: {long[:60]!r}…")
    return labels


def place(labels: list[str], embedder: Embedder) -> dict[str, Any]:
    vectors = anyio.run(embedder.embed, labels)
    layout = fresh_layout(vectors)
    positions = {label: (float(x), float(y)) for label, (x, y) in zip(labels, layout, strict=True)}
    suggestions = suggest(labels, vectors)
    groups = group_of(suggestions)
    return {
        "format": "calma.map/1",
        "labels": [
            {"label": label, "x": round(positions[label][0], 2), "y": round(positions[label][1], 2),
             "group": groups.get(label)}
            for label in labels
        ],
        "groups": suggestions.groups,
        "near_duplicates": [{"a": a, "b": b, "similarity": round(s, 4)} for a, b, s in suggestions.near_duplicates],
    }


def draw(layout: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = layout["labels"]
    figure, axes = plt.subplots(figsize=(12, 9), dpi=120)
    palette = plt.get_cmap("tab20")
    for entry in entries:
        group = entry["group"]
        colour = "#888888" if group is None else palette(group % 20)
        axes.scatter(entry["x"], entry["y"], s=18, color=colour)
        if len(entries) <= 300:
            axes.annotate(entry["label"], (entry["x"], entry["y"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_title(f"{len(entries)} labels; colour: suggested group (grey: none)")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run(labels_path: Path, json_path: Path | None, png_path: Path | None) -> int:
    try:
        labels = read_labels(labels_path)
    except MapInputError as exc:
        print(f"calma map: {exc}", file=sys.stderr)
        return 2
    print(f"calma map: embedding {len(labels)} labels…", file=sys.stderr)
    layout = place(labels, Embedder(show_progress=len(labels) > 200))
    text = json.dumps(layout, ensure_ascii=False, indent=2)
    if json_path is None:
        print(text)
    else:
        json_path.write_text(text + "\n", encoding="utf-8")
    if png_path is not None:
        draw(layout, png_path)
    print(f"calma map: {len(labels)} labels, {len(layout['groups'])} suggested groups, "
          f"{len(layout['near_duplicates'])} likely near-duplicates", file=sys.stderr)
    return 0
