#!/usr/bin/env bash
# Start the Neurix dashboard on the shipped default model: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"  # lower peak memory with many sessions (benchmarks/load_test.py)
exec .venv/bin/streamlit run dashboard/server.py "$@"
