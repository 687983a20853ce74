"""Socket.IO fan-out of the dataflow's outputs, throttled per room.

Rooms: ``ticks.{SYMBOL}``, ``features.{SYMBOL}``, ``predictions.{SYMBOL}``
(the newest row, coalesced: at most ``serve.room_rate_hz`` messages a second
to a room, however fast the flow runs; a tick row also carries ``bids`` and
``asks``, the newest book to 10 levels as ``[price, size]`` pairs best first,
from the ``book`` table: the embedded replay's, or the live flow's ``book``
topic; the dashboard's ladder), ``orders`` and ``alerts`` (every row,
sent in lists at the same pace, at most ``MAX_LIST`` rows a message; the
oldest beyond that are dropped and counted). The event name is the room's
kind and the data ``{"room": ..., "data": row or [rows]}``.

Tables come from any thread (``publish``): the Kafka consumer thread
(``KafkaFeed``) on the servers, or the replay's sinks embedded; a task on the
event loop sends what is pending.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
from typing import Any

import pyarrow as pa

from flowsense.settings import Settings
from schemas import topics, wire
from serving.metrics import Metrics

log = logging.getLogger("flowsense.serving.fanout")

ROOM_KINDS = ("ticks", "features", "predictions", "orders", "alerts")
PER_SYMBOL = ("ticks", "features", "predictions")
MAX_LIST = 500
TICK_FIELDS = ("ts_event", "symbol", "seq", "bid_px", "bid_sz", "ask_px", "ask_sz", "mid")


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def valid_room(room: Any) -> bool:
    if not isinstance(room, str) or len(room) > 64:
        return False
    kind, _, symbol = room.partition(".")
    if kind in PER_SYMBOL:
        return bool(symbol) and all(c.isalnum() or c in "-_." for c in symbol)
    return kind in ("orders", "alerts") and not symbol


class Fanout:
    def __init__(self, sio: Any, rate_hz: float, metrics: Metrics) -> None:
        self.sio = sio
        self.period = 1.0 / rate_hz
        self.metrics = metrics
        self.lock = threading.Lock()
        self.latest: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.dropped = 0
        self.books: dict[str, dict[str, Any]] = {}

    def publish(self, kind: str, symbol: str, table: pa.Table) -> None:
        """One output table of the dataflow (any thread)."""
        n = table.num_rows
        if n == 0:
            return
        if kind == "book":
            last = table.slice(n - 1).to_pylist()[0]
            book = {"bids": last["bids"], "asks": last["asks"]}
            with self.lock:
                self.books[symbol] = book
                tick = self.latest.get(f"ticks.{symbol}")
                if tick is not None:
                    tick.update(book)
        elif kind in ("features", "predictions"):
            row = _clean(table.slice(n - 1).to_pylist()[0])
            with self.lock:
                self.latest[f"{kind}.{symbol}"] = row
                if kind == "features":
                    tick = {k: row.get(k) for k in TICK_FIELDS}
                    self.latest[f"ticks.{symbol}"] = tick | self.books.get(symbol, {})
        elif kind in ("orders", "fills", "alerts"):
            room = "alerts" if kind == "alerts" else "orders"
            rows = [
                _clean(r) | {"type": kind} for r in table.slice(max(0, n - MAX_LIST)).to_pylist()
            ]
            with self.lock:
                pending = self.lists.setdefault(room, [])
                pending.extend(rows)
                if len(pending) > MAX_LIST:
                    self.dropped += len(pending) - MAX_LIST
                    del pending[: len(pending) - MAX_LIST]

    def _occupied(self, room: str) -> bool:
        return bool(self.sio.manager.rooms.get("/", {}).get(room))

    async def run(self) -> None:
        """Send what is pending, once a period, to the rooms that have members."""
        while True:
            started = time.monotonic()
            with self.lock:
                latest, self.latest = self.latest, {}
                lists, self.lists = self.lists, {}
            for room, data in [*latest.items(), *lists.items()]:
                if self._occupied(room):
                    kind = room.partition(".")[0]
                    await self.sio.emit(kind, {"room": room, "data": data}, room=room)
                    self.metrics.socket_messages.labels(kind).inc()
            await asyncio.sleep(max(0.0, self.period - (time.monotonic() - started)))


OUTPUT_TOPICS = (
    topics.FEATURES,
    topics.PREDICTIONS,
    topics.ORDERS,
    topics.FILLS,
    topics.ALERTS,
    topics.BOOK,
)


class KafkaFeed:
    """A thread that consumes the output topics from their end and feeds the fan-out
    and the output metrics. Its own consumer group, so every API process sees all."""

    def __init__(self, settings: Settings, fanout: Fanout, metrics: Metrics) -> None:
        self.settings = settings
        self.fanout = fanout
        self.metrics = metrics
        self.stop = threading.Event()
        self.assigned = threading.Event()
        self.error: str | None = None
        self.bad_messages = 0
        self.thread = threading.Thread(target=self._run, name="kafka-fanout", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def health(self) -> dict[str, Any]:
        ok = self.assigned.is_set() and self.error is None
        detail = "consuming" if ok else (self.error or "joining the output topics")
        return {"ok": ok, "detail": detail, "ms": 0.0}

    def _run(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        c = Consumer(
            {
                "bootstrap.servers": self.settings.kafka.bootstrap,
                "group.id": f"flowsense-serve-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "latest",
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        c.subscribe(list(OUTPUT_TOPICS), on_assign=lambda *_: self.assigned.set())
        last_lag = 0.0
        try:
            while not self.stop.is_set():
                try:
                    msgs = c.consume(1000, timeout=0.2)
                    self.error = None
                except KafkaException as e:
                    self.error = str(e)
                    time.sleep(1)
                    continue
                for m in msgs:
                    if m.error():
                        continue
                    try:
                        kind, table = wire.decode_table(m.value())
                    except wire.WireError:
                        self.bad_messages += 1
                        continue
                    symbol = (m.key() or b"").decode("utf-8", "replace")
                    kind = str(kind)
                    self.fanout.publish(kind, symbol, table)
                    ts_type, ts_ms = m.timestamp()
                    self.metrics.outputs.on_table(kind, table, ts_ms if ts_type else None)
                if time.monotonic() - last_lag > 5:
                    last_lag = time.monotonic()
                    self._lag(c)
        finally:
            c.close()

    def _lag(self, c: Any) -> None:
        lag: dict[str, int] = {}
        try:
            for tp in c.position(c.assignment()):
                _, high = c.get_watermark_offsets(tp, timeout=1, cached=False)
                behind = high - tp.offset if tp.offset >= 0 else 0
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, behind)
        except Exception as e:  # a metric, never a crash of the feed
            log.warning("kafka lag: %s", e)
            return
        for topic, n in lag.items():
            self.metrics.kafka_lag.labels(topic).set(n)
