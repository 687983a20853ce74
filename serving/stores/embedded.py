"""The embedded store: the newest rows of a replay running in this process, in memory.

The replay's Parquet sinks call ``record(table, symbol, arrow_table)`` for
every batch (the ``LatestValues`` hook of ``dataflows.replay``); this keeps
the newest ``keep`` rows of each table and symbol, and hands each batch to
the listeners (the Socket.IO fan-out). Thread-safe: Bytewax workers write,
the event loop reads.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from serving.stores import Row, prediction_row

Listener = Callable[[str, str, pa.Table], None]


def _clean(row: Row) -> Row:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


@dataclass
class EmbeddedStore:
    """Also what ``dataflows.replay`` calls its ``latest`` (``record``/``latest``/``count``,
    as ``dataflows.sinks.LatestValues``), without importing the dataflows here."""

    keep: int = 2_000
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    listeners: list[Listener] = field(default_factory=list)
    recent: dict[tuple[str, str], deque[Row]] = field(default_factory=dict)
    kind: str = "embedded"
    done: threading.Event = field(default_factory=threading.Event)
    """Set when the replay feeding this store has ended."""

    def record(self, table: str, symbol: str, data: pa.Table) -> None:
        n = data.num_rows
        tail = [_clean(r) for r in data.slice(max(0, n - self.keep)).to_pylist()]
        with self._lock:
            self.rows.setdefault(table, {})[symbol] = tail[-1]
            self.counts[table] += n
            rows = self.recent.get((table, symbol))
            if rows is None:
                rows = self.recent[(table, symbol)] = deque(maxlen=self.keep)
            rows.extend(tail)
        for listener in self.listeners:
            listener(table, symbol, data)

    def latest(self, table: str, symbol: str) -> Row | None:
        with self._lock:
            return self.rows.get(table, {}).get(symbol)

    def count(self, table: str) -> int:
        with self._lock:
            return self.counts[table]

    def _recent(self, table: str, symbol: str, limit: int) -> list[Row]:
        with self._lock:
            rows = self.recent.get((table, symbol))
            return list(rows)[-limit:][::-1] if rows else []

    def symbols(self, table: str) -> list[str]:
        with self._lock:
            return sorted(s for t, s in self.recent if t == table)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def health(self) -> dict[str, Row]:
        state = "replay finished" if self.done.is_set() else "replay running"
        return {"embedded": {"ok": True, "detail": state, "ms": 0.0}}

    async def latest_prediction(self, symbol: str) -> Row | None:
        r = self.latest("predictions", symbol)
        if r is None:
            return None
        p = prediction_row(r)
        p.pop("seq")
        return p | {"live": not self.done.is_set()}

    async def predictions(
        self, symbols: list[str] | None, models: list[str] | None, limit: int
    ) -> list[Row]:
        rows: list[Row] = []
        for symbol in symbols or self.symbols("predictions"):
            rows += [
                r
                for r in self._recent("predictions", symbol, self.keep)
                if not models or r["model"] in models
            ]
        rows.sort(key=lambda r: (-r["ts_event"], r["symbol"], -r["seq"]))
        return [prediction_row(r) for r in rows[:limit]]

    async def latest_tick(self, symbol: str) -> Row | None:
        r = self.latest("features", symbol)
        return None if r is None else r | {"live": not self.done.is_set()}

    async def ticks(self, symbol: str, limit: int) -> list[Row]:
        cols = ("ts_event", "symbol", "seq", "flags", "bid_px", "bid_sz", "ask_px", "ask_sz")
        return [{k: r.get(k) for k in cols} for r in self._recent("features", symbol, limit)]

    async def features(self, symbol: str, limit: int) -> list[Row]:
        return self._recent("features", symbol, limit)

    async def bars(self, symbol: str, interval_s: int, limit: int) -> list[Row]:
        """The replay's own bars (``replay.bar_s``): close, OFI, events and traded volume; no
        open/high/low."""
        return [
            {
                "ts_event": r["ts_event"],
                "symbol": r["symbol"],
                "open": None,
                "high": None,
                "low": None,
                "close": r.get("mid"),
                "ofi": r.get("ofi"),
                "n_events": r.get("n_events"),
                "volume": r.get("volume"),
            }
            for r in self._recent("bars", symbol, limit)
        ]

    async def positions(self, user_id: int) -> dict[str, float]:
        """The replay trades for one account: every caller sees its positions."""
        with self._lock:
            fills = self.rows.get("fills", {})
            return {s: float(r["position_after"]) for s, r in sorted(fills.items())}

    async def alerts(self, limit: int) -> list[Row]:
        cols = ("ts_event", "symbol", "alert_id", "severity", "name", "message")
        rows = [r for s in self.symbols("alerts") for r in self._recent("alerts", s, limit)]
        rows.sort(key=lambda r: (-r["ts_event"], r["alert_id"]))
        return [{k: r.get(k) for k in cols} for r in rows[:limit]]
