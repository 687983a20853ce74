"""History replay: a stretch of a Kafka topic through the replay's steps into a run of its own.

``flowsense replay --from-kafka ticks.raw [--start ISO] [--end ISO]`` finds,
in each partition, the first offset at or after ``start`` and the first at
or after ``end`` by the messages' Kafka timestamps (``offsets_for_times``:
when the messages were written, which for a live feed is when the market
sent them), reads exactly the messages in between, decodes them as the live
flow does (binary batches, FlowSense JSON, Binance), and runs the replay's
steps and Parquet sinks over them: the outputs land in a run folder, tagged
with its run id, never in the live tables. The account merges symbols
exactly (no wait), as the file replay does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, TopicPartition

from dataflows.live import ticks_in
from dataflows.replay import replay_sinks
from dataflows.sinks import LatestValues
from dataflows.steps import trading_steps
from flowsense.settings import Settings


@dataclass(frozen=True, slots=True)
class Span:
    """The messages of one partition to read: offsets ``[start, end)``."""

    partition: int
    start: int
    end: int


def spans(bootstrap: str, topic: str, start: datetime | None, end: datetime | None) -> list[Span]:
    """Each partition's offsets between ``start`` and ``end`` (Kafka timestamps; None: the
    topic's first and last message). ``ValueError`` if the topic does not exist."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "flowsense-history"})
    try:
        meta = c.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise ValueError(f"no Kafka topic {topic!r} at {bootstrap}")
        out = []
        for p in sorted(meta.partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)

            def at(when: datetime | None, default: int, p: int = p, high: int = high) -> int:
                if when is None:
                    return default
                ms = int(when.timestamp() * 1000)
                (found,) = c.offsets_for_times([TopicPartition(topic, p, ms)], timeout=10)
                return high if found.offset < 0 else found.offset  # none that late: the end

            first, last = at(start, low), at(end, high)
            if last > first:
                out.append(Span(p, first, last))
        return out
    finally:
        c.close()


class _SpanPartition(StatefulSourcePartition[KafkaSourceMessage, int]):
    """One partition's span, read in batches; ends at the span's end."""

    def __init__(self, bootstrap: str, topic: str, span: Span, resume: int | None) -> None:
        self.next = span.start if resume is None else resume
        self.end = span.end
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "flowsense-history",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign([TopicPartition(topic, span.partition, self.next)])

    def next_batch(self) -> list[KafkaSourceMessage]:
        if self.next >= self.end:
            raise StopIteration
        batch = []
        for msg in self.consumer.consume(1000, 0.5):
            if msg.error() is not None or msg.offset() >= self.end:
                continue
            batch.append(
                KafkaSourceMessage(
                    key=msg.key(),
                    value=msg.value(),
                    topic=msg.topic(),
                    headers=msg.headers() or [],
                    offset=msg.offset(),
                    partition=msg.partition(),
                    timestamp=msg.timestamp(),
                )
            )
            self.next = msg.offset() + 1
        return batch

    def snapshot(self) -> int:
        return self.next

    def close(self) -> None:
        self.consumer.close()


class HistorySource(FixedPartitionedSource[KafkaSourceMessage, int]):
    """The messages of ``spans`` of ``topic``, each partition from its start to its end."""

    def __init__(self, bootstrap: str, topic: str, spans: list[Span]) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.spans = {str(s.partition): s for s in spans}

    def list_parts(self) -> list[str]:
        return list(self.spans)

    def build_part(self, step_id: str, for_part: str, resume: int | None) -> _SpanPartition:
        return _SpanPartition(self.bootstrap, self.topic, self.spans[for_part], resume)


def build_history_flow(
    settings: Settings,
    topic: str,
    spans: list[Span],
    run_dir: Path,
    latest: LatestValues | None = None,
) -> Dataflow:
    """The replay's steps over ``spans`` of ``topic``, writing the run's tables."""
    flow = Dataflow("history")
    raw = op.input("kafka_history", flow, HistorySource(settings.kafka.bootstrap, topic, spans))
    symbols = frozenset(settings.kafka.symbols)
    out = trading_steps(ticks_in(raw, settings), settings, symbols)
    replay_sinks(out, run_dir, latest)
    return flow


def message_count(spans: list[Span]) -> int:
    return sum(s.end - s.start for s in spans)


def describe(spans: list[Span]) -> list[dict[str, Any]]:
    return [{"partition": s.partition, "start": s.start, "end": s.end} for s in spans]
