"""What the integration tests share: fresh topics and tables, and waiting for what was written."""

from __future__ import annotations

import time

import psycopg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dataflows.archive import forget
from dataflows.stores.questdb import SYMBOLS, execute
from flowsense.settings import Settings
from schemas import topics


def reset_topics(settings: Settings) -> None:
    """Delete and recreate every topic (those keyed by symbol with ``kafka.partitions``)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    forget(settings)  # the archiver's offsets would skip the new topics' messages
    gone = [t for t in topics.ALL if t in admin.list_topics(timeout=10).topics]
    if gone:
        for f in admin.delete_topics(gone, operation_timeout=30).values():
            f.result()
    for _ in range(100):  # deletion is asynchronous
        if not set(gone) & set(admin.list_topics(timeout=10).topics):
            break
        time.sleep(0.1)
    new = [
        NewTopic(t, settings.kafka.partitions if t in topics.BY_SYMBOL else 1, 1)
        for t in topics.ALL
    ]
    for _ in range(50):
        try:
            for f in admin.create_topics(new).values():
                f.result()
            break
        except Exception as e:  # the broker may still be deleting
            if "already exists" in str(e) or "marked for deletion" in str(e):
                new = [n for n in new if n.topic not in admin.list_topics(timeout=10).topics]
                time.sleep(0.2)
                continue
            raise
    for _ in range(100):  # metadata of the new topics on the broker
        meta = admin.list_topics(timeout=10).topics
        if all(t in meta and meta[t].partitions for t in topics.ALL):
            break
        time.sleep(0.1)


def reset_stores(settings: Settings) -> None:
    """Empty the PostgreSQL trading tables and drop the QuestDB tables."""
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('orders')").fetchone()[0]:
            conn.execute("TRUNCATE orders, fills, trades, audit_log")
        if conn.execute("SELECT to_regclass('alerts')").fetchone()[0]:
            conn.execute("TRUNCATE order_events, alerts")
    for table in SYMBOLS:
        execute(settings.questdb, f"DROP TABLE IF EXISTS {table}")


def reset(settings: Settings) -> None:
    """Empty topics and tables, so that a test sees only its own rows."""
    reset_topics(settings)
    reset_stores(settings)


def wal_applied(settings: Settings, table: str, expected: int, timeout: float = 60) -> int:
    """Rows of a QuestDB table once ``expected`` are visible (WAL applied), or at the timeout."""
    deadline = time.monotonic() + timeout
    n = -1
    while time.monotonic() < deadline:
        n = execute(settings.questdb, f"SELECT count() FROM {table}")["dataset"][0][0]
        if n >= expected:
            time.sleep(0.5)
            return execute(settings.questdb, f"SELECT count() FROM {table}")["dataset"][0][0]
        time.sleep(0.2)
    return n


def consume_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    """Every message of a topic, (key, value), from its start to its current end."""
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
