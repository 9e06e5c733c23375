"""People's text inside the Markdown exports (axes, guidelines, comparisons), made inert.

Whatever a participant or facilitator wrote (an attribute's name or
definition, a label, a prompt, a group's or study's name) must come out of a
Markdown file as the text they typed, never as markup a renderer acts on:

- HTML: `&`, `<` and `>` become entities, so no tag, comment, autolink
  (`<https://…>`) or entity survives (`<script>` is shown, not run);
- inline Markdown: backslash before `` \\ ` * _ [ ] ~ | ``, so no emphasis,
  code span, link, image, reference definition, strikethrough or table cell
  forms from their text;
- line starts: indentation dropped (no code block) and a backslash before a
  heading, list, setext or thematic-break marker (`#`, `-`, `+`, `=`, `1.`).

`block` keeps line breaks (definitions, prompts, responses); `inline` makes
them spaces (headings, list items, table cells). `escaped` returns a copy of a
pydantic model (e.g. `DerivedAxes`) with every string escaped as a block, so a
template renders only escaped text whatever fields it uses.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", **{char: "\\" + char for char in "\\`*_[]~|"}}
_ACTIVE = re.compile("[" + re.escape("".join(_ESCAPES)) + "]")
_LINE_START = re.compile(r"(?:[#+=-]|\d{1,9}[.)])")

M = TypeVar("M", bound=BaseModel)


def _escape_line(line: str) -> str:
    line = _ACTIVE.sub(lambda found: _ESCAPES[found.group()], line.lstrip(" \t"))
    marker = _LINE_START.match(line)
    if marker is not None:
        end = marker.end()
        line = line[: end - 1] + "\\" + line[end - 1 :]
    return line


def block(text: str) -> str:
    """`text` as inert Markdown, line breaks kept (each line escaped as a line of its own)."""
    return "\n".join(_escape_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def inline(text: str) -> str:
    """`text` as inert Markdown on one line: line breaks become spaces."""
    return _escape_line(" ".join(text.split()))


def escaped(model: M) -> M:
    """A copy of `model` with every string in it (nested models, lists, dict values) escaped with `block`."""
    return _escape(model)  # type: ignore[no-any-return]


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return block(value)
    if isinstance(value, BaseModel):
        return value.model_copy(update={name: _escape(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [_escape(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_escape(item) for item in value)
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    return value
