"""Traces: one trace from a batch of ticks to its features, prediction, decision and the
orders and fills it caused (the replay flow on real data), a span per API request that
joins the caller's trace, and no tracing work (not even the import) when it is off.
Spans are collected with the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dataflows.readers import discover, group_feeds
from dataflows.replay import build_replay_flow
from dataflows.runner import run_flow
from dataflows.sinks import read_table
from flowsense.settings import ReplayConfig, Settings


@pytest.fixture
def exporter() -> tuple[InMemorySpanExporter, TracerProvider]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return exp, provider


def replay(settings: Settings, data, run_dir, tracer=None) -> None:
    flow = build_replay_flow(group_feeds(discover(data)), run_dir, settings, None, None, tracer)
    run_flow(flow)


def test_one_trace_follows_a_tick_batch_to_its_orders_and_fills(lobster_sample, tmp_path, exporter):
    exp, provider = exporter
    data = lobster_sample("AMZN", 5, 20_000)
    settings = Settings(
        runs_dir=tmp_path, runtime_dir=tmp_path / "rt", replay=ReplayConfig(batch_size=1_000)
    )
    replay(settings, data, tmp_path / "traced", provider.get_tracer("test"))
    replay(settings, data, tmp_path / "plain")
    orders = read_table(tmp_path / "traced", "orders")
    fills = read_table(tmp_path / "traced", "fills")
    assert orders.height > 0 and fills.height > 0
    # Tracing changes nothing in the results.
    for table in ("orders", "fills", "predictions"):
        assert read_table(tmp_path / "traced", table).equals(read_table(tmp_path / "plain", table))

    spans = exp.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def chain(span) -> list:
        out = [span]
        while out[-1].parent is not None:
            parent = out[-1].parent
            assert parent.trace_id == span.context.trace_id
            out.append(by_id[parent.span_id])
        return out

    submitted = [s for s in spans if s.name == "SubmitOrder"]
    accepted = orders.filter(orders["status"] == "accepted")["client_order_id"].to_list()
    assert sorted(s.attributes["flowsense.client_order_id"] for s in submitted) == sorted(accepted)
    for s in submitted + [s for s in spans if s.name == "OrderFilled"]:
        path = chain(s)
        assert [p.name for p in path] == [
            s.name, "decide", "predict", "features", "validate", "ticks",
        ]  # fmt: skip
        seq = int(s.attributes["flowsense.client_order_id"].rsplit("-", 1)[1])
        for step in path[1:]:  # the prediction's row is in the batch of every step
            assert step.attributes["flowsense.seq_first"] <= seq, step.name
            assert seq <= step.attributes["flowsense.seq_last"], step.name
    filled = {s.attributes["flowsense.client_order_id"] for s in spans if s.name == "OrderFilled"}
    assert filled == set(fills["client_order_id"].to_list())
    # One root per input batch: 20 000 rows in batches of 1 000.
    roots = [s for s in spans if s.name == "ticks"]
    assert len(roots) == 20 and {r.parent for r in roots} == {None}
    assert sum(r.attributes["flowsense.rows"] for r in roots) == 20_000


def test_no_tracing_no_opentelemetry_import(lobster_sample, tmp_path):
    data = lobster_sample("AMZN", 5, 500)
    code = (
        "import sys; from pathlib import Path;"
        "from dataflows.readers import discover, group_feeds;"
        "from dataflows.replay import build_replay_flow;"
        "from flowsense.settings import Settings;"
        f"build_replay_flow(group_feeds(discover(Path({str(data)!r}))), Path({str(tmp_path)!r}),"
        " Settings());"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_api_request_span_joins_the_callers_trace(tmp_path, exporter):
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.stores.embedded import EmbeddedStore

    exp, provider = exporter
    settings = Settings(runtime_dir=tmp_path / "rt", runs_dir=tmp_path / "runs")
    app = create_app(settings, embedded=EmbeddedStore(), tracer_provider=provider)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with TestClient(app) as client:
        r = client.get(
            "/api/v1/health", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        )
        client.get("/api/v1/health")
    assert r.status_code in (200, 503)
    spans = [s for s in exp.get_finished_spans() if s.name == "GET /api/v1/health"]
    assert len(spans) == 2
    joined, fresh = spans
    assert f"{joined.context.trace_id:032x}" == trace_id
    assert f"{joined.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert joined.attributes["http.status_code"] == r.status_code
    assert fresh.parent is None and fresh.context.trace_id != joined.context.trace_id
