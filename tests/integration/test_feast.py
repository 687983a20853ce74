"""Feast against the real Redis: apply and materialise from the features the replay
dataflow wrote, online features equal to the dataflow's newest rows, point-in-time
correct historical features, and the live flow's push to the online store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from flowsense.settings import FeastConfig, Settings
from tests.integration.api import bearer, login, make_user, running_api
from tests.net import free_port

pytestmark = pytest.mark.integration

NAMES = ["ofi", "spread", "microprice", "ofi_1", "ofi_2", "ofi_3", "ofi_4", "ofi_5"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> pl.DataFrame:
    """A replay of real AMZN and GOOG books (5 levels), and the features it wrote."""
    from tests.conftest import lobster

    data = tmp_path_factory.mktemp("feast-data")
    for symbol in ("AMZN", "GOOG"):
        for kind in ("message", "orderbook"):
            src = lobster(symbol, kind, 5)
            with open(src) as f:
                (data / src.name).write_text("".join(next(f) for _ in range(4000)))
    out = tmp_path_factory.mktemp("feast-run")
    run_replay(Settings(runs_dir=out, runtime_dir=out / "rt"), data, run_dir=out / "run")
    return out / "run"


@pytest.fixture
def settings(services, tmp_path, monkeypatch) -> Settings:
    project = f"test_{tmp_path.name}"[-60:]  # its own keys in Redis, whatever ran before
    monkeypatch.setenv("FLOWSENSE_FEAST__DIR", str(tmp_path / "feast"))
    monkeypatch.setenv("FLOWSENSE_FEAST__PROJECT", project)
    return services.model_copy(
        update={"feast": FeastConfig(dir=tmp_path / "feast", project=project)}
    )


def cli(monkeypatch, capsys, *args: str) -> dict:
    from flowsense.cli import main

    monkeypatch.setattr("sys.argv", ["flowsense", *args, "--json"])
    capsys.readouterr()
    main()
    return json.loads(capsys.readouterr().out)


def test_apply_materialize_and_online_features_are_the_dataflows(
    run, settings, monkeypatch, capsys
):
    from flowsense.feature_repo import online

    features = read_table(run, "features")
    applied = cli(monkeypatch, capsys, "feast", "apply", "--source", str(run))
    assert applied["rows"] == features.height and applied["symbols"] == ["AMZN", "GOOG"]
    cli(monkeypatch, capsys, "feast", "materialize")
    got = cli(monkeypatch, capsys, "feast", "online", "AMZN", "GOOG", "NOPE")["features"]
    assert got == online(settings, ["AMZN", "GOOG", "NOPE"])
    for symbol in ("AMZN", "GOOG"):
        rows = features.filter(pl.col("symbol") == symbol)
        newest = rows.filter(pl.col("ts_event") == rows["ts_event"].max())
        assert newest.height == 1  # one newest row: no tie for Feast to break
        assert got[symbol] == {n: newest[n][0] for n in NAMES}, symbol
    assert got["NOPE"] == dict.fromkeys(NAMES)
    # The API serves the same online row.
    port = free_port()
    api_settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"port": port})}
    )
    with running_api(api_settings) as api, api.client() as c:
        headers = bearer(login(api, make_user(api_settings)))
        r = c.get("/api/v1/features/GOOG/online", headers=headers)
        missing = c.get("/api/v1/features/NOPE/online", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["features"] == got["GOOG"]
    assert missing.status_code == 404


def test_historical_features_are_point_in_time_correct(
    run, settings, tmp_path, monkeypatch, capsys
):
    from flowsense.feature_repo import apply, historical

    features = read_table(run, "features")
    apply(settings, features)
    amzn = features.filter(pl.col("symbol") == "AMZN")
    unique = amzn.group_by("ts_event").len().filter(pl.col("len") == 1)["ts_event"].sort()
    picks = unique[:: max(1, len(unique) // 7)].to_numpy()
    # At a row's own time, 1 ns after it, and (for the first) 1 ns before the first row.
    times = np.concatenate([picks, picks + 1, [amzn["ts_event"].min() - 1]])
    entities = pl.DataFrame({"symbol": ["AMZN"] * len(times), "ts_event": times})
    got = historical(settings, entities)
    # Independent answer: the newest row at or before each time, within the TTL.
    ttl_ns = int(settings.feast.ttl_s * 1e9)
    want = entities.sort("ts_event").join_asof(
        amzn.sort("ts_event").select("ts_event", *NAMES),
        on="ts_event",
        strategy="backward",
        tolerance=ttl_ns,
        check_sortedness=False,
    )
    g, w = got.sort("ts_event"), want.sort("ts_event")
    assert g.height == len(times) and g["ts_event"].equals(w["ts_event"])
    assert g.select(NAMES).equals(w.select(NAMES))
    assert g.filter(pl.col("ts_event") < amzn["ts_event"].min())["ofi"].is_null().all()
    # The command training uses writes the same rows.
    entities.write_parquet(tmp_path / "entities.parquet")
    report = cli(monkeypatch, capsys, "feast", "historical", str(tmp_path / "entities.parquet"),
                 "--out", str(tmp_path / "train.parquet"))  # fmt: skip
    assert report["rows"] == len(times)
    assert pl.read_parquet(tmp_path / "train.parquet").equals(got)


def test_the_live_push_reaches_the_online_store(run, settings):
    from dataflows.stores.feast import FeastPushSink
    from flowsense.feature_repo import apply, online
    from schemas.features import FeatureBatch
    from schemas.market import Instrument

    apply(settings, read_table(run, "features"))
    ts = int(datetime(2030, 1, 2, tzinfo=UTC).timestamp() * 1e9)
    cols = {"ts_event": np.array([ts - 5, ts], np.int64)}
    for i, n in enumerate(NAMES):
        cols[n] = np.array([-1.0, 1000.0 + i])
    batch = FeatureBatch(Instrument("PUSHED", 10_000, 1, 100, 5), cols)
    part = FeastPushSink(settings).build("features_feast", 0, 1)
    part.write_batch([("PUSHED", batch)])
    assert online(settings, ["PUSHED"])["PUSHED"] == {n: 1000.0 + i for i, n in enumerate(NAMES)}
