"""A Bytewax worker run as in Kubernetes (``python -m bytewax.run`` with its dataflow API
on) serves FlowSense's worker metrics (``dataflows.metrics``) at ``:PORT/metrics``, where
Prometheus scrapes them (``deploy/prometheus/prometheus.yml``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[1]
FLOW = """
import time
import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource
from dataflows import metrics

def step(x):
    metrics.sink_buffer_ratio.labels("orders").set(0.25)
    time.sleep(0.2)
    return x

flow = Dataflow("metrics_probe")
op.output("out", op.map("step", op.input("in", flow, TestingSource(list(range(100)))), step),
          StdOutSink())
"""


def test_a_worker_serves_the_flowsense_metrics(tmp_path):
    (tmp_path / "probe_flow.py").write_text(FLOW)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "BYTEWAX_DATAFLOW_API_ENABLED": "true",
        "BYTEWAX_DATAFLOW_API_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "probe_flow:flow"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=tmp_path,  # the dataflow API writes dataflow.json where it runs
    )  # fmt: skip
    try:
        text, deadline = "", time.monotonic() + 15
        while 'flowsense_sink_buffer_ratio{topic="orders"} 0.25' not in text:
            assert proc.poll() is None and time.monotonic() < deadline, text[-500:]
            with contextlib.suppress(httpx.HTTPError):
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            time.sleep(0.2)
        for name in ("flowsense_source_lag_messages", "flowsense_feature_drift"):
            assert f"# TYPE {name} gauge" in text
    finally:
        proc.terminate()
        proc.wait(10)
