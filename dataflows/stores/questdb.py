"""QuestDB: the tables of ``schemas/sql/questdb.sql`` and a sink that ingests over ILP/HTTP.

Rows go in as DataFrames through the official client (the fast path:
~1 M rows/s here). The multi-level OFI columns ``ofi_1`` .. ``ofi_L`` are
not in the DDL: ILP adds them on first write, so any level count works.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from questdb import Sender

from flowsense.settings import QuestDBConfig

DDL = Path(__file__).resolve().parents[2] / "schemas" / "sql" / "questdb.sql"
CHUNK_ROWS = 65_536
SYMBOLS = {"ticks": ["symbol"], "features": ["symbol"], "predictions": ["symbol", "model"]}


def execute(cfg: QuestDBConfig, sql: str, limit: int | None = None) -> dict[str, Any]:
    """Run one SQL statement through QuestDB's HTTP ``/exec``; its JSON answer."""
    params = {"query": sql} | ({"limit": str(limit)} if limit else {})
    url = f"http://{cfg.host}:{cfg.http_port}/exec?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as e:  # QuestDB answers SQL errors with 400 and a JSON body
        answer = json.loads(e.read() or b"{}") or {"error": str(e)}
    if "error" in answer:
        raise RuntimeError(f"QuestDB: {answer['error']} in: {sql.strip()[:120]}")
    return answer


def create_tables(cfg: QuestDBConfig) -> None:
    """Create the tables if missing (idempotent)."""
    body = "\n".join(ln for ln in DDL.read_text().splitlines() if not ln.lstrip().startswith("--"))
    for statement in filter(str.strip, body.split(";")):
        execute(cfg, statement)


def sender_conf(cfg: QuestDBConfig) -> str:
    return f"http::addr={cfg.host}:{cfg.http_port};username={cfg.user};password={cfg.password};"


def to_frame(table: pa.Table):
    """An Arrow table of one of our streams as the DataFrame ILP wants: ``ts`` from ``ts_event``."""
    df = table.to_pandas()
    df["ts"] = df["ts_event"].astype("datetime64[ns]")
    return df.drop(columns=["ts_event"])


class _Writer(threading.Thread):
    """Sends queued Arrow tables to one QuestDB table, off the dataflow's thread.

    The dataflow only converts and enqueues, so a slow HTTP round trip does
    not hold up the steps behind it (orders must not wait for the tick
    archive). The queue is bounded: when QuestDB falls behind, ``put`` blocks
    and the flow slows down rather than losing rows or memory. Whatever is
    waiting is sent together, in chunks of ``CHUNK_ROWS`` rows (one ILP
    request each: a backlog can exceed the client's 100 MiB buffer). An
    error is kept and raised in the dataflow's thread at its next write.
    """

    def __init__(self, cfg: QuestDBConfig, table: str) -> None:
        super().__init__(name=f"questdb-{table}", daemon=True)
        self.table = table
        self.queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=cfg.max_pending_batches)
        self.error: BaseException | None = None
        self.sender = Sender.from_conf(sender_conf(cfg) + "auto_flush=off;")
        self.sender.establish()  # fail in the caller's thread if QuestDB is not there

    def run(self) -> None:
        try:
            done = False
            while not done:
                tables = [self.queue.get()]
                while tables[-1] is not None:
                    try:
                        tables.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                done = tables[-1] is None
                tables = [t for t in tables if t is not None]
                if tables and self.error is None:
                    try:
                        self._send(pa.concat_tables(tables, promote_options="permissive"))
                    except Exception as e:  # kept for the dataflow's thread to raise
                        self.error = e
        finally:
            self.sender.close()

    def _send(self, table: pa.Table) -> None:
        df = to_frame(table)
        for start in range(0, len(df), CHUNK_ROWS):
            chunk = df.iloc[start : start + CHUNK_ROWS]
            self.sender.dataframe(
                chunk, table_name=self.table, symbols=SYMBOLS[self.table], at="ts"
            )
            self.sender.flush()

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"QuestDB table {self.table}: {self.error}") from self.error


class _Partition(StatelessSinkPartition[tuple[str, Any]]):
    def __init__(self, cfg: QuestDBConfig, table: str, to_arrow) -> None:
        self.to_arrow = to_arrow
        self.writer = _Writer(cfg, table)
        self.writer.start()

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        self.writer.check()
        tables = [
            t for t in (self.to_arrow(sym, v) for sym, v in items) if t is not None and t.num_rows
        ]
        if tables:
            self.writer.queue.put(pa.concat_tables(tables, promote_options="permissive"))

    def close(self) -> None:
        """Send everything queued, then stop; raise if anything failed."""
        self.writer.queue.put(None)
        self.writer.join()
        self.writer.check()


class QuestDBSink(DynamicSink[tuple[str, Any]]):
    """A keyed stream -> one QuestDB table, through a converter of ``dataflows.tables``."""

    def __init__(self, cfg: QuestDBConfig, table: str, to_arrow) -> None:
        if table not in SYMBOLS:
            raise ValueError(f"no QuestDB table {table!r}; tables: {', '.join(SYMBOLS)}")
        self.cfg, self.table, self.to_arrow = cfg, table, to_arrow

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.cfg, self.table, self.to_arrow)
