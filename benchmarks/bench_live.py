"""The live path on the real local servers, measured in one run (issue 3).

    .venv/bin/python benchmarks/bench_live.py [--data DIR] [--repeat 5] [--json]

Needs the local servers (``flowsense services up``; started here if they are
not running, and stopped again at the end if this run started them). It
empties the topics and the QuestDB and PostgreSQL tables first: run it on a
development machine only. About 2 minutes.

Input: the whole LOBSTER day of AMZN (5 levels) and GOOG (10 levels), 303 851
ticks, published to fresh topics (``ticks.raw`` keyed by symbol) in messages
of ``--batch`` ticks. Bytewax routes a key to a worker by its hash, and AMZN
and GOOG both land on worker 0 of 2; so the scaling runs publish the day
twice, the second time under the names ``AMZN.2`` and ``GOOG.2``, which land
on worker 1 (the rows each worker made are in the output).

1. Kafka -> features, ticks/s on 1 and on 2 Bytewax workers (threads of one
   process, and processes of one worker each, ``cluster_main`` over
   loopback, as ``-i``/``-a`` deploy them): the pieces of
   ``dataflows/live.py`` (``TicksSource`` from the beginning with an idle end,
   ``ticks_in``: decode and key by symbol), then the ``validate`` and
   ``features`` steps of ``dataflows/steps.py``, into a counting sink that
   records when it saw each worker's last feature row. The rate is ticks /
   (last feature row - flow start): consumer start-up is in, the idle tail
   that ends the flow is not; the rate after the source's first messages
   (ticks / (last row - first messages out of Kafka)) is reported too: ~0.5 s
   of the start-up is librdkafka's offset query for a freshly assigned
   partition. Then the whole live flow (``build_live_flow``: every step and every
   sink: Kafka topics, PostgreSQL, Redis) with the archiver (``flowsense
   archive``, its own process, as ``flowsense live`` runs it) beside it, timed
   to the end of the flow's last sink write and to the last QuestDB row
   visible (its sinks wrapped to record when they write; the flow is
   otherwise unchanged).
2. QuestDB rows/s: the archiver (``dataflows.archive.run_archive``) copying
   the ``ticks``, ``features`` and ``predictions`` topics the whole-flow run
   wrote into empty tables, to all rows visible (``count()`` polled; the
   tables are WAL with DEDUP UPSERT KEYS); the baseline is the raw client's
   ``Sender.dataframe`` of the same features rows, as DataFrames built
   beforehand, in 65 536-row requests.
3. Latency at a steady ``--rate`` ticks/s: a second process publishes
   messages of ``--latency-rows`` ticks paced by ``dataflows.publish.paced``
   (``linger.ms=0``, the produce time also in a ``t_ns`` header) while a flow
   runs. A feature batch's latency is the wall time it reaches its sink minus
   the wall time its message was handed to the producer; an order's, the
   time it reaches its sink minus that of the message carrying its
   triggering tick (``prediction_id`` ends in the tick's ``seq``). Four
   flows: Kafka -> features (as in 1), Kafka -> every step of the live flow
   into in-process sinks (no stores), the whole live flow with the archiver
   beside it (times at its ``features`` and ``orders`` Kafka sinks), and the
   same without the archiver (QuestDB's ingestion is the biggest load beside
   the flow on a small machine); then the whole live flow again at
   ``--low-rate`` for ``--low-rate-s``. A warm-up prefix (the first
   ``--warmup`` messages, sent at once before the clock) is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402
from bytewax.testing import cluster_main, run_main  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from questdb import Sender  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from dataflows import live  # noqa: E402
from dataflows.archive import forget, run_archive  # noqa: E402
from dataflows.kafka import AsyncKafkaSink  # noqa: E402
from dataflows.live import TicksSource, build_live_flow, ticks_in  # noqa: E402
from dataflows.publish import batches, paced, publish  # noqa: E402
from dataflows.runner import run_flow  # noqa: E402
from dataflows.steps import _stateful, _validate, trading_steps  # noqa: E402
from dataflows.stores.questdb import (  # noqa: E402
    CHUNK_ROWS,
    SYMBOLS,
    create_tables,
    execute,
    sender_conf,
    to_frame,
)
from dataflows.tables import features_table  # noqa: E402
from flowsense import services  # noqa: E402
from flowsense.settings import SHARED_DATA, Settings  # noqa: E402
from operators.features import FeatureState  # noqa: E402
from operators.validate import Validator  # noqa: E402
from schemas import topics, wire  # noqa: E402
from schemas.market import TickBatch  # noqa: E402
from tests.integration.helpers import reset_stores, reset_topics  # noqa: E402
from tests.net import free_port  # noqa: E402

FILES = {"AMZN": 5, "GOOG": 10}
"""The sample: the whole 2012-06-21 LOBSTER day of these symbols at these levels."""


def sample_folder(data: Path) -> Path:
    """A folder of links to the AMZN 5-level and GOOG 10-level files (the data folder has more)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-live-"))
    for symbol, levels in FILES.items():
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            (folder / name).symlink_to((data / name).resolve())
    return folder


