"""Kafka source and sink of the live flow, tuned for latency on a busy worker.

Bytewax's own connectors (``bytewax.connectors.kafka``) are right in shape
and we keep their message types and partition listing, but two habits of
theirs cost milliseconds on every activation of the worker, measured in
``benchmarks/bench_live.py``:

- the source blocks 1 ms in ``consume`` on every empty partition (with 4
  partitions and 2 symbols, 2 ms of each loop waiting on nothing);
- the sink calls ``flush()`` after every batch, so the worker waits for the
  broker's acknowledgement of each output topic in turn.

Here the source polls without blocking and, when a partition is empty, asks
Bytewax to come back after ``idle_poll_s`` (``next_awake``), so a busy
partition is never held up by an idle one; the sink hands messages to
librdkafka (whose own threads send them) and only waits when its local queue
is full or the flow ends. A delivery failure is raised in the worker at the
next write, never dropped.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.connectors.kafka import (
    KafkaError,
    KafkaSinkMessage,
    KafkaSource,
    KafkaSourceMessage,
)
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows import metrics

Message = KafkaSourceMessage | KafkaError
log = logging.getLogger("flowsense.kafka")


def not_a_message(msg: Any) -> bool:
    """A client-level error (a broker restarting, a lost connection) that librdkafka
    retries by itself, as opposed to a message that could not be read (dead-lettered)."""
    error = msg.error()
    return error is not None and (
        msg.offset() is None or msg.offset() < 0 or error.retriable() or error.code() < 0
    )


class KafkaPartition(StatefulSourcePartition[Message, int]):
    """One Kafka partition, read without blocking; its resume state is the next offset."""

    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        index: int,
        offset: int,
        batch_size: int,
        idle_poll_s: float,
        resumed: bool = False,
    ) -> None:
        self.consumer = Consumer(config)
        self.topic = topic
        if resumed:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, index), timeout=10)
            if offset > high:  # the topic was deleted and made again since the snapshot
                self.consumer.close()
                raise RuntimeError(
                    f"the recovery snapshot resumes {topic}[{index}] at offset {offset}, past "
                    f"its end ({high}): the topic was recreated; start afresh (flowsense live "
                    "--fresh)"
                )
        self.tp = TopicPartition(topic, index, offset)
        self.consumer.assign([self.tp])
        self.lag = metrics.source_lag.labels(topic, str(index))
        self.lag_at = 0.0
        self.offset = offset
        self.batch_size = batch_size
        self.idle = timedelta(seconds=idle_poll_s)
        self.awake: datetime | None = None
        self.eof = False

    def next_batch(self) -> list[Message]:
        if self.eof:
            raise StopIteration
        batch: list[Message] = []
        for msg in self.consumer.consume(self.batch_size, 0):
            error = msg.error()
            if error is not None and error.code() == ConfluentKafkaError._PARTITION_EOF:
                self.eof = True  # emit this batch, stop at the next call
                break
            if error is not None and not_a_message(msg):
                log.warning("Kafka consumer (%s): %s; librdkafka reconnects", self.topic, error)
                continue
            m = KafkaSourceMessage(
                key=msg.key(),
                value=msg.value(),
                topic=msg.topic(),
                headers=msg.headers() or [],
                latency=msg.latency(),
                offset=msg.offset(),
                partition=msg.partition(),
                timestamp=msg.timestamp(),
            )
            batch.append(m if error is None else KafkaError(error, m))
            self.offset = msg.offset() + 1
        self.awake = None if batch else datetime.now(UTC) + self.idle
        if batch and (now := time.monotonic()) - self.lag_at >= metrics.LAG_EVERY_S:
            self.lag_at = now
            self._measure_lag()
        elif not batch:
            self.lag.set(0)
        return batch

    def _measure_lag(self) -> None:
        """High watermark minus the next offset. The watermark librdkafka caches from its
        fetch responses: asking the broker would stall the worker for the round trip (up
        to its 0.5 s time-out when the broker is busy, measured at 50 K ticks/s)."""
        try:
            _, high = self.consumer.get_watermark_offsets(self.tp, cached=True)
        except KafkaException:  # nothing fetched yet: keep the last value
            return
        if high >= 0 and self.offset >= 0:
            self.lag.set(max(0, high - self.offset))

    def next_awake(self) -> datetime | None:
        return self.awake

    def snapshot(self) -> int:
        return self.offset

    def close(self) -> None:
        self.consumer.close()


class LowLatencyKafkaSource(KafkaSource):
    """``KafkaSource`` (same partitions, offsets and messages) with ``KafkaPartition``s."""

    def __init__(self, *args: Any, idle_poll_s: float = 0.0005, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_poll_s = idle_poll_s

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> KafkaPartition:
        idx, topic = for_part.split("-", 1)
        config = {
            "group.id": "BYTEWAX_IGNORED",  # offsets live in the flow's state, not a group
            "enable.auto.commit": "false",
            "bootstrap.servers": ",".join(self._brokers),
            "enable.partition.eof": str(not self._tail),
        } | self._add_config
        offset = self._starting_offset if resume_state is None else resume_state
        return KafkaPartition(
            config,
            topic,
            int(idx),
            offset,
            self._batch_size,
            self.idle_poll_s,
            resumed=resume_state is not None,
        )


class _ProducerPartition(StatelessSinkPartition[KafkaSinkMessage]):
    def __init__(self, config: dict[str, Any], topic: str) -> None:
        # Reports of failed deliveries only: one a message would call into Python ~5 000
        # times a second at 50 K ticks/s for nothing.
        self.producer = Producer(config | {"delivery.report.only.error": True})
        self.topic = topic
        self.failure: str | None = None
        self.capacity = int(config.get("queue.buffering.max.messages", 100_000))
        self.buffer = metrics.sink_buffer_ratio.labels(topic)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None and self.failure is None:
            self.failure = f"Kafka delivery to {msg.topic()} failed: {err}"

    def write_batch(self, items: list[KafkaSinkMessage]) -> None:
        if self.failure:
            raise RuntimeError(self.failure)
        for m in items:
            while True:
                try:
                    self.producer.produce(
                        m.topic or self.topic,
                        value=m.value,
                        key=m.key,
                        headers=m.headers,
                        on_delivery=self._delivered,
                    )
                    break
                except BufferError:  # local queue full: wait for deliveries (back-pressure)
                    self.producer.poll(0.05)
        self.producer.poll(0)
        self.buffer.set(len(self.producer) / self.capacity)

    def close(self) -> None:
        left = self.producer.flush(30)
        if left or self.failure:
            raise RuntimeError(self.failure or f"{left} Kafka messages to {self.topic} unsent")


class AsyncKafkaSink(DynamicSink[KafkaSinkMessage]):
    """Messages -> ``topic`` through librdkafka's queue: the worker never waits on the broker."""

    def __init__(self, brokers: list[str], topic: str, add_config: dict[str, str]) -> None:
        self.config = {"bootstrap.servers": ",".join(brokers)} | add_config
        self.topic = topic

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.config, self.topic)


class _FlushingPartition(_ProducerPartition, StatefulSinkPartition[KafkaSinkMessage, None]):
    """A producer whose snapshot waits for every message handed to it so far."""

    def snapshot(self) -> None:
        left = self.producer.flush(30)
        if left or self.failure:
            raise RuntimeError(self.failure or f"{left} Kafka messages to {self.topic} unsent")


class RecoverableKafkaSink(FixedPartitionedSink[KafkaSinkMessage, None]):
    """``AsyncKafkaSink`` for a flow with recovery: Bytewax snapshots a sink partition at
    the end of every epoch before it commits the epoch, and this one's snapshot flushes
    the producer, so that no message of a committed epoch can still sit in librdkafka's
    queue when the process dies (those of the epoch in flight are sent again on resume:
    at least once, repeats dropped by key downstream). Items are ``(key, message)``; one
    partition, so one producer a topic whatever the worker count."""

    def __init__(self, brokers: list[str], topic: str, add_config: dict[str, str]) -> None:
        self.config = {"bootstrap.servers": ",".join(brokers)} | add_config
        self.topic = topic

    def list_parts(self) -> list[str]:
        return ["0"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _FlushingPartition:
        return _FlushingPartition(self.config, self.topic)
