"""The session artifacts every participant gets before Discuss: the topics the group explored and its codes as a word cloud.

Topics: the participants' prompts are embedded and grouped (agglomerative,
cosine, a distance threshold), and each group of prompts is named by its most
telling terms — those with the highest TF-IDF weight when each topic's
prompts are one document against the others'. Prompts are private, so only
names and counts leave this module, and only what several people share: a
topic is named only by terms that at least two people used, and a topic only
one person asked about is counted, not named. The word cloud is drawn by `wordcloud` from the
group's code frequencies, with a fixed seed (the same codes, the same picture).
"""

from __future__ import annotations

import io
import re
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


MIN_PEOPLE = 2  # a topic, or a term in its name, needs this many people behind it


def topics(prompts: list[str], vectors: np.ndarray, authors: list[str], *,
           distance: float = TOPIC_DISTANCE) -> tuple[list[Topic], int]:
    """The topics several people asked about, largest first, and how many prompts were on topics of one person."""
    if not prompts:
        return [], 0
    if len(prompts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                         linkage="average").fit_predict(vectors)
    clusters = sorted(set(labels.tolist()), key=lambda c: (-int((labels == c).sum()), c))
    people = {c: {a for a, label in zip(authors, labels, strict=True) if label == c} for c in clusters}
    shared = [c for c in clusters if len(people[c]) >= MIN_PEOPLE]
    alone = sum(int((labels == c).sum()) for c in clusters if c not in shared)
    documents = [" ".join(p for p, label in zip(prompts, labels, strict=True) if label == c) for c in shared]
    names = _telling_terms(documents, _terms_of_several(prompts, authors))
    found = [Topic(" · ".join(terms) or "(a shared topic)", terms, int((labels == c).sum()))
             for c, terms in zip(shared, names, strict=True)]
    return found, alone


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"(?u)\b[^\W\d_][\w'-]+\b", text.casefold()))


def _terms_of_several(prompts: list[str], authors: list[str]) -> set[str]:
    """Words that at least MIN_PEOPLE people used in their prompts."""
    users: dict[str, set[str]] = {}
    for prompt, author in zip(prompts, authors, strict=True):
        for token in _tokens(prompt):
            users.setdefault(token, set()).add(author)
    return {token for token, who in users.items() if len(who) >= MIN_PEOPLE}


def _telling_terms(documents: list[str], allowed: set[str]) -> list[tuple[str, ...]]:
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
            if not set(term.split()) <= allowed:
                continue  # a word only one person used could say who asked
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
