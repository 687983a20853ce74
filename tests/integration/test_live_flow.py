"""The live dataflow on the real servers agrees row for row with the replay of the same input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
import pytest
import redis
from bytewax.testing import run_main
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dataflows.live import build_live_flow
from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from dataflows.stores.questdb import execute
from dataflows.stores.redis import RedisSink
from flowsense.commands.replay import run_replay
from flowsense.settings import Settings
from schemas import topics, wire

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("live-sample")
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(SRC / name) as f:
                lines = [next(f) for _ in range(20_000)]
            (folder / name).write_text("".join(lines))
    return folder


def _reset(settings: Settings) -> None:
    """Empty topics and tables, so that this test sees only its own rows."""
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    gone = [t for t in topics.ALL if t in existing]
    for f in admin.delete_topics(gone, operation_timeout=30).values() if gone else []:
        f.result()
    for _ in range(100):  # deletion is asynchronous
        if not set(gone) & set(admin.list_topics(timeout=10).topics):
            break
        time.sleep(0.1)
    new = [
        NewTopic(t, settings.kafka.partitions if t == topics.TICKS_RAW else 1, 1)
        for t in topics.ALL
    ]
    for _ in range(50):
        futures = admin.create_topics(new)
        try:
            for f in futures.values():
                f.result()
            break
        except Exception as e:  # the broker may still be deleting
            if "already exists" in str(e) or "marked for deletion" in str(e):
                time.sleep(0.2)
                continue
            raise
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('orders')").fetchone()[0]:
            conn.execute("TRUNCATE orders, fills, trades, audit_log")
    for table in ("ticks", "features", "predictions"):
        execute(settings.questdb, f"DROP TABLE IF EXISTS {table}")


def _wal_applied(settings: Settings, table: str, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    n = -1
    while time.monotonic() < deadline:
        n = execute(settings.questdb, f"SELECT count() FROM {table}")["dataset"][0][0]
        if n >= expected:
            time.sleep(0.5)
            return execute(settings.questdb, f"SELECT count() FROM {table}")["dataset"][0][0]
        time.sleep(0.2)
    return n


def _consume_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    c = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": f"t-{time.time()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, eof = [], set()
    deadline = time.monotonic() + 30
    while len(eof) < len(parts) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            eof.add(m.partition())
            continue
        out.append((m.key(), m.value()))
    c.close()
    return out


@pytest.fixture(scope="module")
def live_run(services, sample, tmp_path_factory):
    settings = services
    _reset(settings)
    replay_dir = tmp_path_factory.mktemp("replay") / "run"
    run_replay(settings, sample, run_dir=replay_dir)
    sent = publish(settings.kafka.bootstrap, batches(sample, 1024, None, settings.cache_dir))
    assert sent == 40_000
    junk = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    junk.produce(topics.TICKS_RAW, b"FSW\x01 not a batch", b"JUNK")
    junk.produce(topics.TICKS_RAW, b'{"v": 1, "type": "book"', b"JUNK")
    assert junk.flush(10) == 0
    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))
    return settings, replay_dir


def test_questdb_holds_the_replay_features(live_run):
    settings, replay_dir = live_run
    want = read_table(replay_dir, "features")
    assert _wal_applied(settings, "features", want.height) == want.height == 40_000
    got = pl.DataFrame(
        execute(
            settings.questdb,
            "SELECT symbol, seq, ofi, mid, microprice FROM features ORDER BY symbol, seq",
        )["dataset"],
        schema=["symbol", "seq", "ofi", "mid", "microprice"],
        orient="row",
    )
    want = want.select("symbol", "seq", "ofi", "mid", "microprice").sort("symbol", "seq")
    assert got["seq"].to_list() == want["seq"].to_list()
    np.testing.assert_array_equal(got["ofi"].to_numpy(), want["ofi"].to_numpy())
    np.testing.assert_allclose(got["mid"].to_numpy(), want["mid"].to_numpy())
    assert _wal_applied(settings, "ticks", 40_000) == 40_000
    assert _wal_applied(settings, "predictions", 40_000) == 40_000


def test_postgres_holds_the_replay_orders_and_fills(live_run):
    settings, replay_dir = live_run
    want_orders = read_table(replay_dir, "orders").sort("client_order_id")
    want_fills = read_table(replay_dir, "fills").sort("fill_id")
    with psycopg.connect(settings.postgres.dsn) as conn:
        orders = conn.execute(
            "SELECT client_order_id, side, quantity, status FROM orders ORDER BY 1"
        ).fetchall()
        fills = conn.execute(
            "SELECT fill_id, price, position_after FROM fills ORDER BY 1"
        ).fetchall()
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert len(orders) == want_orders.height > 0
    assert orders == list(
        want_orders.select("client_order_id", "side", "quantity", "status").iter_rows()
    )
    assert fills == list(want_fills.select("fill_id", "price", "position_after").iter_rows())
    assert trades == len(fills)
    assert audit == len(orders) + len(fills)


def test_kafka_output_topics_hold_the_replay_orders(live_run):
    settings, replay_dir = live_run
    msgs = _consume_all(settings, topics.ORDERS)
    ids = sorted(
        i for _, v in msgs for i in wire.decode_table(v)[1].column("client_order_id").to_pylist()
    )
    assert ids == sorted(read_table(replay_dir, "orders")["client_order_id"].to_list())


def test_a_second_run_over_the_same_input_adds_no_rows(live_run):
    settings, _ = live_run
    with psycopg.connect(settings.postgres.dsn) as conn:
        before = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM audit_log)"
        ).fetchone()
    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))
    time.sleep(2)
    assert _wal_applied(settings, "features", 40_000, timeout=5) == 40_000
    with psycopg.connect(settings.postgres.dsn) as conn:
        after = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM audit_log)"
        ).fetchone()
    assert after == before


def test_malformed_messages_are_dead_lettered_and_the_flow_goes_on(live_run):
    settings, _ = live_run
    dead = _consume_all(settings, topics.TICKS_DEADLETTER)
    letters = [json.loads(v) for _, v in dead]
    # A rerun over the same input writes them again; consumers drop repeats by (source, line).
    assert len({(d["source"], d["line"]) for d in letters}) == 2
    assert {d["reason"] for d in letters} == {"malformed_message"}
    assert all(k == b"JUNK" for k, _ in dead)
    assert all(d["source"].startswith("ticks.raw/") for d in letters)


def test_redis_holds_the_latest_values_with_their_ttls(services):
    settings = services
    from dataflows.readers.lobster import read_lobster
    from operators.features import FeatureState
    from operators.predictors import make_predictor
    from schemas.trading import OrderFilled, Side

    ticks = read_lobster(SRC / "AMZN_2012-06-21_34200000_57600000_message_1.csv").ticks.take(
        slice(0, 100)
    )
    features = FeatureState(ticks.instrument).update(ticks)
    predictions = make_predictor("ofi").update(features)
    fill = OrderFilled("f-1", "o-1", "AMZN", 1, Side.BUY, 10.0, 223.95, 0.0, 10.0)
    part = RedisSink(settings.redis.url).build("hot_redis", 0, 1)
    part.write_batch([("AMZN", features), ("AMZN", predictions), ("AMZN", [fill])])
    r = redis.Redis.from_url(settings.redis.url)
    tick = json.loads(r.get("tick:AMZN"))
    assert tick["seq"] == 99 and tick["mid"] == features["mid"][-1]
    assert json.loads(r.get("pred:AMZN"))["direction"] == int(predictions.columns["direction"][-1])
    assert r.hget("pos:1", "AMZN") == b"10.0"
    assert 0 < r.pttl("tick:AMZN") <= 100
    assert 100 < r.pttl("pred:AMZN") <= 1_000
    assert 1_000 < r.pttl("pos:1") <= 5_000
    time.sleep(0.15)
    assert r.get("tick:AMZN") is None  # a stale tick is never served
    part.close()
