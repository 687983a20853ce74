"""Drift (PSI and Kolmogorov-Smirnov): formulas against hand calculations, and detection on
real data: a window shifted in time drifts, a window of the same distribution does not."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import bytewax.operators as op
import numpy as np
import polars as pl
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from dataflows import metrics
from dataflows.drift import add_drift
from dataflows.offline import compute
from flowsense.commands.replay import run_replay
from flowsense.drift import drift_report
from flowsense.settings import DriftSettings, Settings
from operators.config import DriftConfig
from operators.drift import DriftWindow, feature_drift, psi
from schemas.features import FeatureBatch
from schemas.market import Instrument, TickFlag
from tests.conftest import lobster

FEATURES = ("ofi", "spread", "bid_depth", "ask_depth", "trade_sz")
HOUR = 3_600 * 10**9
# 2012-06-21 in UTC: LOBSTER's 9:30-16:00 New York is 13:30-20:00 UTC.
T0 = 1_340_236_800 * 10**9


def at(hours: float) -> int:
    return T0 + int(hours * HOUR)


def psi_by_hand(ref: list[float], live: list[float], edges: list[float]) -> float:
    def shares(v: list[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for x in v:
            counts[sum(x >= e for e in edges)] += 1
        return [max(c / len(v), 1e-4) for c in counts]

    p, q = shares(ref), shares(live)
    return sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


def test_psi_equals_the_hand_calculation_on_quantile_bins():
    ref = [float(x) for x in range(100)]
    live = [float(x) for x in range(30, 130)]
    # Quartiles of 0..99 (linear interpolation): 24.75, 49.5, 74.25.
    assert psi(np.array(ref), np.array(live), bins=4) == pytest.approx(
        psi_by_hand(ref, live, [24.75, 49.5, 74.25]), rel=1e-12
    )
    # Live shares 0, 0.195, 0.25, 0.555 vs 0.25 each: a large shift.
    assert psi(np.array(ref), np.array(live), bins=4) > 0.25
    assert psi(np.array(ref), np.array(ref), bins=4) == 0


def test_psi_of_a_discrete_feature_has_a_bin_per_value():
    ref = np.array([1.0] * 50 + [2.0] * 30 + [3.0] * 20)
    live = np.array([1.0] * 20 + [2.0] * 30 + [3.0] * 50)
    want = (0.2 - 0.5) * math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert psi(ref, live) == pytest.approx(want, rel=1e-12)


def test_ks_statistic_is_the_largest_cdf_gap():
    rng = np.random.default_rng(1)
    ref, live = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    grid = np.concatenate([ref, live])
    gap = max(abs(np.mean(ref <= x) - np.mean(live <= x)) for x in grid)
    f = feature_drift("x", ref, live)
    assert f.ks == pytest.approx(gap, abs=1e-12)
    assert f.n_reference == 300 and f.n_live == 200


@pytest.fixture(scope="module")
def amzn() -> pl.DataFrame:
    df, _ = compute(lobster("AMZN", "orderbook", 1))
    return df


def window(df: pl.DataFrame, start: float, end: float) -> pl.DataFrame:
    return df.filter((pl.col("ts_event") >= at(start)) & (pl.col("ts_event") < at(end)))


def columns(df: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: df[c].to_numpy().astype(float) for c in FEATURES}


def test_a_window_shifted_in_time_drifts_on_real_data(amzn):
    from operators.drift import window_drift

    ref = window(amzn, 14, 15)  # 10:00-11:00 New York
    late = window(amzn, 18.5, 19.5)  # 14:30-15:30
    assert ref.height > 5_000 and late.height > 5_000
    result, drifted = window_drift(columns(ref), columns(late))
    assert drifted
    by = {f.feature: f for f in result}
    assert by["spread"].drifted and by["spread"].psi > 0.2  # the afternoon's spreads are tighter
    assert by["spread"].p_value < 1e-10


def test_a_window_of_the_same_distribution_does_not_drift(amzn):
    from operators.drift import window_drift

    ref = window(amzn, 14, 15)
    order = np.random.default_rng(0).permutation(ref.height)
    half = ref.height // 2
    a, b = ref[order[:half]], ref[order[half:]]  # two random halves of one hour
    result, drifted = window_drift(columns(a), columns(b))
    assert not drifted and not any(f.drifted for f in result)
    assert max(f.psi for f in result) < 0.02


def test_the_live_window_is_the_newest_rows_whatever_the_batching(amzn):
    """Measured once full, at the end of the batch that filled it: the 2 000 newest rows."""
    ref = columns(window(amzn, 14, 15))
    live = window(amzn, 18.5, 19.5)
    for size in (1000, 337, 5000):
        w = DriftWindow(list(FEATURES), rows=2_000, every_ns=10**18)
        measures = []
        for i in range(0, live.height, size):
            part = live[i : i + size]
            if (m := w.update(columns(part), part["ts_event"].to_numpy(), ref)) is not None:
                measures.append((i + part.height, m))
        assert len(measures) == 1, size  # then not again for 10**18 ns
        end, got = measures[0]
        assert end == -(-2_000 // size) * size
        newest = live[end - 2_000 : end]
        assert got == [feature_drift(c, ref[c], columns(newest)[c]) for c in FEATURES]
        # A snapshot holds the ring only, never the (much larger) reference.
        assert len(pickle.dumps(w)) < 2_000 * len(FEATURES) * 8 + 2_000


def feature_batches(df: pl.DataFrame, size: int) -> list[FeatureBatch]:
    ins = Instrument("AMZN", 10_000, 1, 100, 1)
    out = []
    for i in range(0, df.height, size):
        part = df[i : i + size]
        cols = {c: part[c].to_numpy() for c in ("ts_event", *FEATURES)}
        cols["flags"] = np.full(part.height, int(TickFlag.BOOK), np.uint8)
        out.append(FeatureBatch(ins, cols))
    return out


def test_the_live_flow_step_sets_the_drift_gauges(amzn, tmp_path):
    ref_path = tmp_path / "reference.parquet"
    window(amzn, 14, 15).write_parquet(ref_path)
    cfg = DriftSettings(reference=ref_path, window_rows=1_000, every_s=600)
    live = window(amzn, 18.5, 19.5)
    flow = Dataflow("drift_test")
    batches = op.input("in", flow, TestingSource(feature_batches(live, 500)))
    add_drift(op.key_on("key", batches, lambda b: b.symbol), cfg)
    run_main(flow)
    ref = window(amzn, 14, 15)
    # Measured at row 1 000 (full), then 600 s of event time later, ...: the last measure's
    # window is the 1 000 rows up to the first batch end at or past its due time.
    ts = live["ts_event"].to_numpy()
    due, last_end = None, None
    for end in range(500, live.height + 500, 500):
        end = min(end, live.height)
        if end >= 1_000 and (due is None or ts[end - 1] >= due):
            due, last_end = ts[end - 1] + 600 * 10**9, end
    for c in FEATURES:
        want = psi(ref[c].to_numpy().astype(float), live[c][last_end - 1_000 : last_end].to_numpy())
        got = metrics.feature_drift.labels(c, "psi", "AMZN")._value.get()
        assert got == pytest.approx(want, rel=1e-9), c


@pytest.fixture(scope="module")
def replay_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("drift-run")
    settings = Settings(runs_dir=out, runtime_dir=out / "runtime")
    run_replay(settings, lobster("AMZN", "orderbook", 1), run_dir=out / "run")
    return out / "run"


def test_drift_command_reports_features_and_predictions_as_its_library_does(
    replay_run, tmp_path, capsys, monkeypatch
):
    from flowsense.cli import main

    out = tmp_path / "report.html"
    ref_w, live_w = "2012-06-21T14:00/2012-06-21T15:00", "2012-06-21T18:30/2012-06-21T19:30"
    argv = ["flowsense", "drift", str(replay_run), "--reference-window", ref_w,
            "--live-window", live_w, "--out", str(out), "--json"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    capsys.readouterr()
    main()
    printed = json.loads(capsys.readouterr().out)
    report, _ = drift_report(
        replay_run,
        replay_run,
        reference_window=(at(14), at(15)),
        live_window=(at(18.5), at(19.5)),
        config=DriftConfig(),
    )
    assert printed == json.loads(json.dumps(report | {"out": str(out)}))
    assert printed["drifted"] and printed["prediction_drifted"]
    assert [f["feature"] for f in printed["prediction"]] == [
        "prediction.confidence",
        "prediction.direction",
    ]
    page = out.read_text()
    assert page.count("data:image/png;base64,") == len(FEATURES) + 2
    assert "<h1>Drift: drift; predictions: drift</h1>" in page


def test_drift_command_rejects_the_same_window_twice(replay_run):
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "flowsense", "drift", str(replay_run)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
