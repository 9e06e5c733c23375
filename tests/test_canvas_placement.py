"""The semantic canvas's placement, suggestions and `calma map`, with the real packaged embedding model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import numpy as np
import pytest

from calma.canvas.grouping import suggest
from calma.config import Settings
from calma.canvas.placement import SPREAD, fit_plane, fresh_layout, project_onto, relayout
from calma.embeddings.model import MODEL_PACKAGE, Embedder, LocalEncoder
from calma.store.embeddings_sql import SQLEmbeddingCache
from calma.store.factory import room_store

NEAR = [  # pairs that mean nearly the same
    ("safety-conscious", "careful about safety"),
    ("encouraging to beginners", "supportive of novices"),
    ("Eurocentric perspective", "Western-centred view"),
    ("presents both sides of the debate", "balanced between viewpoints"),
    ("celebrates freedom fighters", "praises independence heroes"),
]
LABELS = [label for pair in NEAR for label in pair] + [
    "summary", "assumes prior knowledge", "sparks curiosity", "cites sources", "patriotic", "age-appropriate",
    "honest about uncertainty", "avoids caste", "inclusive of women", "romanticizes the past",
]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return anyio.run(Embedder().embed, LABELS)


def test_near_meanings_are_nearer_than_far_ones_in_embeddings_and_on_the_map(vectors: np.ndarray) -> None:
    index = {label: i for i, label in enumerate(LABELS)}
    layout = fresh_layout(vectors)
    closer_on_map = 0
    for a, b in NEAR:
        near_sim = float(vectors[index[a]] @ vectors[index[b]])
        others = [float(vectors[index[a]] @ vectors[i]) for label, i in index.items() if label not in (a, b)]
        assert near_sim > max(others), (a, b)  # the partner is the nearest meaning of all
        pa, pb = layout[index[a]], layout[index[b]]
        near_d = float(np.linalg.norm(pa - pb))
        far_d = np.median([np.linalg.norm(pa - layout[i]) for label, i in index.items() if label not in (a, b)])
        closer_on_map += near_d < far_d
    assert closer_on_map == len(NEAR), "on the 2-D map too, each pair sits closer than the median other label"


def test_the_plane_is_the_principal_axes(vectors: np.ndarray) -> None:
    from sklearn.decomposition import PCA

    ours = fit_plane(vectors).coordinates(vectors)
    reference = PCA(n_components=2).fit_transform(vectors)
    assert np.allclose(np.abs(ours), np.abs(reference), atol=1e-4), "the same axes, up to sign"


def test_adding_a_label_moves_nobody_and_a_refit_moves_cards_only_a_little(vectors: np.ndarray) -> None:
    old = fresh_layout(vectors[:-1])
    plane = fit_plane(vectors[:-1])
    new = project_onto(plane, vectors[:-1], old, vectors[-1:])
    assert new.shape == (1, 2) and np.isfinite(new).all(), "projection places the new label; nobody else moves"
    current = np.vstack([old, new])
    anchors = np.array([True] * (len(LABELS) - 1) + [False])
    refitted, _ = relayout(vectors, current, anchors)
    moves = np.linalg.norm(refitted[:-1] - old, axis=1)
    print(f"refit after one new label: mean move {np.mean(moves):.1f}, max {np.max(moves):.1f} (spread {SPREAD:g})")
    assert np.mean(moves) < 0.1 * SPREAD and np.max(moves) < 0.3 * SPREAD


def test_projection_follows_cards_people_moved(vectors: np.ndarray) -> None:
    """A board people rearranged (rotated, shrunk, shifted): new labels land in the same frame."""
    layout = fresh_layout(vectors[:-1])
    plane = fit_plane(vectors[:-1])
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    moved = 0.5 * layout @ turn + np.array([300.0, -200.0])
    expected = 0.5 * project_onto(plane, vectors[:-1], layout, vectors[-1:]) @ turn + np.array([300.0, -200.0])
    assert np.allclose(project_onto(plane, vectors[:-1], moved, vectors[-1:]), expected, atol=1e-3)


def test_suggestions_are_hints_of_near_duplicates_and_groups(vectors: np.ndarray) -> None:
    suggestions = suggest(LABELS, vectors, group_distance=0.6, duplicate_distance=0.35)
    grouped = {frozenset(group) for group in suggestions.groups}
    assert any({"encouraging to beginners", "supportive of novices"} <= group for group in grouped)
    assert any({"safety-conscious", "careful about safety"} <= group for group in grouped)
    assert ("safety-conscious", "careful about safety") in {(a, b) for a, b, _ in suggestions.near_duplicates} | {
        (b, a) for a, b, _ in suggestions.near_duplicates
    }
    assert all(len(group) >= 2 for group in suggestions.groups)


def test_the_same_text_is_embedded_once() -> None:
    calls: list[int] = []
    model = LocalEncoder()

    class Counting:
        async def encode(self, texts: Sequence[str]) -> np.ndarray:
            calls.append(len(texts))
            return await model.encode(texts)

    embedder = Embedder(encoder=Counting())
    anyio.run(embedder.embed, ["hopeful"])
    again = anyio.run(embedder.embed, ["hopeful", "hopeful", "cautious"])
    assert calls == [1, 1], "only the new text went to the model"
    assert again.shape == (3, 384) and np.allclose(again[0], again[1])


def calma_map(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calma", "map", *args], capture_output=True, text=True, timeout=120)


def test_calma_map_writes_positions_groups_and_a_picture(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS + ["", "summary"]) + "\n", encoding="utf-8")
    out_json, out_png = tmp_path / "map.json", tmp_path / "map.png"
    done = calma_map(str(labels), "--json", str(out_json), "--png", str(out_png))
    assert done.returncode == 0, done.stderr
    layout = json.loads(out_json.read_text())
    assert layout["format"] == "calma.map/1"
    assert [entry["label"] for entry in layout["labels"]] == LABELS, "blank lines and duplicates dropped"
    assert all(isinstance(entry["x"], float) and isinstance(entry["y"], float) for entry in layout["labels"])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "suggested groups" in done.stderr


@pytest.mark.parametrize(("content", "problem"), [("\n\n", "holds no labels"), ("x" * 600, "longer than 500")])
def test_calma_map_refuses_unusable_input_clearly(tmp_path: Path, content: str, problem: str) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text(content, encoding="utf-8")
    done = calma_map(str(labels))
    assert done.returncode == 2 and problem in done.stderr
    missing = calma_map(str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


async def test_vectors_are_cached_in_the_store_so_a_restart_embeds_nothing_again(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    labels = ["hopeful", "balanced between viewpoints", "Eurocentric perspective"]
    store = room_store(settings)
    await store.open()
    try:
        first = Embedder(store=SQLEmbeddingCache(store, MODEL_PACKAGE))  # type: ignore[arg-type]
        vectors = await first.embed(labels)
        assert first.embedded == 3
    finally:
        await store.close()
    store = room_store(settings)  # as after a restart, or on another node
    await store.open()
    try:
        second = Embedder(store=SQLEmbeddingCache(store, MODEL_PACKAGE))  # type: ignore[arg-type]
        again = await second.embed([*labels, "cautious"])
        assert second.embedded == 1, "only the new text went to the model"
        assert np.array_equal(again[:3], vectors)
    finally:
        await store.close()
