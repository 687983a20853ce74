"""Publish real data to ``ticks.raw``: what an outside feed handler would do, from files.

Each Kafka message is one batch of ticks of one symbol in the internal binary
format, keyed by symbol (so a symbol always lands in the same partition, in
order). Batches of all symbols go out in event-time order of their first
tick, at a given rate of ticks per second or as fast as the broker takes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from confluent_kafka import Producer

from dataflows.readers import discover, group_feeds, read_feed
from schemas import topics, wire
from schemas.market import TickBatch


def batches(
    path: Path, batch_rows: int, levels: int | None, cache_dir: Path | None
) -> list[TickBatch]:
    """Every symbol's ticks in ``path``, cut into batches, ordered by their first event time."""
    out = []
    for feeds in group_feeds(discover(path)).values():
        for feed in feeds:
            for data in read_feed(feed, levels, cache_dir):
                out.extend(data.ticks.split(batch_rows))
    out.sort(key=lambda b: int(b.ts_event[0]) if len(b) else 0)
    return out


def paced(
    items: list[TickBatch], rate: float | None, clock=time.monotonic, sleep=time.sleep
) -> Iterator[TickBatch]:
    """Yield batches no faster than ``rate`` ticks per second (``None``: at once)."""
    start, sent = clock(), 0
    for b in items:
        if rate is not None:
            wait = start + sent / rate - clock()
            if wait > 0:
                sleep(wait)
        yield b
        sent += len(b)


def publish(
    bootstrap: str,
    items: list[TickBatch],
    rate: float | None = None,
    topic: str = topics.TICKS_RAW,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce the batches; the number of ticks sent (every message acknowledged)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": 16 * 1024 * 1024,
        }
    )
    failed: list[str] = []

    def delivered(err, msg) -> None:
        if err is not None:
            failed.append(str(err))

    sent = 0
    for b in paced(items, rate):
        while True:
            try:
                producer.produce(
                    topic, wire.encode_ticks(b), b.symbol.encode(), on_delivery=delivered
                )
                break
            except BufferError:  # local queue full: let it drain
                producer.poll(0.05)
        producer.poll(0)
        sent += len(b)
        if progress is not None:
            progress(len(b))
    remaining = producer.flush(60)
    if remaining or failed:
        raise RuntimeError(
            f"Kafka did not acknowledge {remaining + len(failed)} messages: {failed[:1]}"
        )
    return sent
