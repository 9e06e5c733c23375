"""Positions from embeddings that stay stable as labels arrive.

A `Placement` is fitted on the labels it has (PCA of the unit embeddings to
two dimensions, scaled to a fixed spread). A new label is *projected* with
the current fit: it lands near its neighbours and nobody else moves. Now and
then (`refit_every` labels) the projection is fitted again on everything and
the new layout is rotated, reflected and scaled onto the old one (orthogonal
Procrustes), so the refit moves cards as little as possible; the client
animates what moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

SPREAD = 1000.0  # canvas units: the fitted layout's RMS distance from its centre


@dataclass
class Placement:
    """Labels → 2-D positions; `add` projects, `refit` re-fits and aligns."""

    refit_every: int = 25
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _pca: PCA | None = None
    _scale: float = 1.0
    _since_fit: int = 0
    _centre: np.ndarray = field(default_factory=lambda: np.zeros(2))
    _components: int = 2
    _rotation: np.ndarray = field(default_factory=lambda: np.eye(2))
    _shift: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def __len__(self) -> int:
        return len(self.positions)

    def add(self, label: str, vector: np.ndarray) -> tuple[float, float]:
        """Place one label (again: keep its place). Returns its position."""
        if label in self.positions:
            return self.positions[label]
        self._vectors[label] = vector
        if self._pca is None or len(self._vectors) <= 3:
            self.refit()  # too few points for a projection worth keeping: fit on all
        else:
            self.positions[label] = self._project(vector[None, :])[0]
            self._since_fit += 1
            if self._since_fit >= self.refit_every:
                self.refit()
        return self.positions[label]

    def add_many(self, labels: list[str], vectors: np.ndarray) -> dict[str, tuple[float, float]]:
        for label, vector in zip(labels, vectors, strict=True):
            self.add(label, vector)
        return {label: self.positions[label] for label in labels}

    def refit(self) -> dict[str, tuple[float, float]]:
        """Fit on every label, then align the new layout onto the old positions (those that had one)."""
        labels = list(self._vectors)
        matrix = np.stack([self._vectors[label] for label in labels])
        if len(labels) == 1:
            self.positions = {labels[0]: (0.0, 0.0)}
            self._pca = None
            return self.positions
        components = min(2, len(labels) - 1, matrix.shape[1])
        pca = PCA(n_components=components, random_state=0).fit(matrix)
        raw = pca.transform(matrix)
        if components == 1:
            raw = np.hstack([raw, np.zeros((len(labels), 1))])
        centred = raw - raw.mean(axis=0)
        rms = float(np.sqrt((centred**2).sum(axis=1).mean())) or 1.0
        scale = SPREAD / rms
        layout = centred * scale
        old = [i for i, label in enumerate(labels) if label in self.positions]
        if len(old) >= 3:
            before = np.array([self.positions[labels[i]] for i in old])
            after = layout[old]
            mu_b, mu_a = before.mean(axis=0), after.mean(axis=0)
            rotation, _ = orthogonal_procrustes(after - mu_a, before - mu_b)
            layout = (layout - mu_a) @ rotation + mu_b
            self._rotation, self._shift = rotation, mu_b - mu_a @ rotation
        else:
            self._rotation, self._shift = np.eye(2), np.zeros(2)
        self._pca, self._scale, self._centre, self._components = pca, scale, raw.mean(axis=0), components
        self._since_fit = 0
        self.positions = {label: (float(x), float(y)) for label, (x, y) in zip(labels, layout, strict=True)}
        return self.positions

    def _project(self, vectors: np.ndarray) -> list[tuple[float, float]]:
        assert self._pca is not None
        raw = self._pca.transform(vectors)
        if self._components == 1:
            raw = np.hstack([raw, np.zeros((len(vectors), 1))])
        layout = (raw - self._centre) * self._scale @ self._rotation + self._shift
        return [(float(x), float(y)) for x, y in layout]
