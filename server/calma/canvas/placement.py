"""Positions from embeddings that stay stable as labels arrive.

A layout is the embeddings' first two principal axes (a `Plane`), scaled to
a fixed spread. A new label is *projected* with the current plane: it lands
near its neighbours and nobody else moves. Now and then the plane is fitted
again on everything and the new layout is rotated, reflected and scaled onto
the old one (Procrustes), so the refit moves cards as little as possible; the
client animates what moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import orthogonal_procrustes

SPREAD = 1000.0  # canvas units: the fitted layout's RMS distance from its centre


# On a live board people move cards, so the layout of record is the board's positions. A `Plane`
# (the first two principal axes of the embeddings, fitted at the last refit) is the current
# projection: `project_onto` maps the placed cards onto it, aligns that to where they are now
# (rotation, reflection, uniform scale and shift: least squares) and projects the new cards the
# same way: they land near their neighbours as people see them, and nobody moves. `relayout`
# fits a new plane on everything and aligns it onto the current positions of the cards that may
# move, so a refit moves cards as little as a rigid motion allows.

MIN_FITTED = 3  # below this many placed cards, the whole board is laid out afresh


@dataclass(frozen=True)
class Plane:
    """The two principal axes of a set of unit embeddings (one, or none, for fewer distinct points)."""

    mean: np.ndarray  # (dimensions,)
    axes: np.ndarray  # (k, dimensions), k <= 2

    def coordinates(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2) coordinates in the plane (a missing axis reads as 0)."""
        coords = (vectors - self.mean) @ self.axes.T
        return coords if coords.shape[1] == 2 else np.hstack([coords, np.zeros((len(vectors), 2 - coords.shape[1]))])


def fit_plane(vectors: np.ndarray) -> Plane:
    """Principal axes from the smaller of the two Gram matrices (fast for hundreds of cards)."""
    mean = vectors.mean(axis=0)
    centred = (vectors - mean).astype(np.float64)
    k = min(2, len(vectors) - 1, vectors.shape[1])
    if k <= 0:
        return Plane(mean, np.zeros((0, vectors.shape[1])))
    if len(vectors) < vectors.shape[1]:
        values, rows = np.linalg.eigh(centred @ centred.T)
        order = np.argsort(values)[::-1][:k]
        axes = (centred.T @ rows[:, order]).T
    else:
        values, columns = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(values)[::-1][:k]
        axes = columns[:, order].T
    norms = np.linalg.norm(axes, axis=1, keepdims=True)
    return Plane(mean, axes / np.where(norms > 1e-12, norms, 1.0))


def spread_for(cards: int) -> float:
    """The RMS distance from the centre a fresh layout of this many cards gets: room for them as they grow."""
    return max(SPREAD, 80.0 * float(np.sqrt(cards)))


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Rotation (or reflection) R, scale s and shift t with s * source @ R + t ≈ target.

    R and t are the least-squares fit; s matches the two point sets' spreads (their RMS distance from
    their centres), not the least-squares scale, which would shrink the map a little at every refit
    (by how weakly the layouts agree) until the cards pile up in the middle.
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    rotation, _ = orthogonal_procrustes(a, b)
    size_a, size_b = float(np.sqrt((a**2).sum())), float(np.sqrt((b**2).sum()))
    scale = size_b / size_a if size_a > 1e-9 and size_b > 1e-9 else 1.0
    return rotation, scale, mu_t - scale * mu_s @ rotation


def fresh_layout(vectors: np.ndarray, plane: Plane | None = None) -> np.ndarray:
    """A layout of these vectors alone, centred, with RMS distance `spread_for(n)` from the centre."""
    if len(vectors) == 1:
        return np.zeros((1, 2))
    coords = (plane or fit_plane(vectors)).coordinates(vectors)
    centred = coords - coords.mean(axis=0)
    rms = float(np.sqrt((centred**2).sum(axis=1).mean())) or 1.0
    return centred * (spread_for(len(vectors)) / rms)


def project_onto(plane: Plane, placed_vectors: np.ndarray, placed_positions: np.ndarray,
                 new_vectors: np.ndarray) -> np.ndarray:
    """Positions for new vectors on a board whose placed cards stay where they are (needs MIN_FITTED placed)."""
    if len(placed_vectors) < MIN_FITTED:
        raise ValueError(f"projecting needs at least {MIN_FITTED} placed cards")
    rotation, scale, shift = similarity_transform(plane.coordinates(placed_vectors), placed_positions)
    return scale * plane.coordinates(new_vectors) @ rotation + shift


def relayout(vectors: np.ndarray, positions: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, Plane]:
    """A fresh layout of every vector, aligned onto `positions` of the rows where `anchors` is true; and its plane.

    With fewer than MIN_FITTED anchors the fresh layout is returned as it is.
    """
    plane = fit_plane(vectors)
    layout = fresh_layout(vectors, plane)
    if int(anchors.sum()) < MIN_FITTED:
        return layout, plane
    rotation, scale, shift = similarity_transform(layout[anchors], positions[anchors])
    scale = max(scale, 1.0)  # as large as people made the map, never smaller than a fresh one: room to grow
    centre = positions[anchors].mean(axis=0)
    return scale * (layout - layout[anchors].mean(axis=0)) @ rotation + centre, plane
