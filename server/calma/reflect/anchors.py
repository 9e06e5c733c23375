"""Spans of text, as annotations anchor them: Unicode code points, checked against the text itself.

Offsets count code points (Python's `str` indices; in JavaScript,
`Array.from(text)` indices), so an emoji is one position wherever it is
counted. A span must lie inside the text, be non-empty, and its `quote` must
equal the text it covers: a client counting in UTF-16 units, or a text that
changed, is caught instead of anchoring a code to the wrong words.
"""

from __future__ import annotations

from dataclasses import dataclass


class AnchorError(ValueError):
    """The span does not fit the text; the message says how."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    quote: str

    def whole(self, text: str) -> bool:
        return self.start == 0 and self.end == len(text)


def check_span(text: str, start: int, end: int, quote: str) -> Span:
    if not 0 <= start < end:
        raise AnchorError(f"a span needs 0 <= start < end, not {start}..{end}")
    if end > len(text):
        raise AnchorError(f"the span ends at {end}, past the text's {len(text)} characters (code points)")
    covered = text[start:end]
    if covered != quote:
        raise AnchorError(
            f"the quote does not match the text at {start}..{end} (offsets count Unicode code points, "
            "e.g. Array.from(text) in JavaScript)"
        )
    return Span(start, end, quote)