# ---------------------------------------------------------------- fresh state


def questdb_count(settings: Settings, table: str) -> int:
    return execute(settings.questdb, f"SELECT count() FROM {table}")["dataset"][0][0]


def wait_visible(settings: Settings, table: str, rows: int, timeout: float = 120) -> float:
    """``time.perf_counter()`` when ``count()`` of ``table`` first reaches ``rows``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if questdb_count(settings, table) >= rows:
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"QuestDB {table}: {questdb_count(settings, table)} of {rows} rows")


# ---------------------------------------------------------------- instrumented sinks


class _CountingPart(StatelessSinkPartition):
    def __init__(self, log: dict[int, list[float]], worker: int) -> None:
        self.log, self.worker = log, worker

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        rows = sum(len(v) for _, v in items)
        now = time.perf_counter()
        rec = self.log.setdefault(self.worker, [0, now, now])
        rec[0] += rows
        rec[2] = now


class CountingSink(DynamicSink):
    """Feature rows per worker, with the times of the first and last write."""

    def __init__(self) -> None:
        self.log: dict[int, list[float]] = {}  # worker -> [rows, first, last]

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountingPart:
        return _CountingPart(self.log, worker_index)


def marked_source(mark: list, clock=time.perf_counter) -> type[TicksSource]:
    """``TicksSource`` that appends ``clock()`` to ``mark`` when it first returns messages."""

    class Marked(TicksSource):
        def build_part(self, step_id: str, for_part: str, resume_state: Any) -> Any:
            part = super().build_part(step_id, for_part, resume_state)
            inner = part.next_batch

            def next_batch() -> list[Any]:
                batch = inner()
                if batch and not mark:
                    mark.append(clock())
                return batch

            part.next_batch = next_batch
            return part

    return Marked


def features_flow(
    settings: Settings, until_idle_s: float, sink: DynamicSink, source=TicksSource
) -> Dataflow:
    """Kafka -> decode -> key by symbol -> validate -> features, as in ``dataflows/live.py``."""
    flow = Dataflow("bench_kafka_features")
    raw = op.input("kafka_in", flow, source(settings, True, until_idle_s))
    checked = op.stateful_map("validate", ticks_in(raw, settings), _validate)
    ticks = op.filter_map_value("accepted", checked, lambda c: c.ticks)
    features = op.stateful_map(
        "features", ticks, _stateful(lambda t: FeatureState(t.instrument), "update")
    )
    op.output("features_out", features, sink)
    return flow


def trading_flow(
    settings: Settings, until_idle_s: float, features: DynamicSink, orders: DynamicSink
) -> Dataflow:
    """The live flow's source and every step (``trading_steps``), none of its store sinks."""
    flow = Dataflow("bench_kafka_trading")
    raw = op.input("kafka_in", flow, TicksSource(settings, True, until_idle_s))
    out = trading_steps(ticks_in(raw, settings), settings)
    op.output("features_out", out.features, features)
    op.output("orders_out", out.orders, orders)
    return flow


class _TimedPart(StatelessSinkPartition):
    """Logs each ``write_batch``: entry and exit wall times, and the items or their count."""

    def __init__(self, inner: StatelessSinkPartition, log: list, keep: bool) -> None:
        self.inner, self.log, self.keep = inner, log, keep

    def write_batch(self, items: list[Any]) -> None:
        t_in = time.time_ns()
        self.inner.write_batch(items)
        self.log.append((t_in, time.time_ns(), items if self.keep else len(items)))

    def close(self) -> None:
        self.inner.close()


