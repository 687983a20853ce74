"""PostgreSQL: versioned migrations, and the idempotent writer of orders, fills, trades, alerts
and the audit log.

Migrations are the files ``schemas/sql/postgres/NNNN_name.sql``, applied in
order, each in its own transaction, and recorded in ``schema_migrations``;
applying them again does nothing. Writes use the records' deterministic ids
with ``ON CONFLICT DO NOTHING``, so a replay or a restart never duplicates a row.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from dataflows.stores.retry import Outage
from schemas.trading import Alert, OrderCancelled, OrderDenied, OrderFilled, Side, SubmitOrder

log = logging.getLogger("flowsense.postgres")

MIGRATIONS = Path(__file__).resolve().parents[2] / "schemas" / "sql" / "postgres"
SYSTEM_USER = 1
"""The ``system`` user of migration 0001: the account the dataflows trade for."""


def migrate(dsn: str, folder: Path = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet applied; the names of those applied now."""
    applied_now = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        # One migrator at a time, even with several workers starting together.
        conn.execute("SELECT pg_advisory_lock(7349001)")
        try:
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql")):
                if path.stem in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,)
                    )
                applied_now.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(7349001)")
    return applied_now


def _order_row(o: SubmitOrder | OrderDenied, run_id: str) -> tuple[Any, ...]:
    denied = isinstance(o, OrderDenied)
    return (
        o.client_order_id,
        SYSTEM_USER,
        o.ts_event,
        o.symbol,
        int(o.side),
        o.quantity,
        "denied" if denied else "accepted",
        o.rule if denied else None,
        o.detail if denied else None,
        o.prediction_id,
        None if denied else o.bid_px,
        None if denied else o.ask_px,
        run_id,
        "market" if denied else str(o.order_type),
        None if denied or o.limit_px != o.limit_px else o.limit_px,
        "paper" if denied else o.account,
    )


def _audit(kind: str, record: Any) -> tuple[Any, ...]:
    if isinstance(record, OrderFilled):
        key = record.fill_id
    elif isinstance(record, Alert):
        key = record.alert_id
    else:
        key = record.client_order_id
    payload = record.to_dict()
    if "side" in payload:
        payload["side"] = int(payload["side"])
    payload = {k: (None if isinstance(v, float) and v != v else v) for k, v in payload.items()}
    return (f"{kind}:{key}", record.ts_event, kind, record.symbol, SYSTEM_USER, json.dumps(payload))


def _audit_kind(record: Any) -> str:
    if isinstance(record, OrderDenied):
        return "order_denied"
    if isinstance(record, OrderCancelled):
        return "order_cancelled"
    if isinstance(record, OrderFilled):
        return "fill"
    if isinstance(record, Alert):
        return "alert"
    return "order_accepted"


INSERT_ORDERS = """
INSERT INTO orders (client_order_id, user_id, ts_event, symbol, side, quantity, status, rule,
                    detail, prediction_id, bid_px, ask_px, run_id, order_type, limit_px, account)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (client_order_id) DO NOTHING"""
INSERT_FILLS = """
INSERT INTO fills (fill_id, client_order_id, ts_event, symbol, side, quantity, price, fee,
                   position_after, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (fill_id) DO NOTHING"""
INSERT_TRADES = """
INSERT INTO trades (id, user_id, "timestamp", symbol, side, quantity, entry_price)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO NOTHING"""
INSERT_ORDER_EVENTS = """
INSERT INTO order_events (event_id, client_order_id, ts_event, symbol, status, quantity, reason,
                          run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING"""
INSERT_ALERTS = """
INSERT INTO alerts (alert_id, ts_event, symbol, severity, name, message, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (alert_id) DO NOTHING"""
INSERT_AUDIT = """
INSERT INTO audit_log (event_id, ts_event, kind, symbol, user_id, payload)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING"""


def _fill_row(f: OrderFilled, run_id: str) -> tuple[Any, ...]:
    return (
        f.fill_id,
        f.client_order_id,
        f.ts_event,
        f.symbol,
        int(f.side),
        f.quantity,
        f.price,
        f.fee,
        f.position_after,
        run_id,
    )


def _trade_row(f: OrderFilled) -> tuple[Any, ...]:
    when = datetime.fromtimestamp(f.ts_event / 1e9, UTC)
    side = "buy" if f.side == Side.BUY else "sell"
    return (f.fill_id, SYSTEM_USER, when, f.symbol, side, f.quantity, f.price)


def _unreachable(e: BaseException) -> bool:
    """A lost or refused connection (a server restarting), not a refused statement."""
    return isinstance(e, psycopg.OperationalError | psycopg.InterfaceError)


