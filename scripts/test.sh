#!/usr/bin/env bash
# Run the whole test suite (unit, real-data, dashboard AppTest and the headless-browser test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pytest -q "$@"
