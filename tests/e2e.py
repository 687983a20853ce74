"""The dashboard's browser check (``web/e2e/dashboard.mjs``: Playwright on Chromium)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parents[1] / "web"


def run_dashboard_script(env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run the script with ``env`` added; its JSON verdict, once checked that it ran and
    passed as a whole (each test then checks the named checks it cares about)."""
    r = subprocess.run(
        ["node", "e2e/dashboard.mjs"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | env,
    )
    assert r.stdout.strip(), r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and result["ok"], json.dumps(result, indent=1)
    return result
