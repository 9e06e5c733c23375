#!/usr/bin/env python3
"""Write shared_schema/derived-axes.schema.json from calma.outputs.schema (or, with --check, fail if it differs).

    .venv/bin/python scripts/gen_axes_schema.py          # write the file
    .venv/bin/python scripts/gen_axes_schema.py --check  # exit 1 if it is out of date (tests/test_outputs.py runs this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calma.outputs.schema import json_schema_text

TARGET = Path(__file__).resolve().parents[1] / "shared_schema" / "derived-axes.schema.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args()
    text = json_schema_text()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run .venv/bin/python scripts/gen_axes_schema.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
