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
from confluent_kafka import Producer

from dataflows.archive import run_archive
from dataflows.live import build_live_flow
from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from dataflows.stores.questdb import execute
from dataflows.stores.redis import RedisSink
from flowsense.commands.replay import run_replay
from schemas import topics, wire
from tests.integration.helpers import consume_all, reset, wal_applied

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


@pytest.fixture(scope="module")
def live_run(services, sample, tmp_path_factory):
    # The account step merges the symbols in event time once it has seen each of them: named
    # here, as a deployment names them (the replay knows them from its files).
    # merge_wait_ms None: an exact event-time merge over the backlog, as the replay does
    kafka = services.kafka.model_copy(update={"symbols": ["AMZN", "GOOG"], "merge_wait_ms": None})
    settings = services.model_copy(update={"kafka": kafka})
    reset(settings)
    replay_dir = tmp_path_factory.mktemp("replay") / "run"
    run_replay(settings, sample, run_dir=replay_dir)
    sent = publish(settings.kafka.bootstrap, batches(sample, 1024, None, settings.cache_dir))
    assert sent == 40_000
    junk = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    junk.produce(topics.TICKS_RAW, b"FSW\x01 not a batch", b"JUNK")
    junk.produce(topics.TICKS_RAW, b'{"v": 1, "type": "book"', b"JUNK")
    assert junk.flush(10) == 0
    run_main(build_live_flow(settings, from_beginning=True, until_idle_s=3.0))
    run_archive(settings, until_idle_s=1.0)  # QuestDB catches up from the output topics
    return settings, replay_dir


def test_questdb_holds_the_replay_features(live_run):
    settings, replay_dir = live_run
    want = read_table(replay_dir, "features")
    assert wal_applied(settings, "features", want.height) == want.height == 40_000
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
    assert wal_applied(settings, "ticks", 40_000) == 40_000
    assert wal_applied(settings, "predictions", 40_000) == 40_000


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
    msgs = consume_all(settings, topics.ORDERS)
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
    run_archive(settings, until_idle_s=1.0)  # QuestDB catches up from the output topics
    time.sleep(2)
    assert wal_applied(settings, "features", 40_000, timeout=5) == 40_000
    with psycopg.connect(settings.postgres.dsn) as conn:
        after = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM audit_log)"
        ).fetchone()
    assert after == before


def test_malformed_messages_are_dead_lettered_and_the_flow_goes_on(live_run):
    settings, _ = live_run
    dead = consume_all(settings, topics.TICKS_DEADLETTER)
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
    part.close()  # the sink writes from a thread of its own: closing waits for it
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


def test_flowsense_live_fills_questdb_through_its_archiver(services, sample):
    """As a user runs it: ``flowsense publish``, then ``flowsense live``, whose archiver
    process copies every tick, feature and prediction row into QuestDB before it ends."""
    import subprocess
    import sys

    reset(services)

    def flowsense(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "flowsense", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    published = flowsense("publish", "--data", str(sample), "--json")
    assert published.returncode == 0, published.stderr
    sent = json.loads(published.stdout)["ticks"]
    assert sent == 40_000
    ran = flowsense("live", "--from-beginning", "--until-idle", "2", "--fresh")
    assert ran.returncode == 0, ran.stderr
    for table in ("ticks", "features", "predictions"):
        assert wal_applied(services, table, sent, timeout=30) == sent


def test_until_idle_counts_every_partition_not_each_alone(services, sample):
    """``--until-idle`` ends the flow after that long without a message on any partition:
    a symbol (partition) that is quiet for longer while another still streams must not
    be closed on its own and lose what it sends later."""
    import threading

    reset(services)
    items = batches(sample, 256, None, services.cache_dir)
    amzn = [b for b in items if b.symbol == "AMZN"][:30]
    goog = [b for b in items if b.symbol == "GOOG"][:4]

    def stream() -> None:  # AMZN for ~3 s; GOOG only at the end
        time.sleep(0.5)
        p = Producer({"bootstrap.servers": services.kafka.bootstrap, "linger.ms": 0})
        for b in amzn:
            p.produce(topics.TICKS_RAW, wire.encode_ticks(b), b"AMZN")
            p.flush(5)
            time.sleep(0.1)
        for b in goog:
            p.produce(topics.TICKS_RAW, wire.encode_ticks(b), b"GOOG")
        p.flush(5)

    producer = threading.Thread(target=stream)
    producer.start()
    run_main(build_live_flow(services, from_beginning=True, until_idle_s=1.5))
    producer.join()
    rows: dict[str, int] = {}
    for key, value in consume_all(services, topics.FEATURES):
        rows[key.decode()] = rows.get(key.decode(), 0) + wire.decode_table(value)[1].num_rows
    assert rows == {"AMZN": sum(map(len, amzn)), "GOOG": sum(map(len, goog))}
