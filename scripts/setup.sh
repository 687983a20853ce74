#!/usr/bin/env bash
# Set up FlowSense on a fresh machine: a locked Python environment in .venv.
# Idempotent and fast when nothing changed (uv caches every download).
#   EXTRAS="dev models serve broker feast"   extras of pyproject.toml to install (space separated)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$PY" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))'; then
  echo "setup: FlowSense needs Python 3.11 or 3.12 (bytewax 0.21 has no wheels for newer); found $("$PY" -V)" >&2
  exit 2
fi
if ! "$PY" -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
fi
extras=()
for extra in ${EXTRAS:-dev models serve broker feast}; do extras+=(--extra "$extra"); done
"$PY" -m uv sync --frozen --python "$PY" "${extras[@]}" --quiet
echo "setup: environment ready in .venv ($(.venv/bin/python -V))" >&2
