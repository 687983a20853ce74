"""``flowsense services``: each real server answers a real request; up is idempotent; down/up.

Keep ``test_down_then_up_brings_every_server_back`` last: it restarts the
servers the other tests share, and leaves them up.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import uuid
from datetime import datetime, timedelta

import psycopg
import pytest
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from questdb import Sender, TimestampNanos

from flowsense.cli import main
from flowsense.services import NAMES, down, status, up
from flowsense.services.base import port_open
from schemas import topics

pytestmark = pytest.mark.integration


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _poll(fn, timeout_s: float = 10.0, every_s: float = 0.05):
    """``fn()`` until it returns something truthy (that value), or fail after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not (value := fn()):
        assert time.monotonic() < deadline, f"gave up after {timeout_s} s"
        time.sleep(every_s)
    return value


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The real entry point (``flowsense.cli:main``) in this process: status, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["flowsense", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_kafka_with_the_schema_topics_has_each_with_its_partitions(services):
    metadata = AdminClient({"bootstrap.servers": services.kafka.bootstrap}).list_topics(timeout=10)
    partitions = {t: len(metadata.topics[t].partitions) for t in topics.ALL}
    keyed_by_symbol = {"ticks.raw", "ticks"}  # the tick streams; every other topic: 1
    assert partitions == {
        t: services.kafka.partitions if t in keyed_by_symbol else 1 for t in topics.ALL
    }


def test_kafka_with_a_produced_message_consumes_it_back(services):
    bootstrap = services.kafka.bootstrap
    topic = _unique("test.roundtrip")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=10)
    try:
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        producer.produce(topic, key=b"AAPL", value=b'{"bid": 5853300, "ask": 5854000}')
        assert producer.flush(10) == 0

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": _unique("test"),
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        try:
            msg = _poll(lambda: consumer.poll(0.2))
        finally:
            consumer.close()
        assert msg.error() is None
        assert (msg.key(), msg.value()) == (b"AAPL", b'{"bid": 5853300, "ask": 5854000}')
    finally:
        admin.delete_topics([topic])[topic].result(timeout=10)


def test_questdb_rows_sent_over_http_read_back_over_pgwire(services):
    q = services.questdb
    table = _unique("test_ticks")
    t0 = 1_340_265_600_000_000_000  # 2012-06-21, ns
    rows = [(("AAPL", "MSFT")[i % 2], 585.33 + i / 100, 100 * i, t0 + i * 1_000) for i in range(50)]
    with psycopg.connect(
        host=q.host, port=q.pg_port, user=q.user, password=q.password, dbname="qdb", autocommit=True
    ) as conn:
        conn.execute(
            f"CREATE TABLE {table} (symbol SYMBOL, bid DOUBLE, size LONG, ts TIMESTAMP) "
            "TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, symbol)"
        )
        try:
            with Sender.from_conf(f"http::addr={q.host}:{q.http_port};") as sender:
                for symbol, bid, size, ts in rows:
                    sender.row(
                        table,
                        symbols={"symbol": symbol},
                        columns={"bid": bid, "size": size},
                        at=TimestampNanos(ts),
                    )
            # WAL tables apply asynchronously: wait for the rows, then read them.
            count = f"SELECT count() FROM {table}"
            _poll(lambda: conn.execute(count).fetchone()[0] == len(rows))
            got = conn.execute(f"SELECT symbol, bid, size, ts FROM {table} ORDER BY ts").fetchall()
        finally:
            conn.execute(f"DROP TABLE {table}")
    epoch = datetime(1970, 1, 1)  # QuestDB TIMESTAMP: microseconds, no time zone
    assert got == [(s, b, n, epoch + timedelta(microseconds=ts // 1_000)) for s, b, n, ts in rows]


def test_postgres_rows_inserted_select_back_as_the_app_role(services):
    pg = services.postgres
    rows = [(1, "AAPL", "buy", 100), (2, "MSFT", "sell", 50)]
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == (
            pg.user,
            pg.database,
        )
        conn.execute(
            "create temp table test_orders (id int primary key, symbol text, side text, qty bigint)"
        )
        with conn.cursor() as cur:
            cur.executemany("insert into test_orders values (%s, %s, %s, %s)", rows)
        assert conn.execute("select * from test_orders order by id").fetchall() == rows


def test_redis_set_with_ttl_gets_then_expires(services):
    client = redis.Redis.from_url(services.redis.url)
    key = _unique("test:tick")
    try:
        assert client.set(key, b"585.33", px=300)
        assert client.get(key) == b"585.33"
        assert 0 < client.pttl(key) <= 300
        _poll(lambda: client.get(key) is None, timeout_s=3)
    finally:
        client.delete(key)
        client.close()


def test_up_with_everything_running_restarts_nothing(services):
    pids = {name: s["pid"] for name, s in status(services)["services"].items()}
    t0 = time.monotonic()
    report = up(services)
    elapsed = time.monotonic() - t0
    assert {n: s["action"] for n, s in report["services"].items()} == dict.fromkeys(
        NAMES, "running"
    )
    assert {name: s["pid"] for name, s in status(services)["services"].items()} == pids
    assert elapsed < 5


def test_status_json_through_the_cli_is_one_object_with_every_server_healthy(
    services, monkeypatch, capsys
):
    code, out, _ = _run_cli(monkeypatch, capsys, "services", "status", "--json")
    assert code == 0
    assert out.count("\n") == 1
    report = json.loads(out)
    assert report["healthy"] is True
    assert set(report["services"]) == set(NAMES)
    for name, s in report["services"].items():
        assert s["running"] and s["healthy"] and s["pid"] > 0, name

    def steady(r: dict) -> dict:  # all but the memory, which moves between two calls
        return r | {"services": {n: s | {"rss_mb": None} for n, s in r["services"].items()}}

    assert steady(report) == steady(status(services))


def test_up_with_a_port_taken_by_another_process_fails_with_one_line(tmp_path, monkeypatch, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("FLOWSENSE_RUNTIME_DIR", str(tmp_path))
        monkeypatch.setenv("FLOWSENSE_REDIS__PORT", str(port))
        code, out, err = _run_cli(monkeypatch, capsys, "services", "up", "redis")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"flowsense: error: redis: 127.0.0.1:{port} (redis) is in use")
    assert not (tmp_path / "redis" / "redis.pid").exists()


def test_down_then_up_brings_every_server_back(services):
    before = status(services)["services"]

    stopped = down(services)["services"]
    assert {n: (r["stopped"], r["killed"]) for n, r in stopped.items()} == dict.fromkeys(
        NAMES, (True, False)
    )
    after_down = status(services)
    assert not any(s["running"] for s in after_down["services"].values())
    assert not any(
        port_open("127.0.0.1", port)
        for s in after_down["services"].values()
        for port in s["ports"].values()
    )
    assert all(not r["stopped"] for r in down(services)["services"].values())  # idempotent

    report = up(services)["services"]
    assert {n: r["action"] for n, r in report.items()} == dict.fromkeys(NAMES, "started")
    assert report["kafka"]["topics"][topics.TICKS_RAW] == services.kafka.partitions
    after_up = status(services)["services"]
    assert all(s["healthy"] for s in after_up.values())
    assert all(after_up[n]["pid"] != before[n]["pid"] for n in NAMES)
