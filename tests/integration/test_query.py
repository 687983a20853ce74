"""``flowsense query`` on the real QuestDB: LATEST ON and SAMPLE BY answer what we wrote."""

from __future__ import annotations

import time

import pytest

from dataflows.stores.questdb import execute
from flowsense.commands.query import run_query

pytestmark = pytest.mark.integration
T0 = 1_340_285_400_000_000_000  # 2012-06-21T13:30:00Z


@pytest.fixture
def probe(services):
    cfg = services.questdb
    execute(cfg, "DROP TABLE IF EXISTS query_probe")
    execute(
        cfg,
        "CREATE TABLE query_probe (ts TIMESTAMP_NS, symbol SYMBOL, mid DOUBLE)"
        " TIMESTAMP(ts) PARTITION BY DAY WAL",
    )
    rows = [
        (T0 + i * 250_000_000, "AB"[i % 2], 100.0 + i) for i in range(12)
    ]  # 3 s of quarter seconds
    values = ", ".join(f"({ts}::timestamp_ns, '{s}', {m})" for ts, s, m in rows)
    execute(cfg, f"INSERT INTO query_probe VALUES {values}")
    for _ in range(100):
        if execute(cfg, "SELECT count() FROM query_probe")["dataset"][0][0] == 12:
            break
        time.sleep(0.1)
    yield services, rows
    execute(cfg, "DROP TABLE IF EXISTS query_probe")


def test_latest_on_and_sample_by(probe):
    settings, _ = probe
    latest = run_query(
        "SELECT symbol, mid FROM query_probe LATEST ON ts PARTITION BY symbol ORDER BY symbol",
        10,
        settings,
    )
    assert latest["rows"] == [["A", 110.0], ["B", 111.0]]  # the last row of each symbol
    bars = run_query(
        "SELECT ts, count() n, last(mid) close FROM query_probe SAMPLE BY 1s", 10, settings
    )
    assert [r[1] for r in bars["rows"]] == [4, 4, 4]
    assert [r[2] for r in bars["rows"]] == [103.0, 107.0, 111.0]
    assert bars["columns"] == ["ts", "n", "close"]


def test_sql_errors_are_one_clear_line(probe):
    from flowsense.errors import InputError

    settings, _ = probe
    with pytest.raises(InputError, match="query_nope"):
        run_query("SELECT * FROM query_nope", 10, settings)


def test_a_write_questdb_refuses_stops_the_archiver_before_its_commit(services):
    """A write QuestDB refuses (a SYMBOL into a LONG column) is raised by the archiver,
    and the offset of that message is not committed: nothing is lost."""
    import numpy as np
    from confluent_kafka import Consumer, Producer, TopicPartition

    from dataflows.archive import run_archive
    from dataflows.stores.questdb import create_tables
    from dataflows.tables import ticks_table
    from schemas import topics, wire
    from schemas.market import Instrument, TickBatch
    from tests.integration.helpers import reset_topics

    cfg = services.questdb
    reset_topics(services)
    execute(cfg, "DROP TABLE IF EXISTS ticks")
    execute(
        cfg,
        "CREATE TABLE ticks (ts TIMESTAMP_NS, symbol LONG, seq LONG)"
        " TIMESTAMP(ts) PARTITION BY DAY WAL",
    )
    ins = Instrument("X", price_scale=100, size_scale=1, tick=1, levels=1)
    z = np.zeros(3, np.int64)
    batch = TickBatch(
        ins,
        np.arange(T0, T0 + 3),
        np.arange(3),
        np.ones(3, np.uint8),
        np.full((3, 1), 100),
        np.ones((3, 1), np.int64),
        np.full((3, 1), 101),
        np.ones((3, 1), np.int64),
        z,
        z,
    )
    producer = Producer({"bootstrap.servers": services.kafka.bootstrap})
    producer.produce(topics.TICKS, wire.encode_table("ticks", ticks_table("X", batch)), b"X")
    assert producer.flush(10) == 0
    try:
        with pytest.raises(Exception, match=r"(?i)symbol|column|type"):
            run_archive(services, until_idle_s=2.0)
        consumer = Consumer(
            {"bootstrap.servers": services.kafka.bootstrap, "group.id": services.archive.group}
        )
        parts = [TopicPartition(topics.TICKS, p) for p in range(services.kafka.partitions)]
        committed = consumer.committed(parts, timeout=10)
        consumer.close()
        assert all(p.offset < 0 for p in committed)  # nothing committed: it will be read again
    finally:
        reset_topics(services)
        execute(cfg, "DROP TABLE IF EXISTS ticks")
        create_tables(cfg)
