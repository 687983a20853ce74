"""The dashboard (web/): its Vitest component tests, and the Playwright browser test
(playwright-core driving Debian's Chromium, headless) against the running embedded
demo: straight in (no accounts), a symbol's chart and depth-10 ladder updating from
live data, a prediction arriving, and the drawdown kill switch shown when it trips.

Nothing is built here: ``scripts/setup.sh`` builds ``web/out`` and installs
``node_modules`` and Chromium. Screenshots are kept in ``web/artifacts/`` (gitignored;
CI uploads them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import run_dashboard_script
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
ARTIFACTS = WEB / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _built() -> None:
    missing = [
        p
        for p in (WEB / "out" / "index.html", WEB / "node_modules" / ".bin" / "vitest")
        if not p.exists()
    ]
    assert not missing, f"run ./scripts/setup.sh first (builds web/): missing {missing}"


def test_vitest_component_tests_pass():
    _built()
    r = subprocess.run(
        ["npx", "--no-install", "vitest", "run", "--reporter=verbose"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ | {"CI": "1", "NO_COLOR": "1"},
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "Tests" in out and " passed" in out and " failed" not in out, out[-2000:]
    # the store's coalescing and the ladder are among what ran
    assert "coalesces the ladder to one book per symbol per 100 ms" in out


@pytest.fixture
def demo(tmp_path):
    """``flowsense serve --embedded`` (the README's demo) with a bad strategy and a 0.5 %
    kill switch, so the drawdown halt trips within the first minutes of the day."""
    _built()
    port = free_port()
    env = os.environ | {
        "FLOWSENSE_RUNTIME_DIR": str(tmp_path / "runtime"),
        "FLOWSENSE_RUNS_DIR": str(tmp_path / "runs"),
        "FLOWSENSE_REPLAY__PREDICTOR": "inverted",
        "FLOWSENSE_RISK__KILL_DRAWDOWN": "0.005",
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (kept open for the server's life)
    exe = Path(sys.executable).parent / "flowsense"
    proc = subprocess.Popen(
        [str(exe), "serve", "--embedded", "--port", str(port), "--speed", "10x"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the demo did not start"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    yield url, tmp_path / "serve.log"
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_dashboard_in_chromium_against_the_running_demo(demo):
    url, log = demo
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "no Chromium: run setup.sh"
    # The dashboard is served at / next to the API, which keeps its routes.
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "<html" in page.text
    assert httpx.get(f"{url}/api/v1/health").json()["mode"] == "embedded"
    assert "flowsense: dashboard at" in log.read_text()

    shots = ARTIFACTS / "embedded"
    shutil.rmtree(shots, ignore_errors=True)
    result = run_dashboard_script(
        {
            "BASE_URL": url,
            "SYMBOL": "GOOG",
            "EXPECT_KILL": "1",
            "ARTIFACTS": str(shots),
            "CHROMIUM": CHROMIUM,
        },
        timeout=240,
    )
    for name in (
        "logged_in",
        "chart_updates_live",
        "chart_drawn",
        "ladder_updates_live",
        "prediction_arrives",
        "kill_switch_shown",
        "no_page_errors",
    ):
        assert result["checks"][name]["ok"], name
    # GOOG's LOBSTER file has 10 levels a side: the ladder shows all of them.
    assert result["ladder_levels"] == {"bids": 10, "asks": 10}
    for shot in ("02-markets", "03-symbol-live", "04-kill-switch"):
        assert (shots / f"{shot}.png").stat().st_size > 10_000, shot
