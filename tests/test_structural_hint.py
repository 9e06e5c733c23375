"""The structural-label detector on labelled examples: precision and recall, with the real embedding model.

The examples are codes a participant might write for the pilot's history
assistant; none of them is one of the detector's prototypes. Precision
matters most: a wrong hint nags someone who is coding values well.
"""

from __future__ import annotations

import pytest

from calma.embeddings.model import Embedder
from calma.reflect.structural import STRUCTURAL_PROTOTYPES, VALUE_PROTOTYPES, StructuralDetector, structural_by_words

STRUCTURAL = [
    "summary", "introductory remarks", "conclusion", "list", "paragraph", "Summary at the end", "bullet points",
    "split into two paragraphs", "intro paragraph", "numbered list", "concluding sentence", "a short overview", "headings",
    "opening line", "the closing paragraph", "recap", "one sentence answer", "formatting", "outline",
    "ends with a summary", "starts with an introduction", "final paragraph sums up", "long paragraph",
    "first sentence", "structure", "table of dates", "uses bold text", "a list of reasons", "sections",
    "question restated at the start",
]
VALUES = [
    "Eurocentric", "neutral tone", "avoids controversy", "patriotic", "respects religious diversity",
    "honest about what is unknown", "suitable for teenagers", "sparks curiosity about the past", "includes women",
    "downplays colonial violence", "balanced between perspectives", "empathetic towards victims", "accurate dates",
    "encourages critical thinking", "Hindu-centric framing", "nationalist pride", "celebrates freedom fighters",
    "avoids caste", "invites further reading", "secular", "gender-neutral", "oversimplifies", "romanticizes the past",
    "assumes prior knowledge", "asks the student to reflect", "cites sources", "dismisses myths", "hopeful",
    "moral lesson", "respects local heroes",
]


@pytest.fixture(scope="module")
def detector() -> StructuralDetector:
    return StructuralDetector(Embedder())


def test_the_labelled_examples_are_not_the_prototypes() -> None:
    assert not set(map(str.lower, STRUCTURAL + VALUES)) & set(map(str.lower, STRUCTURAL_PROTOTYPES + VALUE_PROTOTYPES))


async def test_precision_and_recall_on_labelled_codes(detector: StructuralDetector) -> None:
    verdicts = await detector.judge(STRUCTURAL + VALUES)
    flagged_structural = [label for label, v in zip(STRUCTURAL, verdicts[: len(STRUCTURAL)]) if v.structural]
    flagged_values = [label for label, v in zip(VALUES, verdicts[len(STRUCTURAL):]) if v.structural]
    true_positives = len(flagged_structural)
    precision = true_positives / (true_positives + len(flagged_values))
    recall = true_positives / len(STRUCTURAL)
    print(f"structural-label hint: precision {precision:.2f}, recall {recall:.2f}; "
          f"missed {sorted(set(STRUCTURAL) - set(flagged_structural))}, false hints {flagged_values}")
    assert precision >= 0.95, flagged_values
    assert recall >= 0.85


async def test_meaning_catches_structure_the_word_list_does_not(detector: StructuralDetector) -> None:
    label = "sums things up nicely at the close"
    assert not structural_by_words(label)
    (verdict,) = await detector.judge([label])
    assert verdict.structural and verdict.structural_similarity > verdict.value_similarity
