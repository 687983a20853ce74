"""Cost of tracing the dataflow, with the untraced flow as the baseline (issue 10).

    .venv/bin/python benchmarks/bench_tracing.py [--data FILE] [--batch 65536] [--repeat 3] [--json]

The replay flow (ofi predictor, paper broker) over one LOBSTER day, one worker,
three ways in one run: ``off`` (no tracer: the plain steps, what runs when no
OTLP endpoint is set), ``on`` (every batch traced; spans to a
``BatchSpanProcessor`` whose exporter drops them, so the export's network time
is left out) and ``on_small_batches`` vs ``off_small_batches`` at 1 024 ticks a
batch, where the per-batch span cost weighs most. Figures: seconds (best of
``--repeat``) and the ratio to ``off`` at the same batch size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, machine  # noqa: E402
from dataflows.readers import discover, group_feeds  # noqa: E402
from dataflows.replay import build_replay_flow  # noqa: E402
from dataflows.runner import run_flow  # noqa: E402
from flowsense.settings import SHARED_DATA, ReplayConfig, Settings  # noqa: E402

DEFAULT = SHARED_DATA / "lobster" / "AMZN_2012-06-21_34200000_57600000_orderbook_5.csv"


def tracer():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return provider.get_tracer("bench")


def run(data: Path, batch: int, traced: bool, cache: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            runs_dir=Path(tmp), cache_dir=cache, replay=ReplayConfig(batch_size=batch)
        )
        groups = group_feeds(discover(data))
        flow = build_replay_flow(
            groups, Path(tmp) / "run", settings, None, None, tracer() if traced else None
        )
        run_flow(flow)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--batch", type=int, default=65_536)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = Path(cache_dir)
        run(args.data, args.batch, False, cache)  # warm: parse cache, numba
        t = {}
        for name, batch, traced in (
            ("off", args.batch, False),
            ("on", args.batch, True),
            ("off_small_batches", 1024, False),
            ("on_small_batches", 1024, True),
        ):
            t[name] = best_of(lambda b=batch, tr=traced: run(args.data, b, tr, cache), args.repeat)
    report = {
        "machine": machine(),
        "data": str(args.data),
        "seconds": {k: round(v, 3) for k, v in t.items()},
        "ratio_on_to_off": round(t["on"] / t["off"], 3),
        "ratio_on_to_off_small_batches": round(t["on_small_batches"] / t["off_small_batches"], 3),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
