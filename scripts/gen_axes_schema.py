#!/usr/bin/env python3
"""Write the outputs' JSON Schemas from their pydantic models (or, with --check, fail if any differs).

shared_schema/derived-axes.schema.json comes from calma.outputs.schema; the
files in shared_schema/outputs/ from calma.outputs.formats.

    .venv/bin/python scripts/gen_axes_schema.py          # write the files
    .venv/bin/python scripts/gen_axes_schema.py --check  # exit 1 if one is out of date (tests/test_outputs.py runs this)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calma.outputs.formats import SCHEMAS, json_schema
from calma.outputs.schema import json_schema_text

SHARED = Path(__file__).resolve().parents[1] / "shared_schema"


def wanted() -> dict[Path, str]:
    files = {SHARED / "derived-axes.schema.json": json_schema_text()}
    for name in SCHEMAS:
        files[SHARED / "outputs" / f"{name}.schema.json"] = json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in wanted().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print("out of date: " + ", ".join(str(p) for p in stale) + "; run .venv/bin/python scripts/gen_axes_schema.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
