"""Text that people send: what the store of record can hold, and the display names people choose.

Owns three rules, applied where text comes in (the REST API's request models in
`calma.api.schemas`, the /live channel's client frames in `calma.live.schema`,
joining in `calma.access.invites`); nothing here touches the store:

- **Storable.** No NUL (U+0000: neither PostgreSQL's `text` nor `jsonb` can hold
  it, so every retry would fail the same way) and no lone surrogate
  (U+D800-U+DFFF: no UTF-8 encoding exists for it). Such text is refused, never
  silently changed: `unstorable` says what is wrong, `find_unstorable` finds the
  first such string anywhere in a nested value.
- **Display names.** `display_name` normalises a name someone chose: NFKC,
  without format characters (zero-width, bidi controls, BOM, soft hyphen), other
  control characters or invisible "blank" letters, trimmed, runs of whitespace
  made one space, and not empty after all that.
- **Look-alikes.** `name_skeleton` maps names that look the same to one key:
  NFKC, marks stripped, common Cyrillic and Greek letters that look Latin mapped
  to Latin, case-folded. Two names with one skeleton cannot be told apart on a
  screen, so a group holds at most one of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

# -- storable text -----------------------------------------------------------------------------

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnstorableText(ValueError):
    """A string holds a character the store of record cannot hold; the message says which and where."""


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored (its first NUL or lone surrogate), or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character (U+0000)" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    return f"contains {what} at position {found.start()}, which cannot be stored; remove it"


def check_storable(text: str) -> str:
    """`text` unchanged, or UnstorableText."""
    problem = unstorable(text)
    if problem is not None:
        raise UnstorableText(problem)
    return text


Path = tuple[str | int, ...]


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    """The parts of a container (a dict's keys are checked as values at their own key's path)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key, key
            yield key, item
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)
    elif isinstance(value, (set, frozenset)):
        yield from enumerate(sorted(value, key=repr))
    else:
        fields = getattr(type(value), "model_fields", None)  # a pydantic model
        if isinstance(fields, Mapping):
            for name in fields:
                yield name, getattr(value, name)


def find_unstorable(value: Any) -> tuple[Path, str, str] | None:
    """The first string in `value` (nested dicts, lists, tuples, sets, pydantic models) that cannot be
    stored: its path, the string and why; None when all can. Iterative, so any depth is safe."""
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                return path, item, problem
            continue
        if isinstance(item, (bytes, bytearray, int, float, bool)) or item is None:
            continue
        children = [(path + (key,), child) for key, child in _children(item)]
        stack.extend(reversed(children))  # depth first, in order: the first offending field is reported
    return None


# -- display names -----------------------------------------------------------------------------

# Letters and symbols that render as nothing, used to make a name look blank or to pad it.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")


class InvalidDisplayName(ValueError):
    """A chosen name that cannot be used, even after normalising; the message says why."""


def _drop_invisible(text: str) -> str:
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")  # tabs, newlines, line and paragraph separators: a space
        elif category in ("Cf", "Cc") or char in _INVISIBLE:
            continue  # zero-width, bidi controls (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069), BOM, soft hyphen…
        else:
            kept.append(char)
    return "".join(kept)


def display_name(text: str, max_length: int) -> str:
    """A chosen name as it is stored and shown: storable, NFKC, without invisible or control characters,
    trimmed, whitespace collapsed, 1 to `max_length` characters. UnstorableText or InvalidDisplayName."""
    check_storable(text)
    name = unicodedata.normalize("NFKC", _drop_invisible(unicodedata.normalize("NFKC", text)))
    name = " ".join(_drop_invisible(name).split())
    if not name:
        raise InvalidDisplayName("a name needs at least one visible character")
    if len(name) > max_length:
        raise InvalidDisplayName(f"a name has at most {max_length} characters")
    return name


# Cyrillic and Greek letters that look like Latin ones (capitals and small letters).
_LOOK_ALIKES = str.maketrans({
    **dict(zip("АВЕЅІЈКМНОРСТХУԚԜ", "ABESIJKMHOPCTXYQW", strict=True)),
    **dict(zip("аеіјѕһԁԛԝӏоресух", "aeijshdqwlopecyx", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
    **dict(zip("αιονρυ", "aiovpu", strict=True)),
})


def name_skeleton(name: str) -> str:
    """One key for names that look alike: NFKC, no marks, look-alike letters made Latin, case-folded."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    folded = bare.translate(_LOOK_ALIKES).casefold()
    return " ".join(unicodedata.normalize("NFKC", _drop_invisible(folded)).split())
