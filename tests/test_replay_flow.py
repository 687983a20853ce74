"""The whole replay dataflow on real samples: counts, invariants, workers, and the offline path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dataflows.offline import compute
from dataflows.sinks import read_table
from dataflows.summary import equity_curve
from dataflows.tables import TABLES
from flowsense.commands.replay import run_replay
from flowsense.settings import Settings
from schemas.market import TickFlag


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """First 30 000 rows of AMZN (5 levels) and GOOG (10 levels), with one bad row each."""
    folder = tmp_path_factory.mktemp("sample")
    src = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lobster"
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(src / name) as f:
                lines = [next(f) for _ in range(30_000)]
            if kind == "orderbook":
                lines[100] = lines[100].rsplit(",", 1)[0] + "\n"  # wrong column count
            (folder / name).write_text("".join(lines))
    return folder


def _settings(tmp: Path, **replay) -> Settings:
    return Settings(
        runs_dir=tmp, replay={"batch_size": 4096, **replay}, risk={"max_position": 30_000}
    )


@pytest.fixture(scope="module")
def run(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "one"
    summary = run_replay(_settings(out.parent), sample, run_dir=out)
    return out, summary


def test_replay_counts_every_row(run):
    out, summary = run
    assert summary["events"] + summary["rejected"] == 60_000
    assert summary["rejected_by_reason"] == {"wrong_column_count": 2}
    assert summary["features"] == summary["events"] == summary["predictions"]
    assert summary["orders"] > 10 and summary["fills"] == summary["orders"]
    rejects = read_table(out, "rejects")
    assert sorted(rejects["line"].to_list()) == [101, 101]


def test_replay_invariants_hold(run):
    out, _ = run
    predictions = read_table(out, "predictions")
    orders = read_table(out, "orders")
    fills = read_table(out, "fills")
    features = read_table(out, "features")
    # No order without a prediction, each order at a confident prediction in its direction.
    pid = predictions.with_columns(
        prediction_id=pl.concat_str(
            "symbol", pl.lit(":"), "model", pl.lit(":"), pl.col("seq").cast(pl.Utf8)
        )
    )
    joined = orders.join(pid, on="prediction_id", how="left")
    assert joined["direction"].null_count() == 0
    assert (joined["confidence"] >= Settings().strategy.threshold).all()
    # No fill without an accepted order; fills at the touch.
    accepted = orders.filter(pl.col("status") == "accepted")
    assert set(fills["client_order_id"]) == set(accepted["client_order_id"])
    touch = fills.join(accepted, on="client_order_id")
    expected = np.where(touch["side"] == 1, touch["ask_px"], touch["bid_px"])
    np.testing.assert_array_equal(touch["price"].to_numpy(), expected)
    # Positions equal the sum of fills, and never pass the limit.
    for (_symbol,), f in fills.group_by("symbol"):
        running = np.cumsum(f["side"].to_numpy() * f["quantity"].to_numpy())
        np.testing.assert_array_equal(f["position_after"].to_numpy(), running)
        assert (np.abs(running) * f["price"].to_numpy()).max() <= 30_000
    # Deterministic, unique ids.
    assert orders["client_order_id"].n_unique() == orders.height
    assert ((features["flags"] & TickFlag.BOOK) > 0).all()


def test_replay_features_equal_the_offline_features(run, sample):
    out, _ = run
    replayed = read_table(out, "features").drop("flags")
    offline, _ = compute(sample)
    for (symbol,), want in offline.group_by("symbol"):
        got = replayed.filter(pl.col("symbol") == symbol).select(want.columns)
        assert got.equals(want), symbol


def test_replay_with_two_workers_gives_the_same_outputs(run, sample, tmp_path):
    one, _ = run
    two = tmp_path / "two"
    run_replay(_settings(tmp_path), sample, workers=2, run_dir=two)
    for table in TABLES:
        assert read_table(two, table).equals(read_table(one, table)), table


def test_inverted_predictor_takes_the_opposite_side(run, sample, tmp_path):
    out, _ = run
    inv = tmp_path / "inverted"
    run_replay(_settings(tmp_path, predictor="inverted"), sample, run_dir=inv)
    a = read_table(out, "predictions")["direction"].to_numpy()
    b = read_table(inv, "predictions")["direction"].to_numpy()
    np.testing.assert_array_equal(a, -b)


def test_replay_of_binance_streams_keeps_every_message(tmp_path):
    from dataflows.readers.binance import read_binance

    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance"
    eth = sorted(folder.glob("spot_ethusdt_*.gz"))
    assert len(eth) == 2
    for p in [*eth, folder / "usdm_btcusdt_20240808.gz"]:
        (tmp_path / p.name).symlink_to(p)
    summary = run_replay(_settings(tmp_path), tmp_path, run_dir=tmp_path / "run")
    # One stream across midnight: read together, the 08-09 file continues the 08-08 book.
    spot = read_binance(eth)[0]
    perp = read_binance([folder / "usdm_btcusdt_20240808.gz"])[0]
    assert summary["symbols"]["ETHUSDT"]["events"] == len(spot.ticks)
    assert summary["symbols"]["BTCUSDT-PERP"]["events"] == len(perp.ticks)
    assert summary["rejected"] == len(spot.rejects) + len(perp.rejects)
    assert "sequence_gap" not in summary["rejected_by_reason"]
    features = read_table(tmp_path / "run", "features")
    eth_ts = features.filter(pl.col("symbol") == "ETHUSDT")["ts_event"]
    assert eth_ts.min() < 1723161600 * 10**9 < eth_ts.max()  # spans midnight UTC
    assert summary["orders"] == summary["fills"] > 0


def test_a_bad_predictor_on_a_real_day_trips_the_kill_switch(tmp_path):
    """``inverted`` on the whole LOBSTER day: halted at 15% drawdown, then no more trading."""
    src = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lobster"
    settings = Settings(runs_dir=tmp_path, replay={"predictor": "inverted"})
    out = tmp_path / "inverted"
    summary = run_replay(settings, src, run_dir=out)
    assert summary["halted"] is True
    halt = summary["halt"]
    assert halt["rule"] == "drawdown" and halt["orders_after"] == 0
    orders = read_table(out, "orders")
    after = orders.filter(pl.col("ts_event") > halt["ts_event"])
    assert after.height > 0 and set(after["status"]) == {"denied"}
    assert set(after["rule"]) == {"halted"}
    # Independently: the equity from the fills, marked at each symbol's last mid, first falls
    # 15% below its running peak at the halt's time.
    capital = settings.risk.capital
    fills = read_table(out, "fills").sort("ts_event")
    feats = read_table(out, "features").select("ts_event", "symbol", "mid").sort("ts_event")
    pos, marks, cash, peak, first_breach = {}, {}, 0.0, capital, None
    f_rows = fills.iter_rows(named=True)
    nxt = next(f_rows, None)
    for ts, sym, mid in feats.iter_rows():
        while nxt is not None and nxt["ts_event"] <= ts:
            signed = nxt["side"] * nxt["quantity"]
            pos[nxt["symbol"]] = pos.get(nxt["symbol"], 0.0) + signed
            cash -= signed * nxt["price"] + nxt["fee"]
            nxt = next(f_rows, None)
        if mid == mid:
            marks[sym] = mid
        equity = capital + cash + sum(q * marks.get(s, 0.0) for s, q in pos.items())
        peak = max(peak, equity)
        if equity <= 0.85 * peak + 1e-6:
            first_breach = ts
            break
    assert first_breach == halt["ts_event"]
    # The plotted curve agrees: it ends at capital + the summary's PnL, and its first breach
    # of the kill level is the halt.
    curve = equity_curve(out, capital)
    assert curve["equity"][-1] == pytest.approx(capital + summary["pnl"])
    peak = curve["equity"].cum_max().clip(lower_bound=capital)
    breach = curve.filter(curve["equity"] <= 0.85 * peak + 1e-6)["ts_event"][0]
    assert breach == halt["ts_event"]
