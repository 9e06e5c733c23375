"""Allows `python -m calma`."""

from calma.cli import main

raise SystemExit(main())
