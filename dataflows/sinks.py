"""Embedded sinks: Parquet tables under a run folder, and the latest values in memory.

Each table is a folder of the run (``features/``, ``bars/``, ``predictions/``,
``orders/``, ``fills/``, ``rejects/``) with one Parquet file per symbol and
worker; read a table back with ``read_table``. Rows are buffered and written
in row groups of ``ROW_GROUP`` rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from bytewax.outputs import DynamicSink, StatelessSinkPartition

ROW_GROUP = 131_072
DICTIONARY = ["symbol", "model", "status", "reason", "source", "rule"]
"""Columns worth dictionary encoding (numeric ones are not: skipping them writes ~40% faster)."""

# A sink item is (symbol, value); ``to_arrow`` turns one value into a table.
ToArrow = Callable[[str, Any], pa.Table | None]


class _ParquetPartition(StatelessSinkPartition[tuple[str, Any]]):
    def __init__(
        self,
        folder: Path,
        worker: int,
        to_arrow: ToArrow,
        on_write: Callable[[str, pa.Table], None] | None,
    ) -> None:
        self._folder = folder
        self._worker = worker
        self._to_arrow = to_arrow
        self._on_write = on_write
        self._pending: dict[str, list[pa.Table]] = {}
        self._rows: Counter[str] = Counter()
        self._writers: dict[str, pq.ParquetWriter] = {}

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        for symbol, value in items:
            table = self._to_arrow(symbol, value)
            if table is None or table.num_rows == 0:
                continue
            self._pending.setdefault(symbol, []).append(table)
            self._rows[symbol] += table.num_rows
            if self._on_write is not None:
                self._on_write(symbol, table)
            if self._rows[symbol] >= ROW_GROUP:
                self._flush(symbol)

    def _flush(self, symbol: str) -> None:
        tables = self._pending.pop(symbol, [])
        self._rows[symbol] = 0
        if not tables:
            return
        table = pa.concat_tables(tables, promote_options="permissive")
        writer = self._writers.get(symbol)
        if writer is None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in symbol)
            path = self._folder / f"{safe}-w{self._worker}.parquet"
            writer = self._writers[symbol] = pq.ParquetWriter(
                path, table.schema, use_dictionary=DICTIONARY, write_statistics=["ts_event"]
            )
        writer.write_table(table.cast(writer.schema))

    def close(self) -> None:
        for symbol in list(self._pending):
            self._flush(symbol)
        for writer in self._writers.values():
            writer.close()


class ParquetSink(DynamicSink[tuple[str, Any]]):
    """Writes a keyed stream to ``folder/<symbol>-w<worker>.parquet``."""

    def __init__(
        self,
        folder: Path,
        to_arrow: ToArrow,
        on_write: Callable[[str, pa.Table], None] | None = None,
    ) -> None:
        self._folder = folder
        self._to_arrow = to_arrow
        self._on_write = on_write

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ParquetPartition:
        self._folder.mkdir(parents=True, exist_ok=True)
        return _ParquetPartition(self._folder, worker_index, self._to_arrow, self._on_write)


class _LatestPartition(StatelessSinkPartition[tuple[str, Any]]):
    def __init__(self, table: str, to_arrow: ToArrow, latest: Any) -> None:
        self._table = table
        self._to_arrow = to_arrow
        self._latest = latest

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        for symbol, value in items:
            table = self._to_arrow(symbol, value)
            if table is not None and table.num_rows:
                self._latest.record(self._table, symbol, table)


class LatestSink(DynamicSink[tuple[str, Any]]):
    """Hands a keyed stream to ``latest.record(table, symbol, arrow)`` only, no file
    (the order book the embedded dashboard shows: not a table of the run)."""

    def __init__(self, table: str, to_arrow: ToArrow, latest: Any) -> None:
        self._table = table
        self._to_arrow = to_arrow
        self._latest = latest

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LatestPartition:
        return _LatestPartition(self._table, self._to_arrow, self._latest)


def read_table(run_dir: Path, table: str) -> pl.DataFrame:
    """One table of a run, every symbol, sorted by symbol and time (empty if none)."""
    files = sorted((run_dir / table).glob("*.parquet"))
    if not files:
        return pl.DataFrame()
    frames = [pl.read_parquet(f) for f in files]
    df = pl.concat(frames, how="diagonal_relaxed")
    keys = [k for k in ("symbol", "ts_event", "seq") if k in df.columns]
    return df.sort(keys, maintain_order=True) if keys else df


@dataclass
class LatestValues:
    """The newest row of each table per symbol and running row counts, for the serving layer.

    Thread-safe: Bytewax workers of one process write, API handlers read.
    """

    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, table: str, symbol: str, data: pa.Table) -> None:
        last = data.slice(data.num_rows - 1).to_pylist()[0]
        with self._lock:
            self.rows.setdefault(table, {})[symbol] = last
            self.counts[table] += data.num_rows

    def latest(self, table: str, symbol: str) -> dict[str, Any] | None:
        with self._lock:
            return self.rows.get(table, {}).get(symbol)

    def count(self, table: str) -> int:
        with self._lock:
            return self.counts[table]
