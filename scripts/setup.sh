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

# The dashboard (web/): npm ci && npm run build -> web/out, served by `flowsense serve` at /.
# Skipped when web/ and its lock are unchanged since the last build (stamp in web/out);
# SKIP_WEB=1 skips it, e.g. on a machine without Node.js 20.
if [ "${SKIP_WEB:-0}" != "1" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found: the dashboard (web/) is not built; install Node.js 20 or set SKIP_WEB=1" >&2
    exit 2
  fi
  stamp="$(cd web && cat package-lock.json next.config.mjs tailwind.config.ts tsconfig.json \
    $(find app components lib -type f | sort) | sha256sum | cut -c1-16)"
  if [ "$(cat web/out/.stamp 2>/dev/null)" != "$stamp" ] || [ ! -d web/node_modules ]; then
    echo "setup: building the dashboard (npm ci && npm run build in web/)" >&2
    (cd web && export NEXT_TELEMETRY_DISABLED=1 &&
      npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
    echo "$stamp" > web/out/.stamp
  fi
  # The browser tests drive Debian's Chromium (headless) through playwright-core.
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium (Debian) for the dashboard's browser tests" >&2
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; })
  fi
  echo "setup: dashboard built in web/out" >&2
fi
