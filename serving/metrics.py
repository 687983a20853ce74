"""Prometheus metrics of the serving layer, and what feeds them from the dataflow's outputs.

Each app has its own registry (no global state: tests build many apps).
``OutputMetrics.on_table`` takes every table the dataflow publishes (the
Kafka output topics, or the embedded replay's sinks) and updates:

- ``flowsense_prediction_latency_ms``: from the prediction message's Kafka
  timestamp (when the dataflow produced it) to its arrival here, i.e. the
  dataflow -> serving leg; embedded, from the batch's hand-over (≈ 0).
- ``flowsense_trade_pnl_dollars{symbol}``: cash of the fills plus position at
  the newest mid (mark to market); ``flowsense_drawdown_dollars``: the peak of
  the total minus the total now; ``flowsense_drawdown_ratio``: that drawdown as a
  fraction of the peak equity (``capital`` + peak total), the measure of the
  account's kill switch and of the ``HighDrawdown`` alert.
- ``flowsense_model_accuracy_percent{model}``: hit rate of the direction
  predicted just before each change of the mid, against the sign of that
  change (flat predictions not scored), over the predictions seen so far.
- ``flowsense_kafka_lag_messages{topic}``: how far the fan-out consumer is
  behind the end of each output topic.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)


def exposition(registry: CollectorRegistry, processes: int = 1) -> bytes:
    """``/metrics``: this process's registry, or, when several API processes share the
    port (``flowsense serve --workers``, which sets ``PROMETHEUS_MULTIPROC_DIR``), all of
    theirs: counters and histograms added up, gauges the most recent (lag: the max).
    Told by the worker count, not by that variable: importing ``feast.metrics`` (the
    online store does) sets it too, and /metrics would then show Feast's folder."""
    if processes > 1:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class Metrics:
    def __init__(self, capital: float = 40_000.0) -> None:
        self.capital = capital
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "flowsense_api_requests", "API requests", ["method", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "flowsense_api_request_duration_seconds",
            "API request duration",
            ["route"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5),
            registry=r,
        )
        self.rate_limited = Counter(
            "flowsense_api_rate_limited", "Requests refused by the rate limit", ["tier"], registry=r
        )
        self.prediction_latency = Histogram(
            "flowsense_prediction_latency_ms",
            "Prediction latency, dataflow output to serving (ms)",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=r,
        )
        self.pnl = Gauge(
            "flowsense_trade_pnl_dollars",
            "Mark-to-market PnL by symbol",
            ["symbol"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.drawdown = Gauge(
            "flowsense_drawdown_dollars",
            "Peak total PnL minus total PnL now",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.drawdown_ratio = Gauge(
            "flowsense_drawdown_ratio",
            "Drawdown as a fraction of the peak equity (capital + peak PnL)",
            registry=r,
        )
        self.accuracy = Gauge(
            "flowsense_model_accuracy_percent",
            "Direction hit rate at the next mid change",
            ["model"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.kafka_lag = Gauge(
            "flowsense_kafka_lag_messages",
            "Fan-out consumer lag",
            ["topic"],
            registry=r,
            multiprocess_mode="max",
        )
        self.socket_messages = Counter(
            "flowsense_socketio_messages", "Socket.IO messages sent", ["channel"], registry=r
        )
        self.outputs = OutputMetrics(self)


class OutputMetrics:
    """Folds the dataflow's output tables into the gauges (thread-safe)."""

    def __init__(self, m: Metrics) -> None:
        self.m = m
        self.lock = threading.Lock()
        self.cash: dict[str, float] = {}
        self.position: dict[str, float] = {}
        self.mid: dict[str, float] = {}
        self.peak = 0.0
        self.hits: dict[str, list[int]] = {}

    def on_table(self, kind: str, table: pa.Table, produced_ms: float | None = None) -> None:
        if table.num_rows == 0:
            return
        if kind == "predictions":
            if produced_ms is not None:
                self.m.prediction_latency.observe(max(0.0, time.time() * 1e3 - produced_ms))
            self._score(table)
        elif kind == "features":
            mids = table.column("mid").to_numpy(zero_copy_only=False)
            mids = mids[~np.isnan(mids)]
            if len(mids):
                symbol = table.column("symbol")[0].as_py()
                with self.lock:
                    self.mid[symbol] = float(mids[-1])
                self._mark()
        elif kind == "fills":
            with self.lock:
                for f in table.to_pylist():
                    s = f["symbol"]
                    flow = f["side"] * f["quantity"] * f["price"] + f.get("fee", 0.0)
                    self.cash[s] = self.cash.get(s, 0.0) - flow
                    self.position[s] = f["position_after"]
                    self.mid.setdefault(s, f["price"])
            self._mark()

    def _score(self, table: pa.Table) -> None:
        mid = table.column("mid").to_numpy(zero_copy_only=False).astype(float)
        d = table.column("direction").to_numpy(zero_copy_only=False).astype(int)
        change = np.diff(mid)
        at = np.flatnonzero((change != 0) & ~np.isnan(change) & (d[:-1] != 0))
        if not len(at):
            return
        hits = int((np.sign(change[at]) == d[at]).sum())
        model = table.column("model")[0].as_py()
        with self.lock:
            h = self.hits.setdefault(model, [0, 0])
            h[0] += hits
            h[1] += len(at)
            pct = 100.0 * h[0] / h[1]
        self.m.accuracy.labels(model).set(pct)

    def _mark(self) -> None:
        with self.lock:
            pnl = {
                s: c + self.position.get(s, 0.0) * self.mid.get(s, 0.0)
                for s, c in self.cash.items()
            }
            total = sum(pnl.values())
            self.peak = max(self.peak, total)
            drawdown = self.peak - total
        for s, v in pnl.items():
            self.m.pnl.labels(s).set(v)
        self.m.drawdown.set(drawdown)
        peak_equity = self.m.capital + self.peak
        self.m.drawdown_ratio.set(drawdown / peak_equity if peak_equity > 0 else 0.0)