class TimedSink(DynamicSink):
    """Any sink, unchanged, with every ``write_batch`` logged: entry and exit wall times."""

    def __init__(self, inner: DynamicSink, logs: dict[str, list], keep: set[str]) -> None:
        self.inner, self.logs, self.keep = inner, logs, keep

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TimedPart:
        name = step_id.rsplit(".", 1)[-1]
        log = self.logs.setdefault(name, [])
        inner = self.inner.build(step_id, worker_index, worker_count)
        return _TimedPart(inner, log, name in self.keep)


@contextmanager
def timed_sinks(keep: set[str] = frozenset()) -> Iterator[dict[str, list]]:
    """While open, ``build_live_flow`` wraps each of its sinks in a ``TimedSink``.

    Yields ``{sink step name: [(t_in_ns, t_out_ns, items or len(items)), ...]}``;
    the items are kept for the step names in ``keep``.
    """
    logs: dict[str, list] = {}
    names = ("AsyncKafkaSink", "RedisSink")  # PostgresSink writes from its own thread
    saved = {n: getattr(live, n) for n in names}

    def wrap(cls):
        return lambda *a, **k: TimedSink(cls(*a, **k), logs, keep)

    for n in names:
        setattr(live, n, wrap(saved[n]))
    try:
        yield logs
    finally:
        for n, cls in saved.items():
            setattr(live, n, cls)


ALIASES = {"AMZN": "AMZN.2", "GOOG": "GOOG.2"}
"""Second names of the day for the scaling runs: Bytewax routes these to worker 1 of 2."""


def aliased(items: list[TickBatch]) -> list[TickBatch]:
    """``items`` and the same batches again under ``ALIASES`` names."""
    again = [replace(b, instrument=replace(b.instrument, symbol=ALIASES[b.symbol])) for b in items]
    return items + again


