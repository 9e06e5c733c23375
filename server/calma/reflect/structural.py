"""Does a code describe the *structure* of a response rather than a value in it? A gentle hint, never a block.

The pilot saw participants label paragraphs 'summary', 'introduction',
'conclusion'. Two signals decide:

- **words**: once filler words are set aside ("a", "the", "at the end",
  numbers), every word of the label is a word about text structure
  ("bullet list", "two paragraphs", "summary at the end");
- **meaning**: the label's embedding is closer to structural prototypes
  ("a summary of the answer", "the opening paragraph", …) than to value
  prototypes ("safety-conscious", "assumes a Western kitchen", …) by a margin,
  and close enough to one of them.

Either signal makes a hint. Precision matters more than recall (a wrong hint
nags a participant who is doing it right): `tests/test_structural_hint.py`
measures both on labelled examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from calma.embeddings.model import Embedder

STRUCTURE_WORDS = frozenset({
    "summary", "summaries", "summarizing", "summarising", "summarization", "recap", "overview", "outline",
    "introduction", "intro", "introductory", "opening", "conclusion", "concluding", "closing", "ending",
    "list", "lists", "listing", "bullet", "bullets", "bulleted", "numbered", "enumeration",
    "paragraph", "paragraphs", "sentence", "sentences", "heading", "headings", "header", "headers", "title",
    "section", "sections", "format", "formatting", "formatted", "structure", "layout", "table", "point", "points",
    "body", "text", "answer", "response", "reply", "question", "statement", "restatement", "line", "lines",
    "word", "words", "length", "markdown", "bold", "italics", "emoji", "emojis",
})
FILLER_WORDS = frozenset({
    "a", "an", "the", "of", "at", "in", "on", "to", "with", "and", "or", "end", "start", "beginning", "first",
    "last", "final", "second", "third", "one", "two", "three", "four", "five", "short", "long", "brief", "main",
    "simple", "plain", "basic", "general", "its", "it", "this", "that", "s",
})
STRUCTURAL_PROTOTYPES = (
    "a summary of the answer", "introduction", "the conclusion", "a bulleted list", "a numbered list of steps",
    "two paragraphs", "the opening sentence", "a heading", "the format of the response", "restates the question",
    "the closing line", "an overview paragraph",
)
VALUE_PROTOTYPES = (
    "safety-conscious", "assumes a Western kitchen", "encouraging to beginners", "respects cultural diversity",
    "neutral and balanced", "avoids stereotypes", "honest about uncertainty", "inclusive of women's history",
    "patriotic framing", "sparks curiosity", "age-appropriate", "cautious", "empathetic", "Eurocentric perspective",
    "concise and clear", "accurate facts", "promotes critical thinking",
)
HINT = (
    "This code may describe the structure of the answer rather than a value in it. "
    "Ask: what does the answer treat as good, or who does it assume you are?"
)


@dataclass(frozen=True)
class Verdict:
    structural: bool
    by_words: bool
    structural_similarity: float
    value_similarity: float


def words_of(label: str) -> list[str]:
    return re.findall(r"[a-z]+", label.lower())


def structural_by_words(label: str) -> bool:
    words = [w for w in words_of(label) if w not in FILLER_WORDS]
    return bool(words) and all(w in STRUCTURE_WORDS for w in words)


class StructuralDetector:
    def __init__(self, embedder: Embedder, *, min_similarity: float = 0.45, margin: float = 0.08) -> None:
        self._embedder = embedder
        self.min_similarity = min_similarity
        self.margin = margin

    async def judge(self, labels: list[str]) -> list[Verdict]:
        if not labels:
            return []
        vectors = await self._embedder.embed([*labels, *STRUCTURAL_PROTOTYPES, *VALUE_PROTOTYPES])
        n, s = len(labels), len(STRUCTURAL_PROTOTYPES)
        mine, structural, values = vectors[:n], vectors[n:n + s], vectors[n + s:]
        to_structure = (mine @ structural.T).max(axis=1)
        to_values = (mine @ values.T).max(axis=1)
        verdicts = []
        for label, st, va in zip(labels, to_structure.tolist(), to_values.tolist(), strict=True):
            by_words = structural_by_words(label)
            by_meaning = st >= self.min_similarity and st - va >= self.margin
            verdicts.append(Verdict(by_words or by_meaning, by_words, float(st), float(va)))
        return verdicts


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)
