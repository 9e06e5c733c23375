"""The JSON form of study content that the store keeps as one document (Familiarize's lesson, practice, check).

Reading fills in defaults for what a stored document lacks, so studies stored
before a field existed read as they did.
"""

from __future__ import annotations

from typing import Any

from calma.studies.model import CheckItem, CheckOption, Familiarize, PracticeItem


def familiarize_from_json(stored: dict[str, Any]) -> Familiarize:
    """Familiarize content from its JSON form (studies from before migration 4 have `{}`: the defaults)."""
    return Familiarize(
        lesson=stored.get("lesson", ""),
        practice=tuple(
            PracticeItem(id=p["id"], prompt=p["prompt"], response=p["response"],
                         example_codes=tuple(p.get("example_codes", ())), explanation=p.get("explanation", ""))
            for p in stored.get("practice", ())
        ),
        check=tuple(
            CheckItem(id=c["id"], excerpt=c["excerpt"],
                      options=tuple(CheckOption(o["code"], bool(o["is_value"])) for o in c["options"]),
                      explanation=c.get("explanation", ""))
            for c in stored.get("check", ())
        ),
        pass_mark=float(stored.get("pass_mark", Familiarize.pass_mark)),
        max_attempts=int(stored.get("max_attempts", Familiarize.max_attempts)),
    )
