"""The live dataflow: Kafka ``ticks.raw`` -> the trading steps -> Kafka, QuestDB, PostgreSQL, Redis.

Run it with ``flowsense live`` or ``python -m bytewax.run dataflows.live:flow``
(any ``-w`` worker count; settings from ``FLOWSENSE_*``).

    kafka_in -> decode -> split_json -> by_symbol ---------------------------> ticks_in -> trading
                                     -> json_by_symbol -> normalize ---------/                |
    control_in (risk.control: operators' RiskReset) -> control_decode ---------> account step -/

Outputs: Kafka ``features``, ``predictions``, ``orders``, ``fills``, ``alerts``;
QuestDB ticks, features, predictions; PostgreSQL orders, order_events
(cancellations), fills, trades, alerts and the audit log; Redis latest values.

A ``ticks.raw`` message is one of (``schemas.wire.decode_message``):

- a batch of ticks of one symbol in the internal binary format: it goes
  straight on, no per-row work (``flowsense publish``);
- a FlowSense JSON v1 record or a raw Binance combined-stream message (or
  REST depth snapshot, whose spot form names no symbol: the Kafka key does),
  from outside producers: ``decode`` keys it by symbol (Binance: the reader's
  naming, ``BTCUSDT-PERP``), and the stateful ``normalize`` step
  (``dataflows.normalize``) makes the same tick rows of it as the replay path,
  rebuilding Binance books from snapshots and diffs. A Binance message's
  receive time is the Kafka header ``ts_recv`` (int ns, as ``flowsense publish
  --format json`` sets it from the capture), else the message's Kafka
  timestamp.

Rows and rejects carry ``source`` ``topic/partition`` and ``line`` = offset. A
message that does not decode (bad JSON, missing field, negative size...), a
symbol outside ``kafka.symbols`` when that list is set (``unknown_symbol``), a
record the book logic refuses and a row the validation step refuses
(crossed book...) are dead-lettered to ``ticks.deadletter`` with their
reason, one message each with the reason in a header (the count by reason);
decode-time rejects also carry the raw bytes (``detail``: ``raw[hex]=...``,
at most 4 KiB). The worker goes on.
"""

from __future__ import annotations

import gc
import json
import pickle
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple

import bytewax.operators as op
import numpy as np
import pyarrow as pa
from bytewax.connectors.kafka import KafkaError, KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import StatefulSourcePartition
from bytewax.operators import KeyedStream, StatefulBatchLogic
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from dataflows.drift import add_drift
from dataflows.kafka import AsyncKafkaSink, LowLatencyKafkaSource, RecoverableKafkaSink
from dataflows.normalize import Normalizer, Received, symbol_of
from dataflows.publish import TS_RECV_HEADER
from dataflows.steps import SourceBatch, key_by_symbol, trading_steps
from dataflows.stores.postgres import PostgresSink, migrate
from dataflows.stores.redis import RedisSink
from dataflows.tables import (
    alerts_table,
    book_table,
    features_table,
    fills_table,
    orders_table,
    predictions_table,
    ticks_table,
)
from flowsense.settings import Settings
from flowsense.tracing import dataflow_tracer
from schemas import topics, wire
from schemas.market import Reject, RejectReason, TickBatch
from schemas.trading import RiskReset


