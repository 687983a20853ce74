"""Redis: hot values for the serving layer, each with the TTL of the seed.

``tick:{symbol}`` (100 ms) the latest book and mid, ``pred:{symbol}`` (1 s)
the latest prediction, both JSON; ``pos:{user}`` (5 s) a hash of the user's
position by symbol (a hash, so that workers owning different symbols each
set their own fields). Stale keys expire on their own, so a reader never
mistakes an old value for a live one.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from typing import Any

import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows.stores.postgres import SYSTEM_USER
from schemas.features import FeatureBatch
from schemas.trading import OrderFilled, PredictionBatch

log = logging.getLogger("flowsense.redis")

TTL_MS = {"tick": 100, "pred": 1_000, "pos": 5_000}
TICK_FIELDS = (
    "ts_event",
    "seq",
    "bid_px",
    "bid_sz",
    "ask_px",
    "ask_sz",
    "mid",
    "microprice",
    "ofi",
)


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def tick_value(batch: FeatureBatch) -> dict[str, Any]:
    return {"symbol": batch.symbol} | {k: _clean(batch[k][-1].item()) for k in TICK_FIELDS}


def prediction_value(batch: PredictionBatch) -> dict[str, Any]:
    c = batch.columns
    return {
        "symbol": batch.symbol,
        "model": batch.model,
        "timestamp": int(c["ts_event"][-1]),
        "direction": int(c["direction"][-1]),
        "confidence": float(c["confidence"][-1]),
    }


class _Partition(StatelessSinkPartition[tuple[str, Any]]):
    """Latest values to Redis from a thread of its own: the flow hands them over and goes
    on (a Redis round trip per batch was the slowest part of the trading path); what
    piles up while a write is on the wire is coalesced, newest wins, as a reader of
    these keys only ever wants the newest."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.dropped = 0
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.latest: dict[str, tuple[str, dict[str, Any]]] = {}
        self.positions: dict[str, float] = {}
        self.closing = False
        self.thread = threading.Thread(target=self._run, name="redis-sink", daemon=True)
        self.thread.start()

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        latest: dict[str, tuple[str, dict[str, Any]]] = {}
        positions: dict[str, float] = {}
        for symbol, value in items:
            if isinstance(value, FeatureBatch) and len(value):
                latest[f"tick:{symbol}"] = ("tick", tick_value(value))
            elif isinstance(value, PredictionBatch) and len(value):
                latest[f"pred:{symbol}"] = ("pred", prediction_value(value))
            elif isinstance(value, list) and value and isinstance(value[-1], OrderFilled):
                positions[symbol] = value[-1].position_after
        if latest or positions:
            with self.lock:
                self.latest.update(latest)
                self.positions.update(positions)
            self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            with self.lock:
                latest, self.latest = self.latest, {}
                positions, self.positions = self.positions, {}
            if latest or positions:
                self._write(latest, positions)
            if self.closing and not self.latest and not self.positions:
                return

    def _write(self, latest: dict, positions: dict[str, float]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, (kind, value) in latest.items():
            pipe.set(key, json.dumps(value), px=TTL_MS[kind])
        if positions:
            key = f"pos:{SYSTEM_USER}"
            pipe.hset(key, mapping=positions)
            pipe.pexpire(key, TTL_MS["pos"])
        try:
            pipe.execute()
        except redis.RedisError as e:  # hot values with TTLs: the next write replaces them
            self.dropped += 1
            log.warning("Redis unreachable (%s): latest values not updated (%d times)", e,
                        self.dropped)  # fmt: skip

    def close(self) -> None:
        self.closing = True
        self.wake.set()
        self.thread.join(10)
        self.client.close()


class RedisSink(DynamicSink[tuple[str, Any]]):
    """Features, predictions and fills (merged or not) -> the latest values in Redis."""

    def __init__(self, url: str) -> None:
        self.url = url

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.url)
