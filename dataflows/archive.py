"""The archiver: the live flow's ``ticks``, ``features`` and ``predictions`` topics -> QuestDB.

The trading path must never wait on the analytics store: QuestDB takes
~0.2 M rows/s on two shared cores while the live flow makes three rows a
tick, so writing it from the flow's worker held every order behind it
(seconds at 50 K ticks/s, measured in ``benchmarks/bench_live.py``). The
flow publishes its tables to Kafka, which is the buffer, and this process
copies them into QuestDB at its own pace, on a lower CPU priority: a burst
makes the archive lag, never the orders, and loses nothing.

A plain Kafka consumer group rather than a Bytewax flow, because the
archive is a copy with no state or computation, and a group gives what it
needs: committed offsets (a restart resumes where it stopped) and more
processes sharing the partitions to scale. Rows are written before their
offsets are committed (at least once) and QuestDB's ``DEDUP UPSERT KEYS``
turn a repeat into an overwrite: exactly once in effect.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from confluent_kafka import Consumer, KafkaException
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.kafka import not_a_message
from dataflows.stores.questdb import QuestDBWriter, create_tables
from dataflows.stores.retry import Outage
from flowsense.settings import Settings
from schemas import topics, wire

log = logging.getLogger("flowsense.archive")


def _unreachable(e: BaseException) -> bool:
    """No answer from QuestDB's HTTP port (an answer refusing the DDL is raised)."""
    return isinstance(e, urllib.error.URLError | ConnectionError | TimeoutError) and not (
        isinstance(e, urllib.error.HTTPError)
    )


TABLES = {topics.TICKS: "ticks", topics.FEATURES: "features", topics.PREDICTIONS: "predictions"}
"""Topic -> QuestDB table."""


def _table(msg: Any) -> pa.Table | None:
    """The Arrow table of one message, or ``None`` (said on stderr) if it is not one."""
    try:
        _, table = wire.decode_table(msg.value())
    except wire.WireError as e:
        print(
            f"archive: skipped {msg.topic()}/{msg.partition()}@{msg.offset()}: {e}",
            file=sys.stderr,
        )
        return None
    return table


def forget(settings: Settings) -> None:
    """Drop the archiver's committed offsets: the next run copies the topics from their start
    (after topics are recreated, old offsets would skip the new messages)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    group = settings.archive.group
    if group in [g.group_id for g in admin.list_consumer_groups().result().valid]:
        admin.delete_consumer_groups([group])[group].result()


def caught_up(consumer: Consumer) -> bool:
    """Whether the consumer has partitions and has read each of them to its end."""
    parts = consumer.assignment()
    if not parts:
        return False
    for tp in consumer.position(parts):
        low, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
        if high > max(tp.offset, low):
            return False
    return True


def run_archive(
    settings: Settings,
    until_idle_s: float | None = None,
    stop: threading.Event | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Copy the topics of ``TABLES`` into QuestDB. Ends when ``stop`` is set and every
    message there is archived, or, with ``until_idle_s``, that long after the last
    message. Returns rows per table."""
    # QuestDB may be (re)starting as the archiver does: wait for it, as for any write.
    Outage("QuestDB", _unreachable, log).call(lambda: create_tables(settings.questdb))
    cfg = settings.archive
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": cfg.group,
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
        }
    )
    last = [time.monotonic()]

    def assigned(_consumer: Any, _partitions: Any) -> None:
        last[0] = time.monotonic()  # idle time counts from the assignment, not the start

    consumer.subscribe(list(TABLES), on_assign=assigned)
    writer = QuestDBWriter(settings.questdb)
    rows: Counter[str] = Counter()
    skipped = 0
    t0 = time.perf_counter()
    try:
        while True:
            msgs = consumer.consume(cfg.batch_messages, 0.1)
            if not msgs:
                if stop is not None and stop.is_set() and caught_up(consumer):
                    break
                if until_idle_s is not None and time.monotonic() - last[0] > until_idle_s:
                    break
                continue
            last[0] = time.monotonic()
            tables: dict[str, list[pa.Table]] = {}
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() == ConfluentKafkaError._PARTITION_EOF:
                        continue
                    if not_a_message(msg):  # a broker restarting: librdkafka reconnects
                        log.warning("Kafka consumer: %s; librdkafka reconnects", err)
                        continue
                    raise KafkaException(err)
                table = _table(msg)
                if table is None:
                    skipped += 1
                else:
                    tables.setdefault(TABLES[msg.topic()], []).append(table)
            for name, data in tables.items():
                n = writer.write(name, data)
                rows[name] += n
                if on_rows:
                    on_rows(n)
            consumer.commit(asynchronous=False)
    finally:
        writer.close()
        consumer.close()
    elapsed = time.perf_counter() - t0
    return {
        "rows": {t: rows[t] for t in TABLES.values()},
        "skipped_messages": skipped,
        "elapsed_s": round(elapsed, 3),
    }
