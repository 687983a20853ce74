"""Cost of the account step (risk gate + execution + PnL) per order, with a baseline.

    .venv/bin/python benchmarks/bench_risk.py [--data DIR] [--repeat 5] [--json]

Three measures, one run, one core (the account step is one state):

- ``orders_only``: a stream where every row carries a target that flips the
  position (each row is an order through every risk check, the paper
  broker, the order state machine and the PnL), in slices of 1 024 rows:
  seconds per order. Target: <= 20 us.
- ``baseline``: the least any gate must do per order in Python, measured on
  the same targets: build the ``SubmitOrder`` and its ``OrderFilled`` records
  and update a position; the ratio says what the checks and bookkeeping cost.
- ``lobster_day_market`` / ``lobster_day_limit``: the real LOBSTER day (AMZN and
  GOOG, ofi predictor and strategy run beforehand, outside the timing): the
  whole account step, every book row merged in event time, with market
  orders (only rows that move a mark or carry a target are visited) and
  with limit orders (every row goes through the queue model): seconds per
  order and per book row.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, machine  # noqa: E402
from dataflows.readers.lobster import read_lobster  # noqa: E402
from flowsense.settings import SHARED_DATA  # noqa: E402
from operators.account import SLICE_COLUMNS, Account, ExecutionConfig  # noqa: E402
from operators.config import RiskConfig, StrategyConfig  # noqa: E402
from operators.features import FeatureState  # noqa: E402
from operators.predictors import make_predictor  # noqa: E402
from operators.strategy import Strategy  # noqa: E402
from schemas.trading import (  # noqa: E402
    MarketSlice,
    OrderFilled,
    OrderType,
    Side,
    SubmitOrder,
    TargetPosition,
)

LOOSE = RiskConfig(
    capital=1e12, max_position=1e12, max_gross=1e12, max_orders_per_s=1e9, collar_bps=1e4
)
"""Limits that never refuse, so that every target becomes an order (the costly path)."""


def synthetic(n: int, batch: int = 1024) -> list[MarketSlice]:
    """``n`` rows, 1 ms apart, each with a target flipping between +10 and -10 shares."""
    rng = np.random.default_rng(5)
    mid = 100 + np.cumsum(rng.normal(0, 0.01, n)).round(2)
    ts = np.arange(n, dtype=np.int64) * 1_000_000
    cols = {
        "ts_event": ts,
        "seq": np.arange(n, dtype=np.int64),
        "bid_px": mid - 0.01,
        "bid_sz": np.full(n, 500.0),
        "ask_px": mid + 0.01,
        "ask_sz": np.full(n, 500.0),
        "mid": mid,
        "microprice": mid,
        "trade_sz": np.zeros(n),
    }
    targets = [
        TargetPosition("SYN", int(ts[i]), i, "bench", 10.0 if i % 2 == 0 else -10.0,
                       float(mid[i] - 0.01), float(mid[i] + 0.01), float(mid[i]))
        for i in range(n)
    ]  # fmt: skip
    out = []
    for s in range(0, n, batch):
        part = {k: v[s : s + batch] for k, v in cols.items()}
        out.append(MarketSlice("SYN", part, targets[s : s + batch]))
    return out


def baseline(slices: list[MarketSlice]) -> int:
    """Records and a position per target, no checks, no state machine, no PnL."""
    position, n = 0.0, 0
    for sl in slices:
        for t in sl.intents:
            qty = t.target - position
            side = Side.BUY if qty > 0 else Side.SELL
            o = SubmitOrder(
                f"{t.symbol}-{t.model}-{t.seq}",
                t.symbol,
                t.ts_event,
                side,
                abs(qty),
                f"{t.symbol}:{t.model}:{t.seq}",
                t.bid_px,
                t.ask_px,
                t.mid,
            )
            price = t.ask_px if side == Side.BUY else t.bid_px
            position += qty
            OrderFilled(f"{o.client_order_id}-1", o.client_order_id, o.symbol, o.ts_event,
                        side, o.quantity, price, 0.0, position)  # fmt: skip
            n += 1
    return n


def run_account(slices: list[MarketSlice], risk: RiskConfig, ex: ExecutionConfig) -> list:
    acct = Account(risk, ex, frozenset({s.symbol for s in slices}))
    out = []
    for sl in slices:
        out += acct.update(sl)
    return out + acct.flush()


def lobster_slices(data: Path, batch: int = 65_536) -> list[MarketSlice]:
    """The replay's slices of the LOBSTER day, interleaved by batch like the replay's source."""
    per_symbol = []
    for name in ("AMZN_2012-06-21_34200000_57600000_message_5.csv",
                 "GOOG_2012-06-21_34200000_57600000_message_10.csv"):  # fmt: skip
        ticks = read_lobster(data / name).ticks
        features = FeatureState(ticks.instrument).update(ticks)
        predictor, strategy = make_predictor("ofi"), Strategy(StrategyConfig())
        slices = []
        for s in range(0, len(ticks), batch):
            part = features.__class__(
                features.instrument, {k: v[s : s + batch] for k, v in features.columns.items()}
            )
            intents = strategy.update(predictor.update(part))
            cols = {k: part[k] for k in (*SLICE_COLUMNS, "trade_sz")}
            slices.append(MarketSlice(part.symbol, cols, intents))
        per_symbol.append(slices)
    merged = []
    for i in range(max(map(len, per_symbol))):
        merged += [s[i] for s in per_symbol if i < len(s)]
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "lobster")
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    syn = synthetic(args.orders)
    market = ExecutionConfig()
    n_orders = sum(isinstance(r, SubmitOrder) for r in run_account(syn, LOOSE, market))
    assert n_orders == args.orders == baseline(syn)
    # Interleaved rounds, best of each: on a shared machine the load moves between them.
    t_base = t_orders = float("inf")
    for _ in range(args.repeat):
        t_base = min(t_base, best_of(lambda: baseline(syn), 1) / n_orders)
        t_orders = min(t_orders, best_of(lambda: run_account(syn, LOOSE, market), 1) / n_orders)

    day = lobster_slices(args.data)
    rows = sum(len(s) for s in day)
    risk = RiskConfig()
    limit = ExecutionConfig(order_type=OrderType.LIMIT)
    day_figures = {}
    for label, ex in (("lobster_day_market", market), ("lobster_day_limit", limit)):
        out = run_account(day, risk, ex)
        orders = sum(isinstance(r, SubmitOrder) for r in out)
        t = best_of(lambda ex=ex: run_account(day, risk, ex), max(1, args.repeat // 2))
        day_figures[label] = {
            "orders": orders,
            "fills": sum(isinstance(r, OrderFilled) for r in out),
            "seconds": round(t, 3),
            "us_per_order": round(t / orders * 1e6, 1),
            "us_per_row": round(t / rows * 1e6, 3),
        }
    result = {
        "machine": machine(),
        "orders": n_orders,
        "us_per_order": {
            "baseline_records_only": round(t_base * 1e6, 2),
            "account_step": round(t_orders * 1e6, 2),
        },
        "ratio_to_baseline": round(t_orders / t_base, 1),
        "target_us_per_order": 20,
        "met": t_orders * 1e6 <= 20,
        "lobster_rows": rows,
        **day_figures,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(result["machine"])
    for k, v in result.items():
        if k != "machine":
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
