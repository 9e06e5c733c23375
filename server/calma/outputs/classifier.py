"""Lightweight classifiers that tag attribute-relevant content: logistic regression on sentence embeddings, one per axis.

Trained on the labelled excerpts (`datasets.excerpts`: a span coded with a
code of the axis is 1, one coded with other values is 0), embedded with the
packaged MiniLM. The figures are cross-validated (stratified k-fold, k up to
5) and reported honestly: accuracy, balanced accuracy, F1 and the majority
baseline to beat — or, when there is too little data, a plain statement of
how much there is and no figures. The file keeps the weights as numbers
(JSON, no pickles): `calma tag` applies them to new model outputs.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from calma.embeddings.model import MODEL_PACKAGE, Embedder

FORMAT = "calma.classifiers/1"
MIN_PER_CLASS = 3  # fewer examples of either class: no cross-validated figures
THRESHOLD = 0.5


def _model() -> LogisticRegression:
    return LogisticRegression(class_weight="balanced", max_iter=2000, C=1.0)


def train(axis: str, vectors: np.ndarray, labels: Sequence[int]) -> dict[str, Any]:
    """One axis's classifier and its honest figures."""
    y = np.array(labels, dtype=int)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    entry: dict[str, Any] = {"axis": axis, "examples": len(y), "positives": positives, "negatives": negatives,
                             "threshold": THRESHOLD}
    if positives == 0 or negatives == 0:
        entry.update(weights=None, bias=None, figures=None,
                     note=f"cannot train: {positives} positive and {negatives} negative examples; both kinds are needed")
        return entry
    model = _model().fit(vectors, y)
    entry.update(weights=[round(float(w), 6) for w in model.coef_[0]], bias=round(float(model.intercept_[0]), 6))
    if min(positives, negatives) < MIN_PER_CLASS:
        entry.update(figures=None, note=(f"too little data to estimate how well it works: {positives} positive and "
                                          f"{negatives} negative examples (cross-validation needs {MIN_PER_CLASS} of each)"))
        return entry
    folds = min(5, positives, negatives)
    predicted = cross_val_predict(_model(), vectors, y, cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=0))
    majority = max(positives, negatives) / len(y)
    accuracy = float(accuracy_score(y, predicted))
    entry["figures"] = {
        "folds": folds, "accuracy": round(accuracy, 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(y, predicted)), 4),
        "f1": round(float(f1_score(y, predicted)), 4), "majority_baseline": round(majority, 4),
    }
    entry["note"] = (f"{folds}-fold cross-validated on {len(y)} examples: accuracy {accuracy:.0%} against "
                     f"{majority:.0%} by always guessing the commoner class"
                     + ("" if len(y) >= 50 else "; with this few examples the figures are rough"))
    return entry


async def train_all(rows: Sequence[dict[str, Any]], embedder: Embedder) -> dict[str, Any]:
    """Classifiers for every axis in the labelled excerpts."""
    axes = list(dict.fromkeys(r["axis"] for r in rows))
    texts = list(dict.fromkeys(r["text"] for r in rows))
    vectors = await embedder.embed(texts) if texts else np.zeros((0, 384))
    index = {t: i for i, t in enumerate(texts)}
    classifiers = []
    for axis in axes:
        mine = [r for r in rows if r["axis"] == axis]
        x = vectors[[index[r["text"]] for r in mine]] if mine else np.zeros((0, 384))
        classifiers.append(await anyio.to_thread.run_sync(train, axis, x, [r["label"] for r in mine]))
    return {"format": FORMAT, "embedding_model": MODEL_PACKAGE, "classifiers": classifiers}


def probability(entry: dict[str, Any], vector: np.ndarray) -> float | None:
    if entry.get("weights") is None:
        return None
    z = float(np.dot(np.array(entry["weights"]), vector) + entry["bias"])
    return 1.0 / (1.0 + math.exp(-z))


class TagInputError(ValueError):
    """A file `calma tag` cannot use; the message says why."""


def read_classifiers(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TagInputError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("classifiers"), list):
        raise TagInputError(f"{path} is not a classifiers file ({FORMAT})")
    if data.get("embedding_model") != MODEL_PACKAGE:
        raise TagInputError(f"{path} was trained on {data.get('embedding_model')!r} embeddings; this is {MODEL_PACKAGE}")
    return data


def run_tag(classifiers_path: Path, in_path: Path, out_path: Path) -> int:
    """`calma tag`: each line's text (`text`, else `response`) tagged with the axes it is likely about."""
    try:
        data = read_classifiers(classifiers_path)
        lines = [json.loads(line) for line in in_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (TagInputError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"calma tag: {exc}", file=sys.stderr)
        return 2
    texts = []
    for number, item in enumerate(lines, start=1):
        text = item.get("text", item.get("response")) if isinstance(item, dict) else None
        if not isinstance(text, str):
            print(f"calma tag: {in_path}:{number}: each line is an object with a string `text` or `response`", file=sys.stderr)
            return 2
        texts.append(text)
    vectors = anyio.run(Embedder(show_progress=len(texts) > 200).embed, texts)
    usable = [c for c in data["classifiers"] if c.get("weights") is not None]
    with out_path.open("w", encoding="utf-8") as sink:
        for item, vector in zip(lines, vectors, strict=True):
            scores = {c["axis"]: round(p, 4) for c in usable if (p := probability(c, vector)) is not None}
            tags = [axis for axis, p in scores.items() if p >= next(c["threshold"] for c in usable if c["axis"] == axis)]
            sink.write(json.dumps({**item, "axes": tags, "scores": scores}, ensure_ascii=False) + "\n")
    skipped = len(data["classifiers"]) - len(usable)
    print(f"calma tag: {len(lines)} lines tagged with {len(usable)} classifiers → {out_path}"
          + (f" ({skipped} could not be trained and were skipped)" if skipped else ""), file=sys.stderr)
    return 0
