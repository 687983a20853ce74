"""Risk rules at their boundaries, and the account step: kill switch, reset, idempotence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from operators.account import Account, ExecutionConfig
from operators.config import RiskConfig
from operators.risk import (
    Exposure,
    check_collar,
    check_daily_loss,
    check_max_gross,
    check_max_position,
    check_rate,
    first_refusal,
)
from schemas.trading import (
    Alert,
    AlertSeverity,
    MarketSlice,
    OrderCancelled,
    OrderDenied,
    OrderFilled,
    OrderType,
    RiskReset,
    Side,
    SubmitOrder,
    TargetPosition,
)

S = 10**9


def _order(side=Side.BUY, qty=100.0):
    return SubmitOrder("A-m-1", "A", 0, side, qty, "A:m:1", 99.0, 101.0, 100.0)


def _x(**kw):
    base = dict(
        price=101.0,
        microprice=101.0,
        position=0.0,
        gross_others=0.0,
        day_pnl=0.0,
        recent_orders=0,
        halted=False,
    )
    return Exposure(**{**base, **kw})


def test_max_position_at_the_limit_passes_and_a_cent_over_is_denied():
    cfg = RiskConfig(max_position=10_100)
    assert check_max_position(_order(qty=100), _x(), cfg) is None  # 100 x 101 = 10 100
    rule, detail = check_max_position(_order(qty=100), _x(price=101.0001), cfg)
    assert rule == "max_position" and "10,100.01" in detail and "10,100.00" in detail
    # A sell that reduces a long position is measured on the position after it.
    assert check_max_position(_order(Side.SELL, 150), _x(position=200, price=99.0), cfg) is None


def test_max_gross_counts_the_other_symbols():
    cfg = RiskConfig(max_gross=100_000)
    assert check_max_gross(_order(qty=400), _x(price=100.0, gross_others=60_000), cfg) is None
    rule, detail = check_max_gross(_order(qty=401), _x(price=100.0, gross_others=60_000), cfg)
    assert rule == "max_gross" and "100,100.00" in detail and "60,000.00" in detail


def test_price_collar_against_the_micro_price():
    cfg = RiskConfig(collar_bps=50)
    assert check_collar(_order(), _x(price=100.5, microprice=100.0), cfg) is None  # 50 bps
    rule, detail = check_collar(_order(), _x(price=100.51, microprice=100.0), cfg)
    assert rule == "price_collar" and "51.0 bps" in detail


def test_daily_loss_lets_only_reducing_orders_pass():
    cfg = RiskConfig(capital=10_000, daily_loss=0.1)  # limit 1 000
    assert check_daily_loss(_order(qty=10), _x(day_pnl=-999.99), cfg) is None
    rule, _ = check_daily_loss(_order(qty=10), _x(day_pnl=-1_000), cfg)
    assert rule == "daily_loss"
    assert check_daily_loss(_order(Side.SELL, 10), _x(day_pnl=-2_000, position=30), cfg) is None
    assert check_daily_loss(_order(Side.SELL, 70), _x(day_pnl=-2_000, position=30), cfg)
    assert check_daily_loss(_order(Side.SELL, 60), _x(day_pnl=-2_000, position=30), cfg)  # flip
    assert check_daily_loss(_order(Side.SELL, 30), _x(day_pnl=-2_000, position=30), cfg) is None


def test_rate_limit_and_halt_stand_last():
    cfg = RiskConfig(max_orders_per_s=5)
    assert check_rate(_order(), _x(recent_orders=4), cfg) is None
    assert check_rate(_order(), _x(recent_orders=5), cfg)[0] == "max_order_rate"
    # A halted account denies as "halted", but a price problem is reported first.
    assert first_refusal(_order(), _x(halted=True), cfg)[0] == "halted"
    assert first_refusal(_order(), _x(halted=True, microprice=50.0), cfg)[0] == "price_collar"
    assert first_refusal(_order(), _x(price=math.nan), cfg)[0] == "no_market"


# --- the account step ------------------------------------------------------------------------


def _slice(symbol, ts, mid, intents=(), seq0=0, spread=1.0, bid_sz=100.0, trade=None):
    ts = np.asarray(ts, np.int64)
    n = len(ts)
    mid = np.broadcast_to(np.asarray(mid, float), n).copy()
    cols = {
        "ts_event": ts,
        "seq": np.arange(seq0, seq0 + n, dtype=np.int64),
        "bid_px": mid - spread / 2,
        "bid_sz": np.full(n, bid_sz),
        "ask_px": mid + spread / 2,
        "ask_sz": np.full(n, 100.0),
        "mid": mid,
        "microprice": mid,
        "trade_sz": np.zeros(n) if trade is None else np.asarray(trade, float),
    }
    targets = []
    for row, target in intents:
        m = float(mid[row])
        targets.append(
            TargetPosition(
                symbol, int(ts[row]), seq0 + row, "m", target, m - spread / 2, m + spread / 2, m
            )
        )
    return MarketSlice(symbol, cols, targets)


def _kinds(records):
    return [type(r).__name__ for r in records]


def test_kill_switch_halts_cancels_alerts_and_holds_until_reset():
    cfg = RiskConfig(
        capital=1_000, max_position=1e6, max_gross=1e6, kill_drawdown=0.15, collar_bps=500
    )
    acct = Account(cfg, ExecutionConfig(order_type=OrderType.LIMIT), frozenset({"A", "B"}))
    out = acct.update(_slice("B", [0, S], 50.0, intents=[(0, 2)]))  # B: a bid rests at 49.5
    assert out == []  # waits for A: it must see every symbol before it decides
    # A: a limit buy of 10 joins the bid at 99.5; the ask comes down to it at 0.5 s.
    out = acct.update(_slice("A", [0, S // 2, 2 * S, 3 * S], [100, 99.0, 84.5, 84.5], [(0, 10)]))
    out += acct.flush()
    kinds = _kinds(out)
    assert kinds.count("SubmitOrder") == 2
    fills = [r for r in out if isinstance(r, OrderFilled)]
    # A's bid at 99.5 is crossed when the ask falls to 99.5 (mid 99): filled at 99.5.
    assert [(f.symbol, f.quantity, f.price) for f in fills] == [("A", 10, 99.5)]
    # At 2 s mid 84.5: equity = 1000 + 10 x (84.5 - 99.5) = 850, 15.0% below the peak 1000.
    (alert,) = [r for r in out if isinstance(r, Alert)]
    assert alert.severity == AlertSeverity.CRITICAL and alert.name == "HighDrawdown"
    assert alert.ts_event == 2 * S and "850.00" in alert.message
    # B's resting bid was cancelled by the halt, its whole quantity left.
    (cancel,) = [r for r in out if isinstance(r, OrderCancelled)]
    assert (cancel.symbol, cancel.reason, cancel.quantity) == ("B", "halt", 2)
    assert acct.halt is not None and acct.halt.rule == "drawdown"
    # Halted: a new target is denied, with the rule.
    more = acct.update(_slice("A", [4 * S], 84.5, [(0, -10)], seq0=10))
    more += acct.update(_slice("B", [4 * S + 1], 50.0, seq0=10)) + acct.flush()
    (denied,) = [r for r in more if isinstance(r, OrderDenied)]
    assert denied.rule == "halted"
    # An operator resets: the next target passes.
    (note,) = acct.update(RiskReset("paper", 5 * S, "alice", "checked"))
    assert note.name == "RiskReset" and "alice" in note.message
    after = acct.update(_slice("A", [6 * S], 84.5, [(0, -10)], seq0=20))
    after += acct.update(_slice("B", [6 * S + 1], 50.0, seq0=20)) + acct.flush()
    assert "SubmitOrder" in _kinds(after)


def test_no_halt_just_under_the_threshold():
    cfg = RiskConfig(
        capital=1_000, max_position=1e6, max_gross=1e6, kill_drawdown=0.15, collar_bps=500
    )
    acct = Account(cfg)
    # Market buy 10 at the ask 100.5; mid 85.51: equity 1000 + 10 x (85.51 - 100.5) = 850.1.
    out = acct.update(_slice("A", [0, S], [100, 85.51], [(0, 10)])) + acct.flush()
    assert _kinds(out) == ["SubmitOrder", "OrderFilled"] and acct.halt is None
    assert acct.portfolio.equity() == pytest.approx(850.1)


def test_order_rate_counts_event_time_not_wall_clock():
    cfg = RiskConfig(max_orders_per_s=2, max_position=1e9, max_gross=1e9, collar_bps=500)
    acct = Account(cfg)
    ts = [0, S // 3, 2 * S // 3, S, S + 1]
    targets = [(0, 1), (1, -1), (2, 1), (3, 2), (4, 3)]
    out = acct.update(_slice("A", ts, 100.0, targets)) + acct.flush()
    decided = [(type(r).__name__, r.ts_event) for r in out if not isinstance(r, OrderFilled)]
    # 0 and 1/3 s pass; 2/3 s is the third within 1 s; at 1 s the order at 0 has left the
    # window (t - 1 s, t]; at 1 s + 1 ns, 1/3 s and 1 s are in it.
    assert decided == [
        ("SubmitOrder", 0),
        ("SubmitOrder", S // 3),
        ("OrderDenied", 2 * S // 3),
        ("SubmitOrder", S),
        ("OrderDenied", S + 1),
    ]


def test_the_same_input_twice_yields_one_set_of_orders():
    cfg = RiskConfig(max_position=1e9, max_gross=1e9)
    acct = Account(cfg)
    s = _slice("A", [0, S, 2 * S], [100, 101, 102], [(0, 10), (2, -10)])
    first = acct.update(s) + acct.flush()
    again = acct.update(s) + acct.flush()
    assert _kinds(first) == ["SubmitOrder", "OrderFilled", "SubmitOrder", "OrderFilled"]
    assert again == []
    assert first[0].client_order_id == "A-m-0"  # from the input: symbol, model, seq


def test_decisions_do_not_depend_on_batching_or_interleaving():
    cfg = RiskConfig(
        capital=10_000, max_position=1e9, max_gross=2_500, kill_drawdown=0.5, collar_bps=500
    )
    a = _slice("A", np.arange(6) * S, [100, 101, 99, 98, 102, 103], [(0, 10), (3, -12)])
    b = _slice("B", np.arange(6) * S + 1, [50, 51, 52, 50, 49, 48], [(1, 20), (4, -30)])

    def cut(s, k):
        c = {n: v[:k] for n, v in s.columns.items()}, {n: v[k:] for n, v in s.columns.items()}
        seqs = set(c[0]["seq"].tolist())
        return (
            MarketSlice(s.symbol, c[0], [t for t in s.intents if t.seq in seqs]),
            MarketSlice(s.symbol, c[1], [t for t in s.intents if t.seq not in seqs]),
        )

    one = Account(cfg, symbols=frozenset("AB"))
    whole = one.update(a) + one.update(b) + one.flush()
    two = Account(cfg, symbols=frozenset("AB"))
    (b1, b2), (a1, a2) = cut(b, 2), cut(a, 4)
    parts = two.update(b1) + two.update(a1) + two.update(b2) + two.update(a2) + two.flush()
    assert parts == whole
    # B's buy of 20 at 51.5 (1 030) beside A's 10 at 100.5 marked at 101 (1 010) fits 2 500;
    # A's flip to -12 after B's buy would make 12 x 97.5 + 20 x 52 = 2 210: passes too;
    # B's flip to -30 at 48.5 with A's -12 marked at 102: 1 455 + 1 224 = 2 679 > 2 500.
    denied = [r for r in whole if isinstance(r, OrderDenied)]
    assert [(d.symbol, d.rule) for d in denied] == [("B", "max_gross")]


def test_a_snapshot_resumes_where_it_stopped():
    """Bytewax pickles the account's state at each epoch; a resumed state decides the same."""
    import pickle

    cfg = RiskConfig(capital=1_000, max_position=1e6, max_gross=1e6, collar_bps=500)
    ex = ExecutionConfig(order_type=OrderType.LIMIT)
    a = _slice("A", np.arange(8) * S, [100, 99, 98, 97, 96, 99, 101, 102], [(0, 5), (4, -5)])
    first, second = (
        MarketSlice("A", {k: v[:4] for k, v in a.columns.items()}, a.intents[:1]),
        MarketSlice("A", {k: v[4:] for k, v in a.columns.items()}, a.intents[1:]),
    )
    whole = Account(cfg, ex)
    want = whole.update(first) + whole.update(second) + whole.flush()
    part = Account(cfg, ex)
    got = part.update(first)
    resumed = pickle.loads(pickle.dumps(part))
    got += resumed.update(second) + resumed.flush()
    assert got == want and any(isinstance(r, OrderFilled) for r in got)
    assert resumed.portfolio.equity() == pytest.approx(whole.portfolio.equity())


