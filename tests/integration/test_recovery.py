"""Crash recovery: ``flowsense live -w 2`` killed with SIGKILL mid-stream, restarted, loses and
doubles nothing.

Ticks are published while the flow runs; the flow is killed at random moments
(seeded) three times and restarted each time with the same command, which
resumes from its last snapshot. Every output is then compared with the
replay of the same rows: PostgreSQL orders, fills, trades and audit log, and
QuestDB (through the archiver) must hold each row exactly once; the output
topics must hold each row at least once (a crash re-sends the epoch in
flight: consumers drop repeats by key).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from dataflows.archive import run_archive
from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from schemas import topics, wire
from tests.integration.helpers import consume_all, reset, reset_topics, wal_applied
from tests.net import free_port

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"
ROWS = 15_000
ROOT = Path(__file__).resolve().parents[2]


def _features_messages(settings) -> int:
    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "t-hw"})
    try:
        meta = c.list_topics(topics.FEATURES, timeout=10).topics[topics.FEATURES]
        return sum(
            c.get_watermark_offsets(TopicPartition(topics.FEATURES, p), timeout=10)[1]
            for p in meta.partitions
        )
    finally:
        c.close()


def _sample(folder: Path) -> Path:
    folder.mkdir()
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(SRC / name) as f:
                (folder / name).write_text("".join(next(f) for _ in range(ROWS)))
    return folder


def _features_rows(settings) -> list[tuple[str, int]]:
    rows = []
    for key, value in consume_all(settings, topics.FEATURES):
        rows += [(key.decode(), q) for q in wire.decode_table(value)[1].column("seq").to_pylist()]
    return rows


def test_two_processes_give_the_replays_outputs(services, tmp_path):
    """``flowsense live -i 0|1 -a A;B``: a cluster of two processes, one worker each."""
    sample = _sample(tmp_path / "sample")
    exact = services.kafka.model_copy(update={"symbols": ["AMZN", "GOOG"], "merge_wait_ms": None})
    settings = services.model_copy(update={"kafka": exact})
    reset(settings)
    run_replay(settings, sample, run_dir=tmp_path / "replay")
    publish(settings.kafka.bootstrap, batches(sample, 256, None, settings.cache_dir))
    env = os.environ | {
        "FLOWSENSE_RECOVERY__DIR": str(tmp_path / "recovery"),
        "FLOWSENSE_KAFKA__SYMBOLS": json.dumps(["AMZN", "GOOG"]),
        "FLOWSENSE_KAFKA__MERGE_WAIT_MS": "",
    }
    ports = [free_port(), free_port()]
    peers = ";".join(f"127.0.0.1:{p}" for p in ports)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowsense",
                "live",
                "-i",
                str(i),
                "-a",
                peers,
                "--from-beginning",
                "--until-idle",
                "3",
                "--no-archive",
            ],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    want = read_table(tmp_path / "replay", "features")
    rows = _features_rows(settings)
    assert sorted(rows) == sorted(zip(want["symbol"].to_list(), want["seq"].to_list(), strict=True))
    want_orders = read_table(tmp_path / "replay", "orders")
    with psycopg.connect(settings.postgres.dsn) as conn:
        orders = [r[0] for r in conn.execute("SELECT client_order_id FROM orders")]
    assert want_orders.height > 0
    assert sorted(orders) == sorted(want_orders["client_order_id"].to_list())


def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(services, tmp_path):
    sample = _sample(tmp_path / "sample")
    exact = services.kafka.model_copy(update={"symbols": ["AMZN", "GOOG"], "merge_wait_ms": None})
    settings = services.model_copy(update={"kafka": exact})
    reset(settings)
    run_replay(settings, sample, run_dir=tmp_path / "replay")
    items = batches(sample, 128, None, settings.cache_dir)

    # A warm-up backlog of a quarter of the rows, then a stream: a restart that started over
    # instead of resuming would repeat at least the quarter (see the repeats bound below).
    warm, rest = items[: len(items) // 4], items[len(items) // 4 :]

    def stream(batches_: list) -> None:  # ~20 s of ticks, while the flow runs, dies, resumes
        p = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 0})
        for b in batches_:
            p.produce(topics.TICKS_RAW, wire.encode_ticks(b), b.symbol.encode())
            p.poll(0)
            if batches_ is rest:
                time.sleep(20.0 / len(rest))
        p.flush(10)

    env = os.environ | {
        "FLOWSENSE_RECOVERY__DIR": str(tmp_path / "recovery"),
        "FLOWSENSE_RECOVERY__SNAPSHOT_S": "0.2",
        "FLOWSENSE_KAFKA__SYMBOLS": json.dumps(["AMZN", "GOOG"]),
        "FLOWSENSE_KAFKA__MERGE_WAIT_MS": "",
    }
    cmd = [sys.executable, "-m", "flowsense", "live", "-w", "2", "--from-beginning",
           "--until-idle", "3", "--no-archive"]  # fmt: skip
    rng = random.Random(11)
    stream(warm)
    producer = threading.Thread(target=stream, args=(rest,))
    kills: list[int] = []
    log = open(tmp_path / "live.log", "a+")  # noqa: SIM115 (a file: a pipe could fill and block)
    proc = None
    for i in range(3):
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log)
        before = _features_messages(settings)
        deadline = time.monotonic() + 120
        while _features_messages(settings) == before and proc.poll() is None:
            assert time.monotonic() < deadline, "the flow made no output"
            time.sleep(0.02)
        if i == 0:
            producer.start()  # the flow is up (its outputs move): the stream begins
        if proc.poll() is not None or (i > 0 and not producer.is_alive()):
            break  # nothing left to kill mid-stream: let this run end on its own
        time.sleep(rng.uniform(1.0, 2.0))  # a random point, after a few 0.2 s snapshots
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append(len(set(_features_rows(settings))))  # distinct rows out before this kill
        proc = None
    producer.join()
    if proc is None:  # the last run was killed: one more, to the end
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log)
    proc.wait(timeout=300)
    log.seek(0)
    assert proc.returncode == 0, log.read()[-3000:]
    assert kills  # killed mid-stream, at one to three random points

    # PostgreSQL: every order, fill, trade and audit row exactly once.
    want_orders = read_table(tmp_path / "replay", "orders")
    want_fills = read_table(tmp_path / "replay", "fills")
    with psycopg.connect(settings.postgres.dsn) as conn:
        orders = [r[0] for r in conn.execute("SELECT client_order_id FROM orders")]
        fills = [r[0] for r in conn.execute("SELECT fill_id FROM fills")]
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert want_orders.height > 0
    assert sorted(orders) == sorted(want_orders["client_order_id"].to_list())
    assert sorted(fills) == sorted(want_fills["fill_id"].to_list())
    assert trades == len(fills) and audit == len(orders) + len(fills)

    # Topics: every row at least once; repeats (the epoch in flight) dropped by key.
    want = read_table(tmp_path / "replay", "features")
    seen: dict[tuple[str, int], float] = {}
    rows = 0
    for key, value in consume_all(settings, topics.FEATURES):
        t = wire.decode_table(value)[1]
        rows += t.num_rows
        for seq, ofi in zip(t.column("seq").to_pylist(), t.column("ofi").to_pylist(), strict=True):
            prior = seen.setdefault((key.decode(), seq), ofi)
            assert prior == ofi or (prior != prior and ofi != ofi)  # a repeat is the same row
    assert set(seen) == set(zip(want["symbol"].to_list(), want["seq"].to_list(), strict=True))
    # Starting over would repeat every row out before each kill; resuming repeats only
    # what the epochs in flight had sent.
    assert rows - len(seen) < sum(kills)
    ids = {
        i
        for _, v in consume_all(settings, topics.ORDERS)
        for i in wire.decode_table(v)[1].column("client_order_id").to_pylist()
    }
    assert ids == set(want_orders["client_order_id"].to_list())

    # QuestDB, through the archiver: each feature row once (DEDUP on ts, symbol, seq).
    run_archive(settings, until_idle_s=1.0)
    assert wal_applied(settings, "features", want.height, timeout=60) == want.height

    # The topics made again from scratch: the snapshot's offsets are past their end. The
    # restart refuses to skip what the new topics will hold, and says what to do.
    reset_topics(settings)
    stale = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert stale.returncode != 0 and "flowsense live --fresh" in stale.stderr
    fresh = subprocess.run(
        [*cmd, "--fresh"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr
