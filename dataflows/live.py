"""The live dataflow: Kafka ``ticks.raw`` -> the trading steps -> Kafka, QuestDB, PostgreSQL, Redis.

Run it with ``flowsense live`` or ``python -m bytewax.run dataflows.live:flow``
(any ``-w`` worker count; settings from ``FLOWSENSE_*``). Each Kafka message
of ``ticks.raw`` is one batch of ticks of one symbol in the internal binary
format (``schemas.wire``), keyed by symbol; a message that does not decode is
dead-lettered to ``ticks.deadletter`` with its reason and raw bytes, counted,
and the worker goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from dataflows.steps import SourceBatch, key_by_symbol, trading_steps
from dataflows.stores.postgres import PostgresSink, migrate
from dataflows.stores.questdb import QuestDBSink, create_tables
from dataflows.stores.redis import RedisSink
from dataflows.tables import (
    features_table,
    fills_table,
    orders_table,
    predictions_table,
    ticks_table,
)
from flowsense.settings import Settings
from schemas import topics, wire
from schemas.market import Reject, RejectReason


class _IdlePartition(StatefulSourcePartition):
    """A Kafka partition that ends after ``idle_s`` seconds without a message."""

    def __init__(self, inner: StatefulSourcePartition, idle_s: float) -> None:
        self.inner, self.idle_s = inner, idle_s
        self.last = time.monotonic()

    def next_batch(self) -> list[Any]:
        batch = self.inner.next_batch()
        now = time.monotonic()
        if batch:
            self.last = now
        elif now - self.last > self.idle_s:
            raise StopIteration
        return batch

    def next_awake(self) -> datetime | None:
        return self.inner.next_awake()

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class TicksSource(KafkaSource):
    """Bytewax's Kafka source over ``ticks.raw``, optionally ending when idle."""

    def __init__(
        self, settings: Settings, from_beginning: bool, until_idle_s: float | None
    ) -> None:
        super().__init__(
            brokers=[settings.kafka.bootstrap],
            topics=[topics.TICKS_RAW],
            tail=True,
            starting_offset=OFFSET_BEGINNING if from_beginning else OFFSET_END,
            batch_size=1000,
            raise_on_errors=False,
        )
        self.until_idle_s = until_idle_s

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> StatefulSourcePartition:
        part = super().build_part(step_id, for_part, resume_state)
        return part if self.until_idle_s is None else _IdlePartition(part, self.until_idle_s)


def decode(msg: Any) -> SourceBatch:
    """One ``ticks.raw`` message -> ticks of one symbol, or a reject carrying the raw bytes."""
    where = f"{getattr(msg, 'topic', topics.TICKS_RAW)}/{getattr(msg, 'partition', '?')}"
    offset = getattr(msg, "offset", 0) or 0
    if not isinstance(msg, KafkaSourceMessage):  # a KafkaError from the consumer
        return SourceBatch(
            "?",
            rejects=[
                Reject(
                    "?",
                    where,
                    offset,
                    RejectReason.MALFORMED_MESSAGE.value,
                    f"consumer error: {msg.err}",
                )
            ],
        )
    key = (msg.key or b"?").decode("utf-8", "replace")
    try:
        ticks = wire.decode_ticks(msg.value or b"")
    except ValueError as e:
        raw = (msg.value or b"")[:4096].hex()
        return SourceBatch(
            key,
            rejects=[
                Reject(
                    key, where, offset, RejectReason.MALFORMED_MESSAGE.value, f"{e}; raw[hex]={raw}"
                )
            ],
        )
    return SourceBatch(ticks.symbol, ticks=ticks)


def _kafka_out(kind: str, to_arrow) -> Any:
    def encode(item: tuple[str, Any]) -> KafkaSinkMessage | None:
        symbol, value = item
        table = to_arrow(symbol, value)
        if table is None or table.num_rows == 0:
            return None
        return KafkaSinkMessage(symbol.encode(), wire.encode_table(kind, table))

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
) -> Dataflow:
    """The live dataflow; prepares the stores' schemas (idempotent) before it starts."""
    settings = settings or Settings()
    migrate(settings.postgres.dsn)
    create_tables(settings.questdb)
    flow = Dataflow("live")
    raw = op.input("kafka_in", flow, TicksSource(settings, from_beginning, until_idle_s))
    out = trading_steps(key_by_symbol(op.map("decode", raw, decode)), settings)

    brokers = [settings.kafka.bootstrap]
    producer = {"enable.idempotence": "true", "linger.ms": "5"}

    def to_kafka(name: str, stream, topic: str, kind: str, to_arrow) -> None:
        msgs = op.filter_map(f"{name}_encode", stream, _kafka_out(kind, to_arrow))
        op.output(f"{name}_kafka", msgs, KafkaSink(brokers, topic, add_config=producer))

    to_kafka("features", out.features, topics.FEATURES, "features", features_table)
    to_kafka("predictions", out.predictions, topics.PREDICTIONS, "predictions", predictions_table)
    to_kafka("orders", out.orders, topics.ORDERS, "orders", orders_table)
    to_kafka("fills", out.fills, topics.FILLS, "fills", fills_table)
    dead = op.flat_map("deadletter_encode", out.rejects, _deadletter)
    op.output(
        "deadletter_kafka", dead, KafkaSink(brokers, topics.TICKS_DEADLETTER, add_config=producer)
    )

    qdb = settings.questdb
    op.output("ticks_questdb", out.ticks, QuestDBSink(qdb, "ticks", ticks_table))
    op.output("features_questdb", out.features, QuestDBSink(qdb, "features", features_table))
    op.output(
        "predictions_questdb", out.predictions, QuestDBSink(qdb, "predictions", predictions_table)
    )
    trading = op.merge("orders_and_fills", out.orders, out.fills)
    op.output("trading_postgres", trading, PostgresSink(settings.postgres.dsn))
    hot = op.merge("hot_values", out.features, out.predictions, out.fills)
    op.output("hot_redis", hot, RedisSink(settings.redis.url))
    return flow


def flow() -> Dataflow:
    """``python -m bytewax.run dataflows.live:flow``: settings from the environment."""
    return build_live_flow()