def test_live_a_quiet_symbol_stops_holding_the_others_back():
    """Replay (no wait): A's order waits for B to pass its time, however long B is quiet.
    Live (a wait of 5 ms, wall clock): once B has sent nothing for 5 ms, A trades."""
    cfg = RiskConfig(max_position=1e9, max_gross=1e9, collar_bps=500)
    ms = 1_000_000
    a = _slice("A", [10 * S, 11 * S], 100.0, [(0, 10)])
    b_early = _slice("B", [S], 50.0)
    b_late = _slice("B", [5 * S], 50.0, seq0=1)  # older than A's rows: late

    exact = Account(cfg)
    assert exact.update(b_early) == [] and exact.update(a) == []  # B's watermark is at 1 s
    assert exact.update(a) == []  # still nothing while B is quiet

    live = Account(cfg, merge_wait_ns=5 * ms)
    assert live.update(b_early, now_ns=0) == []
    assert live.update(a, now_ns=1 * ms) == []  # B was heard 1 ms ago: A waits
    # At 6 ms B has been quiet for 6 ms, A for 5: A alone sets the watermark (its last
    # row, 11 s), so its row at 10 s trades.
    decided = live.tick(now_ns=6 * ms)
    assert _kinds(decided) == ["SubmitOrder", "OrderFilled"]
    assert decided[0].symbol == "A" and decided[0].ts_event == 10 * S
    assert live.waiting()  # A's row at 11 s
    # B comes back with a row older than A's processed ones: kept, not lost.
    assert live.update(b_late, now_ns=8 * ms) == []
    assert live.tick(now_ns=20 * ms) == []  # everyone quiet: every row left goes
    assert not live.waiting()
    assert live.pending["B"].last_seq == 1 and live.pending["A"].last_seq == 1
