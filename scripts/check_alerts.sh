#!/usr/bin/env bash
# Check the Prometheus config and alert rules, then run their unit tests (promtool from
# Debian's prometheus package, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"
if ! command -v promtool >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2; }
fi
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts_test.yml
