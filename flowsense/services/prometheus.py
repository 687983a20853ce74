"""Prometheus and promtool from Debian's ``prometheus`` package (installed if missing).

Used to check the alert rules (``deploy/prometheus``) and by the tests that run a
real Prometheus against the API; FlowSense itself never needs Prometheus to run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flowsense.services.base import apt_install

PACKAGE = "prometheus"


def ensure_prometheus() -> tuple[Path, Path]:
    """Paths of ``prometheus`` and ``promtool``, installing the package once if missing."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        apt_install(PACKAGE)
    return Path(shutil.which("prometheus") or ""), Path(shutil.which("promtool") or "")
