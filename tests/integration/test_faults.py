"""Servers restarting under a running ``flowsense live``: PostgreSQL, QuestDB, then Kafka.

Ticks stream in while each server in turn is stopped and started again; the
flow and its archiver wait them out. At the end every output equals the
replay of the same rows: PostgreSQL orders and fills, QuestDB features (each
once), and every feature row on the output topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer

from dataflows.publish import batches
from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from flowsense.services import down, up
from schemas import topics, wire
from tests.integration.helpers import consume_all, reset, wal_applied

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"
ROOT = Path(__file__).resolve().parents[2]
ROWS = 10_000


def test_postgres_questdb_and_kafka_restarts_lose_and_double_nothing(services, tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(SRC / name) as f:
                (sample / name).write_text("".join(next(f) for _ in range(ROWS)))
    exact = services.kafka.model_copy(update={"symbols": ["AMZN", "GOOG"], "merge_wait_ms": None})
    settings = services.model_copy(update={"kafka": exact})
    reset(settings)
    run_replay(settings, sample, run_dir=tmp_path / "replay")
    items = batches(sample, 128, None, settings.cache_dir)

    def stream(part: list, seconds: float) -> None:
        p = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 0})
        for b in part:
            p.produce(topics.TICKS_RAW, wire.encode_ticks(b), b.symbol.encode())
            p.poll(0)
            time.sleep(seconds / len(part))
        assert p.flush(120) == 0

    stream(items[:10], 0)
    env = os.environ | {
        "FLOWSENSE_KAFKA__SYMBOLS": json.dumps(["AMZN", "GOOG"]),
        "FLOWSENSE_KAFKA__MERGE_WAIT_MS": "",
    }
    cmd = [sys.executable, "-m", "flowsense", "live", "--from-beginning", "--until-idle", "25",
           "--no-recovery"]  # fmt: skip
    log = open(tmp_path / "live.log", "w+")  # noqa: SIM115
    live = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log, text=True)
    producer = threading.Thread(target=stream, args=(items[10:], 18.0))
    try:
        deadline = time.monotonic() + 120
        while not consume_all(settings, topics.FEATURES):  # the flow is up: it has output
            assert live.poll() is None, (tmp_path / "live.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the flow made no output"
            time.sleep(0.2)
        producer.start()
        for name in ("postgres", "questdb", "kafka"):
            time.sleep(3)
            assert live.poll() is None, (tmp_path / "live.log").read_text()[-3000:]
            down(settings, [name])
            time.sleep(2)
            up(settings, [name])
        producer.join()
        live.wait(timeout=300)
    finally:
        up(settings)  # whatever happened, leave the servers up for the other tests
        if live.poll() is None:
            live.kill()
    err = (tmp_path / "live.log").read_text()
    assert live.returncode == 0, err[-3000:]

    want_orders = read_table(tmp_path / "replay", "orders")
    want_fills = read_table(tmp_path / "replay", "fills")
    with psycopg.connect(settings.postgres.dsn) as conn:
        orders = [r[0] for r in conn.execute("SELECT client_order_id FROM orders")]
        fills = [r[0] for r in conn.execute("SELECT fill_id FROM fills")]
    assert want_orders.height > 0
    assert sorted(orders) == sorted(want_orders["client_order_id"].to_list())
    assert sorted(fills) == sorted(want_fills["fill_id"].to_list())

    want = read_table(tmp_path / "replay", "features")
    rows = set()
    for key, value in consume_all(settings, topics.FEATURES):
        rows |= {(key.decode(), q) for q in wire.decode_table(value)[1].column("seq").to_pylist()}
    assert rows == set(zip(want["symbol"].to_list(), want["seq"].to_list(), strict=True))
    assert wal_applied(settings, "features", want.height, timeout=60) == want.height
