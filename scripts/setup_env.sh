#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv from requirements.txt.
# Re-installs only when requirements.txt changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
echo "setting up .venv from requirements.txt (first run takes a few minutes)..." >&2
python3 -m venv .venv
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
.venv/bin/python -m pip install -q --no-deps -e .
echo "$wanted" > "$stamp"
