"""PostgreSQL: versioned migrations, and the idempotent writer of orders, fills, trades and audit.

Migrations are the files ``schemas/sql/postgres/NNNN_name.sql``, applied in
order, each in its own transaction, and recorded in ``schema_migrations``;
applying them again does nothing. Writes use the records' deterministic ids
with ``ON CONFLICT DO NOTHING``, so a replay or a restart never duplicates a row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from schemas.trading import OrderDenied, OrderFilled, Side, SubmitOrder

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
    )


def _audit(kind: str, record: Any) -> tuple[Any, ...]:
    key = record.fill_id if isinstance(record, OrderFilled) else record.client_order_id
    payload = record.to_dict()
    payload["side"] = int(payload["side"])
    return (f"{kind}:{key}", record.ts_event, kind, record.symbol, SYSTEM_USER, json.dumps(payload))


INSERT_ORDERS = """
INSERT INTO orders (client_order_id, user_id, ts_event, symbol, side, quantity, status, rule,
                    detail, prediction_id, bid_px, ask_px, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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


class PostgresWriter:
    """Writes decisions and executions; safe to repeat (ids are deterministic)."""

    def __init__(self, dsn: str, run_id: str = "live") -> None:
        self.conn = psycopg.connect(dsn)
        self.run_id = run_id

    def write(self, orders: list[SubmitOrder | OrderDenied], fills: list[OrderFilled]) -> None:
        audit = [
            _audit("order_denied" if isinstance(o, OrderDenied) else "order_accepted", o)
            for o in orders
        ] + [_audit("fill", f) for f in fills]
        with self.conn.transaction(), self.conn.cursor() as cur:
            if orders:
                cur.executemany(INSERT_ORDERS, [_order_row(o, self.run_id) for o in orders])
            if fills:
                cur.executemany(INSERT_FILLS, [_fill_row(f, self.run_id) for f in fills])
                cur.executemany(INSERT_TRADES, [_trade_row(f) for f in fills])
            if audit:
                cur.executemany(INSERT_AUDIT, audit)

    def close(self) -> None:
        self.conn.close()


class _Partition(StatelessSinkPartition[tuple[str, Any]]):
    def __init__(self, dsn: str, run_id: str) -> None:
        self.writer = PostgresWriter(dsn, run_id)

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        orders: list[SubmitOrder | OrderDenied] = []
        fills: list[OrderFilled] = []
        for _, records in items:
            for r in records:
                (fills if isinstance(r, OrderFilled) else orders).append(r)
        # Orders before fills: a fill references its order.
        self.writer.write(orders, fills)

    def close(self) -> None:
        self.writer.close()


class PostgresSink(DynamicSink[tuple[str, Any]]):
    """Keyed stream of lists of orders, denials and fills -> PostgreSQL."""

    def __init__(self, dsn: str, run_id: str = "live") -> None:
        self.dsn = dsn
        self.run_id = run_id

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.dsn, self.run_id)
