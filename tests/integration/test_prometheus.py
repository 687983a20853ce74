"""A real Prometheus (Debian's package) scrapes the running demo (`flowsense serve
--embedded`) and finds the seed's metrics; it loads the alert rules and evaluates them.

Ports: the API on ``FLOWSENSE_TEST_API_PORT`` (8800 by default) and Prometheus on
``FLOWSENSE_TEST_PROMETHEUS_PORT`` (9090), so that parallel checkouts can move them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flowsense.services.prometheus import ensure_prometheus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
API_PORT = int(os.environ.get("FLOWSENSE_TEST_API_PORT", "8800"))
PROM_PORT = int(os.environ.get("FLOWSENSE_TEST_PROMETHEUS_PORT", "9090"))
SEED_METRICS = (
    "flowsense_prediction_latency_ms_count",
    "flowsense_trade_pnl_dollars",
    "flowsense_drawdown_dollars",
    "flowsense_drawdown_ratio",
    "flowsense_model_accuracy_percent",
    "flowsense_api_requests_total",
)


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_prometheus_scrapes_the_demo_and_finds_the_seeds_metrics(lobster_sample, tmp_path):
    prometheus, _ = ensure_prometheus()
    data = lobster_sample("AMZN", 5, 20_000)
    env = {
        **os.environ,
        "FLOWSENSE_RUNS_DIR": str(tmp_path / "runs"),
        "FLOWSENSE_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "flowsense", "serve", "--embedded", "--data", str(data),
         "--speed", "max", "--port", str(API_PORT), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{ROOT / 'deploy/prometheus/alerts.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: flowsense-api\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{API_PORT}']}}]\n"
    )
    prom = None
    try:
        wait_port(API_PORT, api)
        prom = subprocess.Popen(
            [str(prometheus), f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{PROM_PORT}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(PROM_PORT, prom)
        base = f"http://127.0.0.1:{PROM_PORT}/api/v1"
        found: dict[str, list] = {}
        deadline = time.monotonic() + 90
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline and len(found) < len(SEED_METRICS):
                for name in SEED_METRICS:
                    r = http.get(f"{base}/query", params={"query": name})
                    if r.status_code == 200 and (res := r.json()["data"]["result"]):
                        found[name] = res
                time.sleep(1)
            assert set(found) == set(SEED_METRICS), sorted(set(SEED_METRICS) - set(found))
            targets = http.get(f"{base}/targets").json()["data"]["activeTargets"]
            assert [t["health"] for t in targets] == ["up"]
            rules = http.get(f"{base}/rules").json()["data"]["groups"]
            loaded = {r["name"]: r["health"] for g in rules for r in g["rules"]}
            assert len(loaded) == 6 and set(loaded.values()) == {"ok"}, loaded
            # What Prometheus stored is what the API exports (a gauge that no longer moves
            # once the replay has ended): compare with the API's own /metrics text.
            time.sleep(2)
            text = http.get(f"http://127.0.0.1:{API_PORT}/metrics").text
            acc = [ln for ln in text.splitlines() if ln.startswith("flowsense_model_accuracy")]
            r = http.get(f"{base}/query", params={"query": "flowsense_model_accuracy_percent"})
            stored = r.json()["data"]["result"]
            assert acc and stored
            assert float(stored[0]["value"][1]) == pytest.approx(float(acc[0].split()[-1]))
            assert 0 < float(stored[0]["value"][1]) < 100
            count = float(found["flowsense_prediction_latency_ms_count"][0]["value"][1])
            assert count > 0
    finally:
        if prom is not None:
            stop(prom)
        stop(api)
