"""The account step's decisions in the live flow reach Kafka and PostgreSQL as in the replay.

A deliberately bad predictor with a small account and limit orders: orders,
denials (``halted``), cancellations, partial fills and the ``HighDrawdown``
alert, written by the live flow, agree with the replay of the same input;
and ``flowsense risk reset`` reaches the control topic in the flow's format.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from bytewax.testing import run_main

from dataflows.live import build_live_flow, decode_control
from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from flowsense.commands.risk import send_reset
from schemas import topics, wire
from schemas.market import Reject
from schemas.trading import RiskReset
from tests.integration.helpers import consume_all, reset

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"


@pytest.fixture(scope="module")
def risk_run(services, tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk-sample")
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(SRC / name) as f:
                (folder / name).write_text("".join(next(f) for _ in range(20_000)))
    settings = services.model_copy(
        update={
            # an exact event-time merge over the backlog, as the replay does
            "kafka": services.kafka.model_copy(
                update={"symbols": ["AMZN", "GOOG"], "merge_wait_ms": None}
            ),
            "replay": services.replay.model_copy(update={"predictor": "inverted"}),
            "risk": services.risk.model_copy(update={"capital": 1_500.0, "daily_loss": 1.0}),
            "broker": services.broker.model_copy(update={"order_type": "limit"}),
        }
    )
    reset(settings)
    replay_dir = tmp_path_factory.mktemp("risk-replay") / "run"
    summary = run_replay(settings, folder, run_dir=replay_dir)
    publish(settings.kafka.bootstrap, batches(folder, 1024, None, settings.cache_dir))
    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))
    return settings, replay_dir, summary


def test_the_replay_halts_with_cancels_and_partial_fills(risk_run):
    _, replay_dir, summary = risk_run
    assert summary["halted"] and summary["denied_by_rule"].get("halted", 0) > 0
    orders = read_table(replay_dir, "orders")
    assert (orders["status"] == "cancelled").sum() > 0
    fills = read_table(replay_dir, "fills")
    assert fills["client_order_id"].n_unique() < fills.height  # some orders filled in parts


def test_postgres_holds_every_decision_and_the_audit_log_all_of_them(risk_run):
    settings, replay_dir, _ = risk_run
    orders = read_table(replay_dir, "orders")
    submitted = orders.filter(orders["status"] != "cancelled").sort("client_order_id")
    cancelled = orders.filter(orders["status"] == "cancelled").sort("client_order_id")
    fills = read_table(replay_dir, "fills").sort("fill_id")
    alerts = read_table(replay_dir, "alerts").sort("alert_id")
    with psycopg.connect(settings.postgres.dsn) as conn:
        pg_orders = conn.execute(
            "SELECT client_order_id, status, coalesce(rule, '') FROM orders ORDER BY 1"
        ).fetchall()
        pg_cancels = conn.execute(
            "SELECT client_order_id, quantity, reason FROM order_events ORDER BY 1"
        ).fetchall()
        pg_fills = conn.execute("SELECT fill_id, quantity, price FROM fills ORDER BY 1").fetchall()
        pg_alerts = conn.execute(
            "SELECT alert_id, severity, name, message FROM alerts ORDER BY 1"
        ).fetchall()
        audit = dict(conn.execute("SELECT kind, count(*) FROM audit_log GROUP BY 1").fetchall())
    assert pg_orders == list(submitted.select("client_order_id", "status", "rule").iter_rows())
    assert pg_cancels == list(cancelled.select("client_order_id", "quantity", "rule").iter_rows())
    assert pg_fills == list(fills.select("fill_id", "quantity", "price").iter_rows())
    assert pg_alerts == list(alerts.select("alert_id", "severity", "name", "message").iter_rows())
    assert [a[2] for a in pg_alerts] == ["HighDrawdown"] and pg_alerts[0][1] == "critical"
    assert audit == {
        "order_accepted": int((submitted["status"] == "accepted").sum()),
        "order_denied": int((submitted["status"] == "denied").sum()),
        "order_cancelled": cancelled.height,
        "fill": fills.height,
        "alert": 1,
    }


def test_kafka_alerts_topic_holds_the_halt(risk_run):
    settings, replay_dir, _ = risk_run
    msgs = consume_all(settings, topics.ALERTS)
    got = [wire.decode_table(v)[1].to_pylist() for _, v in msgs]
    names = [(r["alert_id"], r["name"], r["severity"]) for rows in got for r in rows]
    want = read_table(replay_dir, "alerts")
    assert names == list(want.select("alert_id", "name", "severity").iter_rows())


def test_risk_reset_reaches_the_control_topic_in_the_flows_format(risk_run):
    settings, _, _ = risk_run
    sent = send_reset(settings, "alice", "limits checked")
    msgs = consume_all(settings, topics.RISK_CONTROL)
    assert msgs and msgs[-1][0] == b"paper"

    class Msg:  # the two attributes decode_control reads of a Kafka message
        value = msgs[-1][1]

    got = decode_control(Msg())
    assert got == RiskReset("paper", sent["ts_event"], "alice", "limits checked")

    class Bad:
        value, topic, partition, offset = b'{"v": 1, "type": "nope"}', "risk.control", 0, 7

    refused = decode_control(Bad())
    assert isinstance(refused, Reject) and "not a v1 risk_reset" in refused.detail