class PostgresWriter:
    """Writes decisions and executions; safe to repeat (ids are deterministic). While the
    server is down it waits and reconnects (``Outage``): nothing is dropped."""

    def __init__(self, dsn: str, run_id: str = "live") -> None:
        self.dsn = dsn
        self.outage = Outage("PostgreSQL", _unreachable, log)
        self.conn = self.outage.call(lambda: psycopg.connect(dsn))
        self.run_id = run_id

    def _reconnect(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.close()
        # Still down: the next attempt fails on the closed connection and waits again.
        with contextlib.suppress(psycopg.OperationalError):
            self.conn = psycopg.connect(self.dsn)

    def write(
        self,
        orders: list[SubmitOrder | OrderDenied],
        fills: list[OrderFilled],
        cancels: list[OrderCancelled] = (),  # type: ignore[assignment]
        alerts: list[Alert] = (),  # type: ignore[assignment]
    ) -> None:
        """Every record in one transaction, each also in the audit log (append-only)."""
        self.outage.call(
            lambda: self._write(orders, fills, cancels, alerts), on_retry=self._reconnect
        )

    def _write(self, orders, fills, cancels, alerts) -> None:
        audit = [_audit(_audit_kind(r), r) for r in (*orders, *cancels, *fills, *alerts)]
        with self.conn.transaction(), self.conn.cursor() as cur:
            if orders:
                cur.executemany(INSERT_ORDERS, [_order_row(o, self.run_id) for o in orders])
            if cancels:
                rows = [
                    (f"{c.client_order_id}:cancelled", c.client_order_id, c.ts_event, c.symbol,
                     "cancelled", c.quantity, c.reason, self.run_id)
                    for c in cancels
                ]  # fmt: skip
                cur.executemany(INSERT_ORDER_EVENTS, rows)
            if alerts:
                rows = [
                    (a.alert_id, a.ts_event, a.symbol, str(a.severity), a.name, a.message,
                     self.run_id)
                    for a in alerts
                ]  # fmt: skip
                cur.executemany(INSERT_ALERTS, rows)
            if fills:
                cur.executemany(INSERT_FILLS, [_fill_row(f, self.run_id) for f in fills])
                cur.executemany(INSERT_TRADES, [_trade_row(f) for f in fills])
            if audit:
                cur.executemany(INSERT_AUDIT, audit)

    def close(self) -> None:
        self.conn.close()


class _Partition(StatefulSinkPartition[list, None]):
    """Decisions to PostgreSQL from a thread of its own, so that the trading path never
    waits on a commit. The queue is bounded (a full one makes the flow wait); each
    snapshot of the partition, at the end of every epoch and before Bytewax commits it,
    waits until everything handed over is written, so a crash never loses a record of a
    committed epoch (those of the epoch in flight are written again: ids make that a
    no-op). A write PostgreSQL refuses is raised in the flow at the next call."""

    def __init__(self, dsn: str, run_id: str) -> None:
        self.writer = PostgresWriter(dsn, run_id)
        self.queue: queue.Queue[list | None] = queue.Queue(maxsize=256)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="postgres-sink", daemon=True)
        self.thread.start()

    def write_batch(self, items: list[list]) -> None:
        """``items``: the record lists of the keyed stream (Bytewax hands over the values)."""
        self._check()
        records = [r for rs in items for r in rs]
        if records:
            self.queue.put(records)

    def _run(self) -> None:
        while (records := self.queue.get()) is not None:
            try:
                if self.failure is None:
                    self._write(records)
            except BaseException as e:  # raised in the flow's thread by _check
                self.failure = e
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def _write(self, records: list) -> None:
        orders: list[SubmitOrder | OrderDenied] = []
        fills: list[OrderFilled] = []
        cancels: list[OrderCancelled] = []
        alerts: list[Alert] = []
        for r in records:
            if isinstance(r, OrderFilled):
                fills.append(r)
            elif isinstance(r, OrderCancelled):
                cancels.append(r)
            elif isinstance(r, Alert):
                alerts.append(r)
            else:
                orders.append(r)
        # Orders before fills: a fill references its order.
        self.writer.write(orders, fills, cancels, alerts)

    def _check(self) -> None:
        if self.failure is not None:
            raise RuntimeError(f"PostgreSQL sink: {self.failure}") from self.failure

    def snapshot(self) -> None:
        self.queue.join()
        self._check()

    def close(self) -> None:
        self.queue.join()
        self.queue.put(None)
        self.thread.join(30)
        self.writer.close()
        self._check()


class PostgresSink(FixedPartitionedSink[tuple[str, Any], None]):
    """Keyed stream of lists of orders, denials, cancellations, fills and alerts -> PostgreSQL
    (one partition: one connection and one writer thread, whatever the worker count)."""

    def __init__(self, dsn: str, run_id: str = "live") -> None:
        self.dsn = dsn
        self.run_id = run_id

    def list_parts(self) -> list[str]:
        return ["0"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self.dsn, self.run_id)
