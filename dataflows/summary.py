"""What a replay run produced, read back from its tables: counts, positions, PnL, rejects, halt."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dataflows.sinks import read_table
from schemas.market import TickFlag


def summarize(run_dir: Path) -> dict[str, Any]:
    """Totals and per-symbol figures of the run in ``run_dir``."""
    features = read_table(run_dir, "features")
    orders = read_table(run_dir, "orders")
    fills = read_table(run_dir, "fills")
    rejects = read_table(run_dir, "rejects")
    per_symbol: dict[str, dict[str, Any]] = {}
    if features.height:
        stats = features.group_by("symbol", maintain_order=True).agg(
            events=pl.len(),
            book_updates=((pl.col("flags") & TickFlag.BOOK) > 0).sum(),
            trades=((pl.col("flags") & TickFlag.TRADE) > 0).sum(),
            last_mid=pl.col("mid").drop_nans().drop_nulls().last(),
        )
        for row in stats.iter_rows(named=True):
            per_symbol[row.pop("symbol")] = row
    for symbol, s in per_symbol.items():
        f = fills.filter(pl.col("symbol") == symbol) if fills.height else fills
        o = orders.filter(pl.col("symbol") == symbol) if orders.height else orders
        signed = (
            (f["side"].cast(pl.Float64) * f["quantity"])
            if f.height
            else pl.Series([], dtype=pl.Float64)
        )
        position = float(signed.sum()) if f.height else 0.0
        cash = float(-(signed * f["price"]).sum() - f["fee"].sum()) if f.height else 0.0
        mark = s["last_mid"] if s["last_mid"] is not None else 0.0
        s.update(
            orders=int((o["status"] == "accepted").sum()) if o.height else 0,
            denied=int((o["status"] == "denied").sum()) if o.height else 0,
            fills=f.height,
            position=position,
            pnl=cash + position * mark,
        )
    risk = _risk(orders, read_table(run_dir, "alerts"))
    by_reason = (
        dict(rejects.group_by("reason").len().sort("reason").rows()) if rejects.height else {}
    )
    totals = {
        k: sum(s[k] for s in per_symbol.values())
        for k in ("events", "book_updates", "trades", "orders", "denied", "fills", "pnl")
    }
    return {
        "run_dir": str(run_dir),
        **totals,
        "features": features.height,
        "bars": read_table(run_dir, "bars").height,
        "predictions": read_table(run_dir, "predictions").height,
        "rejected": sum(by_reason.values()),
        "rejected_by_reason": by_reason,
        **risk,
        "symbols": per_symbol,
    }


def _risk(orders: pl.DataFrame, alerts: pl.DataFrame) -> dict[str, Any]:
    """Denials by rule, cancellations, and the kill switch: did it halt, when and why."""
    denied = orders.filter(pl.col("status") == "denied") if orders.height else orders
    by_rule = dict(denied.group_by("rule").len().sort("rule").rows()) if denied.height else {}
    cancelled = int((orders["status"] == "cancelled").sum()) if orders.height else 0
    halts = alerts.filter(pl.col("name") == "HighDrawdown") if alerts.height else alerts
    halt: dict[str, Any] | None = None
    if halts.height:
        first = halts.sort("ts_event").row(0, named=True)
        ts = int(first["ts_event"])
        after = (
            orders.filter((pl.col("status") == "accepted") & (pl.col("ts_event") > ts)).height
            if orders.height
            else 0
        )
        halt = {
            "rule": "drawdown",
            "ts_event": ts,
            "at": datetime.fromtimestamp(ts / 1e9, UTC).isoformat(),
            "symbol": first["symbol"],
            "message": first["message"],
            "orders_after": after,
        }
    return {
        "denied_by_rule": by_rule,
        "cancelled": cancelled,
        "halted": halt is not None,
        "halt": halt,
    }


def equity_curve(run_dir: Path, capital: float) -> pl.DataFrame:
    """``ts_event``, ``equity``: capital plus the fills' cash and positions marked at each
    symbol's last mid, at every feature row of the run (for plots; the account step's own
    figures are in its records)."""
    feats = read_table(run_dir, "features")
    if not feats.height:
        return pl.DataFrame({"ts_event": [], "equity": []})
    timeline = (
        feats.select("ts_event", "symbol", "seq", "mid")
        .sort("ts_event", "symbol", "seq")
        .with_row_index("row")
    )
    fills = read_table(run_dir, "fills")
    values = []
    for symbol in timeline["symbol"].unique().sort():
        rows = timeline.filter(pl.col("symbol") == symbol).with_columns(
            pl.col("mid").fill_nan(None).forward_fill()
        )
        f = fills.filter(pl.col("symbol") == symbol) if fills.height else fills
        if f.height:
            signed = pl.col("side").cast(pl.Float64) * pl.col("quantity")
            book = f.sort("ts_event").select(
                "ts_event",
                signed.cum_sum().alias("position"),
                (-(signed * pl.col("price")) - pl.col("fee")).cum_sum().alias("cash"),
            )
            rows = rows.join_asof(book, on="ts_event", strategy="backward")
        else:
            rows = rows.with_columns(position=pl.lit(0.0), cash=pl.lit(0.0))
        value = (
            pl.col("cash").fill_null(0.0) + pl.col("position").fill_null(0.0) * pl.col("mid")
        ).fill_null(0.0)
        values.append(rows.select("row", value.alias(f"v_{symbol}")))
    for v in values:
        timeline = timeline.join(v, on="row", how="left")
    cols = [c for c in timeline.columns if c.startswith("v_")]
    return timeline.select(
        "ts_event",
        (capital + pl.sum_horizontal(pl.col(c).forward_fill().fill_null(0.0) for c in cols)).alias(
            "equity"
        ),
    )