@contextmanager
def archiver() -> Iterator[subprocess.Popen]:
    """``flowsense archive`` in its own process, as ``flowsense live`` starts it; on exit it
    archives what is left in the topics and stops."""
    cmd = [sys.executable, "-m", "flowsense", "archive", "--json", "--until-eof"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.stdin.close()
        if proc.wait(600):
            raise RuntimeError(f"the archiver failed (exit code {proc.returncode})")


# ---------------------------------------------------------------- 1. throughput


def _features_result(t0: float, mark: float, t_end: float, log: dict) -> dict[str, Any]:
    rows = sum(int(r[0]) for r in log.values())
    last = max(r[2] for r in log.values())
    return {
        "ticks": rows,
        "seconds": last - t0,
        "ticks_per_s": rows / (last - t0),
        "startup_s": mark - t0,
        "ticks_per_s_after_start": rows / (last - mark),
        "idle_tail_s": t_end - last,
        "rows_by_worker": {w: int(r[0]) for w, r in sorted(log.items())},
    }


def kafka_to_features(settings: Settings, workers: int, idle_s: float) -> dict[str, Any]:
    """Worker threads of this process."""
    sink, mark = CountingSink(), []
    flow = features_flow(settings, idle_s, sink, marked_source(mark))
    t0 = time.perf_counter()
    run_flow(flow, workers)
    return _features_result(t0, mark[0], time.perf_counter(), sink.log)


def _features_process(
    addresses: list[str], proc_id: int, idle_s: float, warm: list, out: Any
) -> None:
    feature_items(warm)  # Numba's cache loads here, not in the timed run (as in the parent)
    sink, mark = CountingSink(), []
    flow = features_flow(Settings(), idle_s, sink, marked_source(mark))
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: one clock for every process of the machine
    cluster_main(flow, addresses, proc_id, worker_count_per_proc=1)
    out.put((t0, mark[0] if mark else None, time.perf_counter(), sink.log))


def kafka_to_features_processes(processes: int, idle_s: float, warm: list) -> dict[str, Any]:
    """Processes of one worker each, talking over loopback (as ``-i``/``-a`` run them)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    ports = [free_port() for _ in range(processes)]
    addresses = [f"127.0.0.1:{p}" for p in ports]
    procs = [
        ctx.Process(target=_features_process, args=(addresses, i, idle_s, warm, out))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    got = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    log = {w: r for *_, lg in got for w, r in lg.items()}
    t0 = max(g[0] for g in got)  # the flow starts when the last process is in
    mark = min(g[1] for g in got if g[1] is not None)
    return _features_result(t0, mark, max(g[2] for g in got), log)


def whole_live_flow(settings: Settings, workers: int, idle_s: float, ticks: int) -> dict[str, Any]:
    """The live flow with the archiver beside it: to its last sink write, and to the last
    QuestDB row visible."""
    reset_stores(settings)
    reset_archive(settings)
    mark: list[int] = []
    saved = live.TicksSource
    live.TicksSource = marked_source(mark, time.time_ns)
    try:
        with archiver(), timed_sinks() as logs:
            flow = build_live_flow(settings, from_beginning=True, until_idle_s=idle_s)
            t0 = time.time_ns()
            run_flow(flow, workers)
            t_end = time.time_ns()
        archived = time.time_ns()
        for table in ("ticks", "features", "predictions"):
            wait_visible(settings, table, ticks)
        visible = time.time_ns()
    finally:
        live.TicksSource = saved
    last = max(t_out for log in logs.values() for _, t_out, _ in log)
    busy = {name: sum(o - i for i, o, _ in log) / 1e9 for name, log in logs.items()}
    return {
        "seconds": (last - t0) / 1e9,
        "startup_s": (mark[0] - t0) / 1e9,
        "seconds_after_start": (last - mark[0]) / 1e9,
        "idle_tail_s": (t_end - last) / 1e9,
        "archived_s": (archived - t0) / 1e9,
        "questdb_visible_s": (visible - t0) / 1e9,
        "sink_seconds": {k: round(v, 3) for k, v in sorted(busy.items(), key=lambda kv: -kv[1])},
    }


def reset_archive(settings: Settings) -> None:
    """Forget what the archiver committed and empty its tables."""
    forget(settings)
    for table in SYMBOLS:
        execute(settings.questdb, f"DROP TABLE IF EXISTS {table}")
    create_tables(settings.questdb)


# ---------------------------------------------------------------- 2. QuestDB


def feature_items(items: list) -> list[tuple[str, Any]]:
    """``(symbol, FeatureBatch)`` of every batch, as the validate and features steps give them."""
    states: dict[str, tuple[Validator, FeatureState]] = {}
    out = []
    for b in items:
        v, f = states.setdefault(b.symbol, (Validator(), FeatureState(b.instrument)))
        ok, _ = v.update(b)
        if len(ok):
            out.append((b.symbol, f.update(ok)))
    return out


def questdb_rates(settings: Settings, feats: list[tuple[str, Any]], ticks: int) -> dict[str, Any]:
    """The archiver over the topics the whole-flow run wrote; then the raw client's baseline."""
    cfg = settings.questdb
    reset_archive(settings)
    t0 = time.perf_counter()
    report = run_archive(settings, until_idle_s=1.0)
    sent = time.perf_counter() - t0 - 1.0  # its idle tail is not work
    rows = sum(report["rows"].values())
    visible = max(wait_visible(settings, t, ticks) for t in ("ticks", "features", "predictions"))
    archive = {
        "rows": report["rows"],
        "written_rows_per_s": rows / sent,
        "visible_rows_per_s": rows / (visible - t0 - 1.0),
    }

    frame = to_frame(
        pa.concat_tables([features_table(s, v) for s, v in feats], promote_options="permissive")
    )
    execute(cfg, "DROP TABLE IF EXISTS features")
    create_tables(cfg)
    with Sender.from_conf(sender_conf(cfg) + "auto_flush=off;") as sender:
        t0 = time.perf_counter()
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            sender.dataframe(chunk, table_name="features", symbols=SYMBOLS["features"], at="ts")
            sender.flush()
        sent_at = time.perf_counter()
    visible = wait_visible(settings, "features", len(frame))
    raw = {
        "rows": len(frame),
        "sent_rows_per_s": len(frame) / (sent_at - t0),
        "visible_rows_per_s": len(frame) / (visible - t0),
    }
    return {"archiver": archive, "sender_dataframe_features": raw}


# ---------------------------------------------------------------- 3. latency


def produce_paced(
    bootstrap: str,
    sample: str,
    cache_dir: str | None,
    rows: int,
    rate: float,
    warmup: int,
    warm_sent: Any,
    go: Any,
    out: str,
    max_ticks: int | None = None,
) -> None:
    """The outside producer (its own process): warm-up at once, then the rest at ``rate``."""
    items = batches(Path(sample), rows, None, Path(cache_dir) if cache_dir else None)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 0,
            "compression.type": "lz4",
        }
    )

    def send(b) -> int:
        value, key = wire.encode_ticks(b), b.symbol.encode()
        t = time.time_ns()
        producer.produce(topics.TICKS_RAW, value, key, headers=[("t_ns", t.to_bytes(8, "little"))])
        producer.poll(0)
        return t

    for b in items[:warmup]:
        send(b)
    producer.flush(30)
    warm_sent.set()
    if not go.wait(120):
        raise RuntimeError("the live flow did not process the warm-up messages")
    symbol, seq, n, t_ns = [], [], [], []
    timed, total = [], 0
    for b in items[warmup:]:
        if max_ticks is not None and total >= max_ticks:
            break
        timed.append(b)
        total += len(b)
    for b in paced(timed, rate):
        t_ns.append(send(b))
        symbol.append(b.symbol)
        seq.append(int(b.seq[0]))
        n.append(len(b))
    if producer.flush(60):
        raise RuntimeError("Kafka did not acknowledge every message")
    np.savez(out, symbol=np.array(symbol), seq=np.array(seq), n=np.array(n), t_ns=np.array(t_ns))


