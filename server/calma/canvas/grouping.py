"""Hints for the group, never decisions: likely near-duplicates and suggested groupings.

Agglomerative clustering (average linkage, cosine distance) with a distance
threshold suggests groups; pairs closer than `duplicate_distance` are
flagged as likely near-duplicates. Nothing is merged here (CALMA is
non-prescriptive): the canvas shows faint outlines the group accepts or dismisses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering


@dataclass(frozen=True)
class Suggestions:
    groups: list[list[str]]  # groups of two or more labels
    near_duplicates: list[tuple[str, str, float]]  # (a, b, cosine similarity), most similar first


def suggest(labels: list[str], vectors: np.ndarray, *, group_distance: float = 0.55,
            duplicate_distance: float = 0.2) -> Suggestions:
    if len(labels) < 2:
        return Suggestions([], [])
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=group_distance, metric="cosine",
                                    linkage="average")
    assignment = model.fit_predict(vectors)
    members: dict[int, list[str]] = {}
    for label, cluster in zip(labels, assignment.tolist(), strict=True):
        members.setdefault(cluster, []).append(label)
    groups = sorted((sorted(g) for g in members.values() if len(g) > 1), key=lambda g: (-len(g), g))
    similarity = vectors @ vectors.T
    pairs = [
        (labels[i], labels[j], float(similarity[i, j]))
        for i in range(len(labels)) for j in range(i + 1, len(labels))
        if 1.0 - similarity[i, j] <= duplicate_distance
    ]
    return Suggestions(groups, sorted(pairs, key=lambda p: -p[2]))


def group_of(suggestions: Suggestions) -> dict[str, int]:
    """label → index of its suggested group (labels in no group are absent)."""
    return {label: index for index, group in enumerate(suggestions.groups) for label in group}
