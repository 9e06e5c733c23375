"""The session artifacts every participant gets before Discuss: the topics the group explored and its codes as a word cloud.

Topics: the participants' prompts are embedded and grouped (agglomerative,
cosine, a distance threshold), and each group of prompts is named by its most
telling terms — those with the highest TF-IDF weight when each topic's
prompts are one document against the others'. Only names and counts leave
this module: no prompt text. The word cloud is drawn by `wordcloud` from the
group's code frequencies, with a fixed seed (the same codes, the same picture).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

TOPIC_DISTANCE = 0.6  # cosine distance: prompts closer than this (on average) share a topic
TERMS_PER_TOPIC = 3
# How people ask, not what about: dropped from topic names on top of scikit-learn's English stop words.
ASKING_WORDS = frozenset({
    "tell", "explain", "describe", "did", "does", "do", "caused", "cause", "role", "know", "give", "list", "like",
    "please", "can", "could", "would", "happened", "happen", "important", "main", "mean", "means", "example", "examples",
})


@dataclass(frozen=True)
class Topic:
    name: str  # its most telling terms, " · "-joined
    terms: tuple[str, ...]
    prompts: int


def topics(prompts: list[str], vectors: np.ndarray, *, distance: float = TOPIC_DISTANCE) -> list[Topic]:
    """The topics of these prompts, largest first (a single prompt is a topic of its own)."""
    if not prompts:
        return []
    if len(prompts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                         linkage="average").fit_predict(vectors)
    clusters = sorted(set(labels.tolist()), key=lambda c: (-int((labels == c).sum()), c))
    documents = [" ".join(p for p, label in zip(prompts, labels, strict=True) if label == c) for c in clusters]
    names = _telling_terms(documents)
    return [Topic(" · ".join(terms) or "(no words)", terms, int((labels == c).sum())) for c, terms in zip(clusters, names, strict=True)]


def _telling_terms(documents: list[str]) -> list[tuple[str, ...]]:
    try:
        stop_words = sorted(ENGLISH_STOP_WORDS | ASKING_WORDS)
        vectorizer = TfidfVectorizer(stop_words=stop_words, ngram_range=(1, 2), sublinear_tf=True,
                                     token_pattern=r"(?u)\b[^\W\d_][\w'-]+\b")
        weights = vectorizer.fit_transform(documents).toarray()
    except ValueError:  # nothing but stop words
        return [() for _ in documents]
    vocabulary = vectorizer.get_feature_names_out()
    named = []
    for row in weights:
        order = [i for i in np.argsort(-row, kind="stable") if row[i] > 0]
        terms: list[str] = []
        for i in order:
            term = str(vocabulary[i])
            if any(term in t.split() or t in term.split() for t in terms):
                continue  # "british" after "british rule" adds nothing
            terms.append(term)
            if len(terms) == TERMS_PER_TOPIC:
                break
        named.append(tuple(terms))
    return named


def word_cloud_png(frequencies: dict[str, int], *, width: int = 900, height: int = 480) -> bytes:
    """A PNG word cloud of the codes, sized by how often each was used."""
    from wordcloud import WordCloud

    if not frequencies:
        raise ValueError("no codes to draw")
    cloud = WordCloud(width=width, height=height, background_color="white", random_state=0, prefer_horizontal=0.9,
                      colormap="viridis", max_words=200, collocations=False)
    image = cloud.generate_from_frequencies({k: float(v) for k, v in frequencies.items()}).to_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