def _message_of(sent: dict[str, np.ndarray]):
    """``(symbol, seq) -> produce time (ns)`` of the message carrying that tick, or None."""
    by_symbol = {}
    for s in np.unique(sent["symbol"]):
        m = sent["symbol"] == s
        by_symbol[str(s)] = (sent["seq"][m], sent["n"][m], sent["t_ns"][m])

    def lookup(symbol: str, seq: int) -> int | None:
        if symbol not in by_symbol:
            return None
        first, n, t = by_symbol[symbol]
        i = int(np.searchsorted(first, seq, "right")) - 1
        if i < 0 or seq >= first[i] + n[i]:
            return None  # a warm-up tick
        return int(t[i])

    return lookup


def _stats(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"count": 0}
    a = np.array(ms)
    return {
        "count": len(a),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def _feature_keys(symbol: str, batch: Any) -> list[tuple[str, int]]:
    """A features batch: its symbol and first ``seq`` (its message's first accepted tick)."""
    return [(symbol, int(batch["seq"][0]))] if len(batch) else []


def _order_keys(symbol: str, orders: list[Any]) -> list[tuple[str, int]]:
    """Orders: symbol and ``seq`` of the triggering tick (``prediction_id`` = symbol:model:seq)."""
    return [(symbol, int(o.prediction_id.rsplit(":", 1)[1])) for o in orders]


class _RecordingPart(StatelessSinkPartition):
    def __init__(self, sink: RecordingSink) -> None:
        self.sink = sink

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        t = time.time_ns()
        self.sink.log.append((t, [k for sym, v in items for k in self.sink.keys(sym, v)]))
        self.sink.seen(sum(len(v) for _, v in items))  # rows (features) or records


class RecordingSink(DynamicSink):
    """When each ``write_batch`` came (ns), with ``keys(symbol, item)`` of its items."""

    def __init__(self, keys, seen=lambda n: None) -> None:
        self.log: list[tuple[int, list[tuple[str, int]]]] = []
        self.keys, self.seen = keys, seen

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RecordingPart:
        return _RecordingPart(self)


LATENCY_FLOWS = {
    "features": "Kafka -> features (validate, features; in-process sink)",
    "trading": "Kafka -> every step of the live flow (in-process sinks, no stores)",
    "live": "whole live flow (orders/features at their Kafka sinks)",
    "live_no_archive": "whole live flow, no archiver running (QuestDB not written)",
}


def latency(
    settings: Settings,
    sample: Path,
    rows: int,
    rate: float,
    warmup: int,
    idle_s: float,
    which: str,
    max_ticks: int | None = None,
) -> dict[str, Any]:
    """Ticks paced into ``ticks.raw`` while one of ``LATENCY_FLOWS`` runs; latencies in ms."""
    reset_topics(settings)
    reset_stores(settings)
    ctx = mp.get_context("spawn")
    warm_sent, go = ctx.Event(), ctx.Event()
    out = Path(tempfile.mkdtemp(prefix="bench-live-lat-")) / "sent.npz"
    cache = str(settings.cache_dir) if settings.cache_dir else None
    args = (settings.kafka.bootstrap, str(sample), cache, rows, rate, warmup, warm_sent, go, out)
    proc = ctx.Process(target=produce_paced, args=(*args, max_ticks))
    proc.start()
    if not warm_sent.wait(120):
        proc.terminate()
        raise RuntimeError("the producer did not start")

    seen = [0]
    # `go` once (nearly) every warm-up tick has its features out: rows, not messages, since a
    # backlog read at once goes on as one batch a symbol (a few rows may be refused).
    warm_rows = 0.9 * sum(len(b) for b in batches(sample, rows, None, settings.cache_dir)[:warmup])

    def count(n: int) -> None:
        seen[0] += n
        if seen[0] >= warm_rows:
            go.set()

    logs: dict[str, list] = {}
    if which.startswith("live"):

        class _Go(TimedSink):
            def build(self, step_id, worker_index, worker_count):
                part = super().build(step_id, worker_index, worker_count)
                if step_id.endswith("features_kafka"):
                    write = part.write_batch

                    def write_batch(items):
                        write(items)
                        count(sum(wire.decode_table(m.value)[1].num_rows for m in items))

                    part.write_batch = write_batch
                return part

        keep = {"features_kafka", "orders_kafka"}
        reset_archive(settings)
        beside = archiver() if which == "live" else contextlib.nullcontext()
        with beside, timed_sinks(keep) as logs:
            live.AsyncKafkaSink = lambda *a, **k: _Go(AsyncKafkaSink(*a, **k), logs, keep)
            run_main(build_live_flow(settings, from_beginning=True, until_idle_s=idle_s))

        def keyed(name: str, keys) -> list[tuple[int, list[tuple[str, int]]]]:
            return [
                (t_in, [(m.key.decode(), q) for m in items for q in keys(m.value)])
                for t_in, _, items in logs.get(name, [])
            ]

        feature_log = keyed(
            "features_kafka", lambda v: [wire.decode_table(v)[1].column("seq")[0].as_py()]
        )
        order_log = keyed(
            "orders_kafka",
            lambda v: [
                int(p.rsplit(":", 1)[1])
                for p in wire.decode_table(v)[1].column("prediction_id").to_pylist()
            ],
        )
    else:
        features, orders = RecordingSink(_feature_keys, count), RecordingSink(_order_keys)
        if which == "features":
            run_main(features_flow(settings, idle_s, features))
        else:
            run_main(trading_flow(settings, idle_s, features, orders))
        feature_log, order_log = features.log, orders.log
    proc.join(60)
    if proc.exitcode != 0:
        raise RuntimeError(f"the producer failed (exit code {proc.exitcode})")
    sent = dict(np.load(out))
    shutil.rmtree(out.parent, ignore_errors=True)
    lookup = _message_of(sent)

    def latencies(log: list[tuple[int, list[tuple[str, int]]]]) -> list[float]:
        ms = []
        for t_in, keys in log:
            for symbol, seq in keys:
                t = lookup(symbol, seq)
                if t is not None:
                    ms.append((t_in - t) / 1e6)
        return ms

    order_ms, feature_ms = latencies(order_log), latencies(feature_log)
    ticks = int(sent["n"].sum())
    t_first, t_last = int(sent["t_ns"][0]), int(sent["t_ns"][-1])
    span = (t_last - t_first) / 1e9
    tenth = max(1, len(feature_ms) // 10)
    result = {
        "flow": LATENCY_FLOWS[which],
        "rows_per_message": rows,
        "messages": len(sent["n"]),
        "ticks": ticks,
        "achieved_ticks_per_s": round(ticks / span) if span > 0 else None,
        "paced_seconds": round(span, 3),
        "tick_to_order": _stats(order_ms),
        "tick_to_feature": _stats(feature_ms),
        "tick_to_feature_p50_first_tenth_ms": round(float(np.median(feature_ms[:tenth])), 3),
        "tick_to_feature_p50_last_tenth_ms": round(float(np.median(feature_ms[-tenth:])), 3),
    }
    if logs:  # seconds each sink spent writing, from the first paced message on
        busy = {n: sum(o - i for i, o, _ in log if i >= t_first) / 1e9 for n, log in logs.items()}
        calls = {n: sum(i >= t_first for i, _, _ in log) for n, log in logs.items()}
        result["sink_seconds"] = {
            k: round(v, 3) for k, v in sorted(busy.items(), key=lambda kv: -kv[1]) if v
        }
        result["sink_calls"] = {k: calls[k] for k in result["sink_seconds"]}
    return result


# ---------------------------------------------------------------- main


def _r(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "lobster")
    ap.add_argument("--batch", type=int, default=1024, help="ticks per message (throughput)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of Kafka -> features (best)")
    ap.add_argument("--idle", type=float, default=1.5, help="until-idle seconds (throughput)")
    ap.add_argument("--rate", type=float, default=50_000, help="ticks/s (latency)")
    ap.add_argument("--latency-rows", type=int, default=64, help="ticks per message (latency)")
    ap.add_argument("--warmup", type=int, default=64, help="messages sent before the clock")
    ap.add_argument(
        "--low-rate",
        type=float,
        default=10_000,
        help="ticks/s of a second whole-flow run (0: none)",
    )
    ap.add_argument("--low-rate-s", type=float, default=10.0, help="seconds of that run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    settings = Settings()
    before = services.status(settings)["services"]
    services.up(settings)
    started = [name for name, s in before.items() if not s["healthy"]]
    sample = sample_folder(args.data)
    load_before = os.getloadavg()
    try:
        items = batches(sample, args.batch, None, settings.cache_dir)
        ticks = sum(len(b) for b in items)
        feats = feature_items(items)  # also warms Numba's cache and the imports of the sinks
        to_frame(features_table(*feats[0]))
        twice = aliased(items)
        say(
            f"{len(twice) and 2 * ticks:,} ticks (the day twice: {', '.join(ALIASES.values())})"
            f" in {len(twice)} messages of <= {args.batch}; fresh topics, publish"
        )
        reset_topics(settings)
        reset_stores(settings)
        t = time.perf_counter()
        publish(settings.kafka.bootstrap, twice)
        publish_rate = 2 * ticks / (time.perf_counter() - t)

        say(
            f"Kafka -> features: a warm-up run, then best of {args.repeat} on 1 worker,"
            " 2 worker threads, 2 worker processes"
        )
        kafka_to_features(settings, 1, args.idle)
        runners = {
            "1_worker": lambda: kafka_to_features(settings, 1, args.idle),
            "2_threads": lambda: kafka_to_features(settings, 2, args.idle),
            "2_processes": lambda: kafka_to_features_processes(2, args.idle, items[:2]),
        }
        features: dict[str, dict[str, Any]] = {}
        for name, run in runners.items():
            runs = [run() for _ in range(args.repeat)]
            for r in runs:
                if r["ticks"] != 2 * ticks:
                    raise RuntimeError(f"{r['ticks']} feature rows for {2 * ticks} ticks")
            features[name] = max(runs, key=lambda r: r["ticks_per_s_after_start"])

        say("whole live flow (every sink) with the archiver beside it, 1 worker, on the day once")
        reset_topics(settings)
        publish(settings.kafka.bootstrap, items)
        whole = {1: whole_live_flow(settings, 1, args.idle, ticks)}

        say("QuestDB: the archiver over the flow's topics; the raw client")
        qdb = questdb_rates(settings, feats, ticks)

        lat = {}
        for which in LATENCY_FLOWS:
            say(f"latency, {which}: {args.rate:,.0f} ticks/s, {args.latency_rows} ticks a message")
            lat[which] = latency(
                settings, sample, args.latency_rows, args.rate, args.warmup, 3.0, which
            )
        if args.low_rate:
            n = round(args.low_rate * args.low_rate_s)
            say(f"latency, live: {args.low_rate:,.0f} ticks/s for {n:,} ticks")
            lat["live_low_rate"] = latency(
                settings, sample, args.latency_rows, args.low_rate, args.warmup, 3.0, "live", n
            )
    finally:
        for f in sample.iterdir():
            f.unlink()
        sample.rmdir()
        if started:
            services.down(settings, started)

    base = features["1_worker"]
    scaling = {
        name: {
            "from_start": round(r["ticks_per_s"] / base["ticks_per_s"], 2),
            "after_start": round(r["ticks_per_s_after_start"] / base["ticks_per_s_after_start"], 2),
        }
        for name, r in features.items()
        if name != "1_worker"
    }
    result = {
        "machine": machine(),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "ticks": ticks,
        "ticks_per_message": args.batch,
        "publish_ticks_per_s": round(publish_rate),
        "kafka_to_features": {name: _r(r) for name, r in features.items()},
        "kafka_to_features_vs_1_worker": scaling,
        "whole_live_flow": {
            f"{w}_worker": {
                "ticks_per_s": round(ticks / r["seconds"]),
                "ticks_per_s_after_start": round(ticks / r["seconds_after_start"]),
                "seconds": round(r["seconds"], 3),
                "startup_s": round(r["startup_s"], 3),
                "idle_tail_s": round(r["idle_tail_s"], 3),
                "archived_s": round(r["archived_s"], 3),
                "questdb_visible_s": round(r["questdb_visible_s"], 3),
                "sink_seconds": r["sink_seconds"],
            }
            for w, r in whole.items()
        },
        "questdb": {k: _r(v) for k, v in qdb.items()},
        "latency": lat,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['machine']}; load average {result['loadavg_1m_before_after']}")
    print(f"{ticks:,} ticks (AMZN 5 + GOOG 10 levels, one day) in messages of {args.batch}")
    print(f"publish (lz4, linger 5 ms)              {publish_rate:>12,.0f} ticks/s")
    for name, r in features.items():
        print(
            f"Kafka -> features, {name:20s} {r['ticks_per_s']:>12,.0f} ticks/s"
            f"  ({r['seconds']:.3f} s; first message at {r['startup_s']:.3f} s, then"
            f" {r['ticks_per_s_after_start']:,.0f}/s; rows by worker {r['rows_by_worker']})"
        )
    for name, x in scaling.items():
        print(
            f"  {name} vs 1 worker: {x['from_start']:.2f} x ({x['after_start']:.2f} x after start)"
        )
    for w, r in whole.items():
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(r["sink_seconds"].items())[:4])
        print(
            f"whole live flow, {w} worker(s)            {ticks / r['seconds']:>12,.0f} ticks/s"
            f"  ({r['seconds']:.3f} s; {ticks / r['seconds_after_start']:,.0f}/s after the first"
            f" message; in sinks, s: {top}); archived at {r['archived_s']:.2f} s,"
            f" QuestDB visible at {r['questdb_visible_s']:.2f} s"
        )
    a, b = qdb["archiver"], qdb["sender_dataframe_features"]
    print(
        f"{'archiver, 3 tables':40s} {a['visible_rows_per_s']:>12,.0f} rows/s visible"
        f"  ({a['written_rows_per_s']:,.0f} written; {a['rows']})"
    )
    print(
        f"{'Sender.dataframe (baseline), features':40s} {b['visible_rows_per_s']:>12,.0f} rows/s"
        f" visible  ({b['sent_rows_per_s']:,.0f} sent)"
    )
    for x in lat.values():
        print(
            f"latency, {x['flow']}: {x['achieved_ticks_per_s']:,} ticks/s,"
            f" {x['rows_per_message']} ticks a message, {x['messages']:,} messages"
        )
        for k in ("tick_to_order", "tick_to_feature"):
            st = x[k]
            if st["count"]:
                print(
                    f"  {k:16s} p50 {st['p50_ms']:>9,.2f} ms  p99 {st['p99_ms']:>9,.2f} ms"
                    f"  max {st['max_ms']:>9,.2f} ms  ({st['count']:,})"
                )
        print(
            f"  tick_to_feature p50, first tenth {x['tick_to_feature_p50_first_tenth_ms']:,.2f} ms,"
            f" last tenth {x['tick_to_feature_p50_last_tenth_ms']:,.2f} ms"
        )
        if "sink_seconds" in x:
            top = ", ".join(
                f"{k} {v:.2f} s / {x['sink_calls'][k]:,} calls"
                for k, v in list(x["sink_seconds"].items())[:4]
            )
            print(f"  in sinks: {top}")


if __name__ == "__main__":
    main()
