"""Live execution on Interactive Brokers: the flow's accepted orders out, IB's executions in.

``flowsense execute`` runs beside the live flow. It reads the ``orders`` topic
as a Kafka consumer group (``broker.ib.group``), sends every order the risk
gate accepted to IB (``dataflows.brokers.ib.IBBroker``: the client order id
travels as IB's ``orderRef``, so a restart never sends an order twice) and
cancels what the account step cancelled (the kill switch); denied orders
stay here. Each IB execution becomes an ``OrderFilled`` with IB's price and
commission, written to the ``fills.broker`` topic and to PostgreSQL
``fills``/``trades``/``audit_log`` with ``run_id = 'ib'``. Offsets are
committed once the orders are with IB.

The account step goes on marking its positions with the paper broker's
fills: they are the strategy's book; ``fills.broker`` and the ``ib`` rows
are what the broker did (a reconciliation compares the two).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka import KafkaError as ConfluentKafkaError

from dataflows.brokers.ib import IBBroker
from dataflows.kafka import not_a_message
from dataflows.stores.postgres import PostgresWriter
from dataflows.tables import fills_table
from flowsense.settings import Settings
from schemas import topics, wire
from schemas.trading import OrderFilled, OrderType, Side, SubmitOrder

log = logging.getLogger("flowsense.execute")
RUN_ID = "ib"


def order_of(row: dict[str, Any]) -> SubmitOrder:
    """An accepted row of the ``orders`` table as the ``SubmitOrder`` it was."""
    bid, ask = row["bid_px"], row["ask_px"]
    limit = row.get("limit_px")
    return SubmitOrder(
        row["client_order_id"],
        row["symbol"],
        row["ts_event"],
        Side(row["side"]),
        row["quantity"],
        row["prediction_id"],
        bid,
        ask,
        (bid + ask) / 2,
        OrderType(row.get("order_type") or "market"),
        math.nan if limit is None else limit,
    )


async def run_execute(
    settings: Settings,
    until_idle_s: float | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Route accepted orders to IB until ``stop`` (or ``until_idle_s`` without an order
    or a fill); counts of what was done."""
    ib = settings.broker.ib
    broker = IBBroker(ib)
    await broker.connect()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": ib.group,
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.ORDERS])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 0})
    writer = PostgresWriter(settings.postgres.dsn, RUN_ID)
    done: Counter[str] = Counter()
    last = time.monotonic()
    try:
        while not (stop is not None and stop.is_set()):
            msgs = consumer.consume(100, 0)
            for msg in msgs:
                if msg.error() is not None:
                    if msg.error().code() != ConfluentKafkaError._PARTITION_EOF and not (
                        not_a_message(msg)
                    ):
                        log.warning("orders topic: %s", msg.error())
                    continue
                for row in wire.decode_table(msg.value())[1].to_pylist():
                    if row["status"] == "accepted":
                        if row["client_order_id"] in broker.trades:
                            done["already_sent"] += 1
                            continue
                        broker.place(order_of(row))
                        done["placed"] += 1
                    elif row["status"] == "cancelled" and broker.cancel(row["client_order_id"]):
                        done["cancelled"] += 1
            if msgs:
                consumer.commit(asynchronous=False)
            fills = broker.drain_fills()
            if fills:
                _publish(producer, fills)
                writer.write([], fills)
                done["fills"] += len(fills)
            if msgs or fills:
                last = time.monotonic()
            elif until_idle_s is not None and time.monotonic() - last > until_idle_s:
                break
            await asyncio.sleep(0.01)  # ib_async works on this loop in between
    finally:
        producer.flush(30)
        consumer.close()
        writer.close()
        broker.disconnect()
    return dict(done)


def _publish(producer: Producer, fills: list[OrderFilled]) -> None:
    by_symbol: dict[str, list[OrderFilled]] = {}
    for f in fills:
        by_symbol.setdefault(f.symbol, []).append(f)
    for symbol, group in by_symbol.items():
        table = fills_table(symbol, group)
        if table is not None:
            producer.produce(
                topics.FILLS_BROKER, wire.encode_table("fills", table), symbol.encode()
            )
    producer.poll(0)