class IdleClock:
    """When the flow's sources last got a message: shared by every partition of them,
    so that ``--until-idle`` ends the flow after that long without a message on ANY
    partition (a partition that is merely quiet, or one with no symbol at all, must
    not stop on its own while others still bring data)."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.last = time.monotonic()

    def heard(self) -> None:
        self.last = time.monotonic()

    def idle(self) -> bool:
        return time.monotonic() - self.last > self.idle_s


class _IdlePartition(StatefulSourcePartition):
    """A Kafka partition that ends once its flow's ``IdleClock`` says idle."""

    def __init__(self, inner: StatefulSourcePartition, clock: IdleClock) -> None:
        self.inner, self.clock = inner, clock

    def next_batch(self) -> list[Any]:
        batch = self.inner.next_batch()
        if batch:
            self.clock.heard()
        elif self.clock.idle():
            raise StopIteration
        return batch

    def next_awake(self) -> datetime | None:
        return self.inner.next_awake()

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class TopicSource(LowLatencyKafkaSource):
    """A Kafka source over one topic, from its start or its end, optionally ending when idle
    (``until_idle``: seconds, or an ``IdleClock`` shared with the flow's other sources)."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        from_beginning: bool,
        until_idle: IdleClock | float | None,
    ) -> None:
        super().__init__(
            brokers=[settings.kafka.bootstrap],
            topics=[topic],
            tail=True,
            starting_offset=OFFSET_BEGINNING if from_beginning else OFFSET_END,
            batch_size=1000,
            raise_on_errors=False,
        )
        if isinstance(until_idle, int | float):
            until_idle = IdleClock(until_idle)
        self.clock = until_idle

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> StatefulSourcePartition:
        part = super().build_part(step_id, for_part, resume_state)
        if self.clock is None:
            return part
        self.clock.heard()  # the idle time counts from the flow's start
        return _IdlePartition(part, self.clock)


class TicksSource(TopicSource):
    """``ticks.raw``: market data from outside producers and ``flowsense publish``."""

    def __init__(
        self, settings: Settings, from_beginning: bool, until_idle: IdleClock | float | None
    ) -> None:
        super().__init__(settings, topics.TICKS_RAW, from_beginning, until_idle)


class ControlSource(TopicSource):
    """``risk.control``: operators' resets. Without ``from_beginning`` it reads only what is
    written after the start."""

    def __init__(
        self, settings: Settings, from_beginning: bool, until_idle: IdleClock | float | None
    ) -> None:
        super().__init__(settings, topics.RISK_CONTROL, from_beginning, until_idle)


_RAW_BYTES = 4096


class JsonRecords(NamedTuple):
    """Decoded JSON records of one symbol, in Kafka order, from one batch of messages."""

    symbol: str
    items: list[Received]


def _ts_recv(msg: KafkaSourceMessage) -> int:
    """The ``ts_recv`` header, else the Kafka timestamp; ``ValueError`` for a bad header."""
    for name, value in msg.headers or ():
        if name == TS_RECV_HEADER:
            if not (value and value.isascii() and value.isdigit()):
                raise ValueError(f"bad {TS_RECV_HEADER} header {value[:40]!r}")
            return int(value)
    kind, ms = msg.timestamp or (0, 0)
    return ms * 1_000_000 if kind else time.time_ns()


def _refuse(
    symbol: str, msg: KafkaSourceMessage, reason: RejectReason | str, detail: str, ts: int = 0
) -> Reject:
    """A reject of one message, its raw bytes in the detail."""
    raw = (msg.value or b"")[:_RAW_BYTES].hex()
    where = f"{msg.topic}/{msg.partition}"
    return Reject(
        symbol or "?", where, msg.offset or 0, str(reason), f"{detail}; raw[hex]={raw}", ts
    )


def decoder(
    symbols: frozenset[str] = frozenset(),
) -> Callable[[list[Any]], list[SourceBatch | JsonRecords]]:
    """The ``decode`` step: ``ticks.raw`` messages -> ``SourceBatch``es and ``JsonRecords``.

    Binary tick batches pass as they are, one ``SourceBatch`` each; rejects
    are grouped by symbol; JSON records are grouped by symbol, in Kafka order.
    ``symbols`` non-empty: any other symbol is ``unknown_symbol``.
    """

    def decode(msgs: list[Any]) -> list[SourceBatch | JsonRecords]:
        ticks: dict[str, list[TickBatch]] = {}
        rejects: dict[str, list[Reject]] = {}
        records: dict[str, list[Received]] = {}
        for msg in msgs:
            if isinstance(msg, KafkaError):  # from the consumer (raise_on_errors=False)
                r = _refuse(
                    "?", msg.msg, RejectReason.MALFORMED_MESSAGE, f"consumer error: {msg.err}"
                )
                rejects.setdefault(r.symbol, []).append(r)
                continue
            where, offset = f"{msg.topic}/{msg.partition}", msg.offset or 0
            try:
                ts_recv = _ts_recv(msg)
            except ValueError as e:
                key = (msg.key or b"").decode("utf-8", "replace")
                r = _refuse(key, msg, RejectReason.MALFORMED_MESSAGE, str(e))
                rejects.setdefault(r.symbol, []).append(r)
                continue
            rec = wire.decode_message(
                msg.value, key=msg.key, ts_recv=ts_recv, source=where, line=offset
            )
            if isinstance(rec, Reject):
                r = _refuse(rec.symbol, msg, rec.reason, rec.detail, rec.ts_event)
                rejects.setdefault(r.symbol, []).append(r)
                continue
            symbol = rec.symbol if isinstance(rec, TickBatch) else symbol_of(rec)
            if symbols and symbol not in symbols:
                detail = f"symbol {symbol!r} is not one of kafka.symbols"
                r = _refuse(symbol, msg, RejectReason.UNKNOWN_SYMBOL, detail, ts_recv)
                rejects.setdefault(r.symbol, []).append(r)
            elif isinstance(rec, TickBatch):
                ticks.setdefault(symbol, []).append(rec)
            else:
                records.setdefault(symbol, []).append(Received(rec, where, offset))
        # A backlog read in one go goes on as one batch a symbol: the steps' cost per
        # item is paid once, so a flow that falls behind catches up faster.
        out: list[SourceBatch | JsonRecords] = [
            SourceBatch(symbol, ticks=b) for symbol, bs in ticks.items() for b in _joined(bs)
        ]
        out += [SourceBatch(symbol, rejects=rs) for symbol, rs in rejects.items()]
        out += [JsonRecords(symbol, items) for symbol, items in records.items()]
        return out

    return decode


def _joined(batches: list[TickBatch]) -> list[TickBatch]:
    """Consecutive batches of one instrument and source concatenated, order kept."""
    runs: list[list[TickBatch]] = []
    for b in batches:
        last = runs[-1][-1] if runs else None
        if last is not None and last.instrument == b.instrument and last.source == b.source:
            runs[-1].append(b)
        else:
            runs.append([b])
    return [TickBatch.concat(r) for r in runs]


class _Normalize(StatefulBatchLogic[JsonRecords, SourceBatch, bytes]):
    """The ``normalize`` step of one symbol: a thin shell over ``Normalizer``.

    Its snapshot is the pickled normalizer (a Binance book is a few thousand
    levels), an immutable copy taken once per epoch.
    """

    def __init__(self, levels: int, resume: bytes | None) -> None:
        self.levels = levels
        self.state: Normalizer | None = None if resume is None else pickle.loads(resume)

    def on_batch(self, values: list[JsonRecords]) -> tuple[list[SourceBatch], bool]:
        if self.state is None:
            self.state = Normalizer(values[0].symbol, self.levels)
        ticks, rejects = self.state.update(item for v in values for item in v.items)
        if ticks is None and not rejects:
            return [], StatefulBatchLogic.RETAIN
        return [SourceBatch(self.state.symbol, ticks, rejects)], StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


def ticks_in(raw: Stream[Any], settings: Settings) -> KeyedStream[SourceBatch]:
    """``ticks.raw`` messages -> ``SourceBatch``es keyed by symbol, ready for ``trading_steps``."""
    decoded = op.flat_map_batch("decode", raw, decoder(frozenset(settings.kafka.symbols)))
    split = op.branch("split_json", decoded, lambda x: isinstance(x, JsonRecords))
    binary = key_by_symbol(split.falses)
    json_in = op.key_on("json_by_symbol", split.trues, lambda r: r.symbol)
    levels = settings.replay.levels or 10
    normalized = op.stateful_batch("normalize", json_in, lambda resume: _Normalize(levels, resume))
    return op.merge("ticks_in", binary, normalized)


def decode_control(msg: Any) -> RiskReset | Reject:
    """A ``risk.control`` message -> a ``RiskReset``, or a reject for the dead-letter topic."""
    if isinstance(msg, KafkaError):
        return _refuse("?", msg.msg, RejectReason.MALFORMED_MESSAGE, f"consumer error: {msg.err}")
    try:
        return RiskReset.from_json(msg.value or b"")
    except ValueError as e:
        return _refuse("?", msg, RejectReason.MALFORMED_MESSAGE, f"risk.control: {e}")


MESSAGE_BYTES = 512 * 1024
"""Largest Arrow payload of one output message (Kafka's own limit is 1 MiB): a backlog
read in one go makes big batches, which go out in several messages."""


def _kafka_out(kind: str, to_arrow) -> Any:
    def encode(item: tuple[str, Any]) -> list[KafkaSinkMessage]:
        symbol, value = item
        table = to_arrow(symbol, value)
        if table is None or table.num_rows == 0:
            return []
        # ``get_total_buffer_size``: an upper bound at ~1 µs (``nbytes`` is exact at ~75)
        rows = max(1, MESSAGE_BYTES * table.num_rows // max(table.get_total_buffer_size(), 1))
        key = symbol.encode()
        return [
            KafkaSinkMessage(key, wire.encode_table(kind, table.slice(i, rows)))
            for i in range(0, table.num_rows, rows)
        ]

    return encode


def _deadletter(item: tuple[str, list[Reject]]) -> Iterable[KafkaSinkMessage]:
    symbol, rejects = item
    for r in rejects:
        body = {
            "v": 1,
            "symbol": r.symbol,
            "source": r.source,
            "line": r.line,
            "reason": r.reason,
            "detail": r.detail,
            "ts_event": r.ts_event,
        }
        yield KafkaSinkMessage(
            symbol.encode(), json.dumps(body).encode(), headers=[("reason", r.reason.encode())]
        )


def build_live_flow(
    settings: Settings | None = None,
    from_beginning: bool = False,
    until_idle_s: float | None = None,
    recoverable: bool = False,
) -> Dataflow:
    """The live dataflow; prepares the PostgreSQL schema (idempotent) before it starts.

    ``recoverable``: run with Bytewax recovery, so its Kafka sinks flush at each epoch's
    end (``RecoverableKafkaSink``); without, they never wait on the broker.

    QuestDB is written by the archiver (``dataflows.archive``) from the
    ``ticks``, ``features`` and ``predictions`` topics, never from here.
    """
    settings = settings or Settings()
    migrate(settings.postgres.dsn)
    # pyarrow imports pandas on its first ``pa.array`` of NumPy data (~1.3 s here): at
    # start-up, not on the first tick the output tables are made for.
    pa.array(np.zeros(1))
    flow = Dataflow("live")
    clock = None if until_idle_s is None else IdleClock(until_idle_s)
    raw = op.input("kafka_in", flow, TicksSource(settings, from_beginning, clock))
    control = op.input("control_in", flow, ControlSource(settings, from_beginning, clock))
    decoded = op.map("control_decode", control, decode_control)
    split = op.branch("control_ok", decoded, lambda x: isinstance(x, RiskReset))
    bad_control = op.map("control_rejects", split.falses, lambda r: (r.symbol, [r]))
    tracer = dataflow_tracer(settings.tracing.otlp_endpoint, settings.tracing.service)
    out = trading_steps(
        ticks_in(raw, settings),
        settings,
        frozenset(settings.kafka.symbols),
        split.trues,
        settings.kafka.merge_wait_ms,
        tracer,
    )

    brokers = [settings.kafka.bootstrap]
    # Outputs that traders wait for go out at once; bulk topics may wait 5 ms to batch.
    urgent = {"enable.idempotence": "true", "linger.ms": "0"}
    bulk = {"enable.idempotence": "true", "linger.ms": "5"}

    def kafka_out(name: str, msgs, topic: str, config) -> None:
        if recoverable:
            keyed = op.key_on(f"{name}_one_producer", msgs, lambda _: "0")
            op.output(f"{name}_kafka", keyed, RecoverableKafkaSink(brokers, topic, config))
        else:
            op.output(f"{name}_kafka", msgs, AsyncKafkaSink(brokers, topic, config))

    def to_kafka(name: str, stream, topic: str, kind: str, to_arrow, config) -> None:
        kafka_out(
            name, op.flat_map(f"{name}_encode", stream, _kafka_out(kind, to_arrow)), topic, config
        )

    to_kafka("ticks", out.ticks, topics.TICKS, "ticks", ticks_table, bulk)
    to_kafka("book", out.ticks, topics.BOOK, "book", book_table, bulk)
    to_kafka("features", out.features, topics.FEATURES, "features", features_table, bulk)
    to_kafka(
        "predictions", out.predictions, topics.PREDICTIONS, "predictions", predictions_table, bulk
    )
    to_kafka("orders", out.orders, topics.ORDERS, "orders", orders_table, urgent)
    to_kafka("fills", out.fills, topics.FILLS, "fills", fills_table, urgent)
    to_kafka("alerts", out.alerts, topics.ALERTS, "alerts", alerts_table, urgent)
    rejects = op.merge("all_rejects", out.rejects, bad_control)
    dead = op.flat_map("deadletter_encode", rejects, _deadletter)
    kafka_out("deadletter", dead, topics.TICKS_DEADLETTER, bulk)

    trading = op.merge("orders_and_fills", out.orders, out.fills, out.alerts)
    op.output("trading_postgres", trading, PostgresSink(settings.postgres.dsn))
    hot = op.merge("hot_values", out.features, out.predictions, out.fills)
    op.output("hot_redis", hot, RedisSink(settings.redis.url))
    add_drift(out.features, settings.drift, settings.cache_dir)  # only with a reference
    if settings.feast.push:
        from dataflows.stores.feast import FeastPushSink

        op.output("features_feast", out.features, FeastPushSink(settings))
    # What start-up made (modules, models, kernels) lives as long as the process: out of
    # the collector's sight, a full collection no longer walks it (worker pauses of
    # 110-190 ms at 50 K ticks/s here).
    gc.collect()
    gc.freeze()
    return flow


def flow() -> Dataflow:
    """``python -m bytewax.run dataflows.live:flow``: settings from the environment (give
    bytewax.run ``-r DIR -s SECONDS`` for recovery: its Kafka sinks flush at each epoch's
    end unless ``FLOWSENSE_RECOVERY__ENABLED=false``)."""
    settings = Settings()
    return build_live_flow(settings, recoverable=settings.recovery.enabled)
