#!/usr/bin/env bash
# Sets up CALMA Studio with its test tools and runs the whole test suite.
# Extra arguments go to pytest, e.g. -k durability.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
