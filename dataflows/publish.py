"""Publish real data to ``ticks.raw``: what an outside feed handler would do, from files.

Two forms (``flowsense publish --format``):

- ``binary`` (default): each Kafka message is one batch of ticks of one symbol
  in the internal binary format, keyed by symbol (so a symbol always lands in
  the same partition, in order). Batches of all symbols go out in event-time
  order of their first tick, at a rate of ticks per second or as fast as the
  broker takes them.
- ``json``: the raw lines of Binance captures, one Kafka message per line,
  exactly as the venue sent them (the JSON edge of the live flow). The key is
  the line's stream symbol (``ETHUSDT`` of ``ethusdt@depth@100ms``; a REST
  snapshot, which names no stream, takes the file's one stream symbol), the
  Kafka header ``ts_recv`` the capture's receive time in ns, which the live
  flow uses as ``ts_event`` as the file reader does. The captures of one
  stream go out in file-name order (a book carries across midnight), the
  streams merged by receive time; the rate counts messages.
"""

from __future__ import annotations

import gzip
import heapq
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

from confluent_kafka import Producer

from dataflows.readers import discover, group_feeds, read_feed
from schemas import topics, wire
from schemas.market import TickBatch

T = TypeVar("T")
TS_RECV_HEADER = "ts_recv"
"""Kafka header of a JSON message: the capture's receive time, int ns as ASCII digits."""
_STREAM_SYMBOL = re.compile(rb'"stream"\s*:\s*"([^"@]+)@')


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


class RawMessage(NamedTuple):
    """One capture line as a Kafka message: key, value and receive time (None: no stamp)."""

    ts_recv: int | None
    key: bytes
    value: bytes


def capture_messages(paths: Iterable[Path]) -> Iterator[RawMessage]:
    """The non-blank lines of the captures of one stream, read in the order given.

    A line is ``<receive ns> <json>``; one without the stamp goes out whole
    as its value (the live flow refuses it, as the file reader does).
    """
    for path in paths:
        text = gzip.decompress(path.read_bytes())
        names = {m.upper() for m in _STREAM_SYMBOL.findall(text)}
        file_key = names.pop() if len(names) == 1 else b""
        for line in text.split(b"\n"):
            if not line or line.isspace():
                continue
            stamp, _, payload = line.partition(b" ")
            if not stamp.isdigit():
                yield RawMessage(None, file_key, line)
                continue
            m = _STREAM_SYMBOL.search(payload, 0, 200)
            yield RawMessage(int(stamp), m[1].upper() if m else file_key, payload)


def _in_time_order(stream: Iterator[RawMessage]) -> Iterator[tuple[int, RawMessage]]:
    """(sort time, message): a line without a stamp keeps its place after the one before it."""
    last = 0
    for m in stream:
        last = last if m.ts_recv is None else m.ts_recv
        yield last, m


def json_messages(path: Path) -> list[RawMessage]:
    """Every Binance capture line in ``path`` (a file or folder), streams merged by receive time."""
    feeds = discover(path)
    other = [f.name for f in feeds if f.kind != "binance"]
    if other:
        raise ValueError(f"the JSON form publishes Binance captures only, not {', '.join(other)}")
    streams = [_in_time_order(capture_messages(f.paths)) for f in feeds]
    return [m for _, m in heapq.merge(*streams, key=lambda tm: tm[0])]


def paced(
    items: list[T],
    rate: float | None,
    clock=time.monotonic,
    sleep=time.sleep,
    size: Callable[[T], int] = len,
) -> Iterator[T]:
    """Yield items no faster than ``rate`` units (``size`` each) per second (``None``: at once)."""
    start, sent = clock(), 0
    for b in items:
        if rate is not None:
            wait = start + sent / rate - clock()
            if wait > 0:
                sleep(wait)
        yield b
        sent += size(b)


def _produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, bytes, list[tuple[str, bytes]] | None, int]],
    progress: Callable[[int], None] | None,
) -> int:
    """Produce ``(value, key, headers, count)`` messages; the sum of their counts.

    Every message is acknowledged before this returns, else ``RuntimeError``.
    """
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
    for value, key, headers, count in messages:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers, on_delivery=delivered)
                break
            except BufferError:  # local queue full: let it drain
                producer.poll(0.05)
        producer.poll(0)
        sent += count
        if progress is not None:
            progress(count)
    remaining = producer.flush(60)
    if remaining or failed:
        raise RuntimeError(
            f"Kafka did not acknowledge {remaining + len(failed)} messages: {failed[:1]}"
        )
    return sent


def publish(
    bootstrap: str,
    items: list[TickBatch],
    rate: float | None = None,
    topic: str = topics.TICKS_RAW,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce the batches; the number of ticks sent (every message acknowledged)."""
    messages = ((wire.encode_ticks(b), b.symbol.encode(), None, len(b)) for b in paced(items, rate))
    return _produce(bootstrap, topic, messages, progress)


def publish_json(
    bootstrap: str,
    items: list[RawMessage],
    rate: float | None = None,
    topic: str = topics.TICKS_RAW,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce capture lines as JSON messages (``rate`` per second); the number sent."""
    messages = (
        (
            m.value,
            m.key,
            None if m.ts_recv is None else [(TS_RECV_HEADER, b"%d" % m.ts_recv)],
            1,
        )
        for m in paced(items, rate, size=lambda _: 1)
    )
    return _produce(bootstrap, topic, messages, progress)
