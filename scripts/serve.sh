#!/usr/bin/env bash
# Sets up CALMA Studio and starts it on its embedded defaults (SQLite in ./calma-data,
# http://127.0.0.1:8000). Extra arguments go to `calma serve`, e.g. --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/calma serve "$@"
