"""What the serving layer adds for the dashboard: the order book to 10 levels in the
``ticks`` rooms, recent alerts over REST, backtest equity curves, and the static export
served at ``/`` behind the API's own routes."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from flowsense.commands.replay import run_replay
from flowsense.settings import Settings
from serving.app import create_app
from serving.backtests import equity_curve
from serving.fanout import TICK_FIELDS, Fanout
from serving.metrics import Metrics
from serving.stores.embedded import EmbeddedStore


def test_replay_publishes_the_last_book_to_ten_levels(tmp_path, lobster_sample):
    """The ``book`` row after the replay equals the last line of GOOG's 10-level LOBSTER
    order-book file, read here straight from the CSV."""
    data = lobster_sample("GOOG", 10, 800)
    store = EmbeddedStore()
    settings = Settings(runtime_dir=tmp_path / "rt", runs_dir=tmp_path / "runs")
    run_replay(settings, data, run_dir=tmp_path / "run", latest=store)
    book = store.latest("book", "GOOG")
    assert book is not None
    book_file = next(tmp_path.glob("GOOG_*_orderbook_10.csv"))
    last = [int(v) for v in book_file.read_text().splitlines()[-1].split(",")]
    # LOBSTER columns: ask price, ask size, bid price, bid size, level by level; $ x 10 000
    asks = [[last[4 * i] / 10_000, float(last[4 * i + 1])] for i in range(10)]
    bids = [[last[4 * i + 2] / 10_000, float(last[4 * i + 3])] for i in range(10)]
    assert book["asks"] == asks
    assert book["bids"] == bids
    assert book["seq"] == store.latest("features", "GOOG")["seq"]


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_fanout_puts_the_book_into_the_ticks_room_whatever_comes_first():
    f = Fanout(None, 10, Metrics())
    feat = {k: 1.0 for k in TICK_FIELDS} | {"symbol": "X", "ts_event": 5, "seq": 9, "ofi": 3.0}
    book = {"ts_event": 5, "symbol": "X", "seq": 9, "bids": [[99.0, 5.0]], "asks": [[101.0, 7.0]]}
    f.publish("features", "X", _table([feat]))
    f.publish("book", "X", _table([book]))
    tick = f.latest["ticks.X"]
    assert tick["bids"] == [[99.0, 5.0]] and tick["asks"] == [[101.0, 7.0]]
    assert {k: tick[k] for k in TICK_FIELDS} == {k: feat[k] for k in TICK_FIELDS}
    assert "ofi" not in tick  # the ticks room keeps its fields: best level, mid, + book
    f.latest.clear()
    f.publish("features", "X", _table([feat | {"seq": 10}]))  # book known from before
    assert f.latest["ticks.X"]["seq"] == 10 and f.latest["ticks.X"]["asks"] == [[101.0, 7.0]]


def test_equity_curve_marks_positions_at_each_bar_mid():
    fills = [
        {
            "ts_event": 1,
            "symbol": "A",
            "side": 1,
            "quantity": 10,
            "price": 100.0,
            "fee": 0.0,
            "position_after": 10,
        },
        {
            "ts_event": 3,
            "symbol": "A",
            "side": -1,
            "quantity": 10,
            "price": 102.0,
            "fee": 1.0,
            "position_after": 0,
        },
    ]
    bars = [
        {"ts_event": 2, "symbol": "A", "mid": 101.0},
        {"ts_event": 2, "symbol": "B", "mid": 50.0},
        {"ts_event": 4, "symbol": "A", "mid": 99.0},
    ]
    # t=2: cash -1000 + 10 x 101 = +10; t=4: flat, cash -1000 + 1020 - 1 = +19
    assert equity_curve(fills, bars, 1000.0) == [[2, 1010.0], [2, 1010.0], [4, 1019.0]]
    many = [{"ts_event": t, "symbol": "A", "mid": 1.0} for t in range(5000)]
    curve = equity_curve([], many, 7.0)
    assert len(curve) == 600 and curve[-1] == [4999, 7.0] and curve[0] == [0, 7.0]


@pytest.fixture
def client(tmp_path):
    web = tmp_path / "out"
    (web / "symbol").mkdir(parents=True)
    (web / "index.html").write_text("<html>DASHBOARD</html>")
    (web / "symbol" / "index.html").write_text("<html>SYMBOL PAGE</html>")
    settings = Settings(runtime_dir=tmp_path / "rt", serve={"web_dir": str(web)})
    store = EmbeddedStore()
    with TestClient(create_app(settings, embedded=store)) as c:
        yield c, store


def test_dashboard_is_served_at_root_and_the_api_keeps_its_routes(client):
    c, _ = client
    assert c.get("/").text == "<html>DASHBOARD</html>"
    assert c.get("/symbol/").text == "<html>SYMBOL PAGE</html>"
    assert c.get("/api/v1/health").json()["mode"] == "embedded"
    assert "swagger" in c.get("/docs").text.lower()
    assert c.get("/openapi.json").json()["info"]["title"] == "FlowSense API"
    assert "flowsense_api_requests" in c.get("/metrics").text
    assert c.get("/api/v1/nothing-here").status_code == 404


def test_no_dashboard_route_without_a_build(tmp_path):
    settings = Settings(runtime_dir=tmp_path / "rt", serve={"web_dir": str(tmp_path / "none")})
    with TestClient(create_app(settings, embedded=EmbeddedStore())) as c:
        assert c.get("/").status_code == 404
        assert c.get("/api/v1/health").status_code == 200


def test_alerts_route_answers_the_newest_first(client):
    c, store = client
    assert c.get("/api/v1/alerts").json() == []

    def alert(ts: int, name: str, symbol: str) -> pa.Table:
        return _table(
            [
                {
                    "ts_event": ts,
                    "symbol": symbol,
                    "alert_id": f"paper:{name}:{ts}",
                    "severity": "critical",
                    "name": name,
                    "message": f"{name} at {ts}",
                }
            ]
        )

    store.record("alerts", "AMZN", alert(10, "HighDrawdown", "AMZN"))
    store.record("alerts", "GOOG", alert(30, "Other", "GOOG"))
    store.record("alerts", "AMZN", alert(20, "Later", "AMZN"))
    got = c.get("/api/v1/alerts").json()
    assert [a["ts_event"] for a in got] == [30, 20, 10]
    assert got[2]["name"] == "HighDrawdown" and got[2]["severity"] == "critical"
    assert [a["ts_event"] for a in c.get("/api/v1/alerts?limit=1").json()] == [30]
    assert c.get("/api/v1/alerts?limit=0").status_code == 422


def test_backtest_reports_an_equity_curve_and_trades(tmp_path, lobster_sample):
    """The curve ends at the capital plus the run's total PnL (both marked at the last mid),
    and the trades are the run's last fills."""
    import time

    data = lobster_sample("AMZN", 5, 3000)
    settings = Settings(
        runtime_dir=tmp_path / "rt",
        runs_dir=tmp_path / "runs",
        serve={"backtest_root": str(tmp_path), "web_dir": str(tmp_path / "none")},
    )
    with TestClient(create_app(settings, embedded=EmbeddedStore())) as c:
        job = c.post("/api/v1/backtest", json={"data": data.name, "predictor": "ofi"}).json()
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            job = c.get(f"/api/v1/backtest/{job['id']}").json()
    assert job["status"] == "done", job["error"]
    s = job["summary"]
    from dataflows.sinks import read_table

    fills = read_table(tmp_path / "runs" / f"backtest-{job['id']}", "fills")
    assert len(fills) > 0
    assert [t["ts_event"] for t in s["recent_fills"]] == fills["ts_event"].tail(200).to_list()
    assert isinstance(s["trades"], int)  # the replay summary's own fields are kept
    curve = s["equity_curve"]
    assert len(curve) > 10 and all(a[0] <= b[0] for a, b in itertools.pairwise(curve))
    # the replay's summary marks the position at the last mid, as the last bar does
    assert curve[-1][1] == pytest.approx(settings.risk.capital + s["pnl"], abs=1e-6)
