"""``flowsense execute``: the flow's accepted orders to IB (a fake TWS speaking the TWS
protocol: IB cannot run here), IB's executions back as fills in Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import math

import psycopg
import pytest
from confluent_kafka import Producer

from dataflows.execute import run_execute
from dataflows.tables import orders_table
from schemas import topics, wire
from schemas.trading import OrderCancelled, OrderDenied, OrderType, Side, SubmitOrder
from tests.fakes.tws import FakeTWS
from tests.integration.helpers import consume_all, reset

pytestmark = pytest.mark.integration


def _order(seq: int, order_type=OrderType.MARKET, limit=math.nan) -> SubmitOrder:
    return SubmitOrder(
        f"AMZN-ofi-{seq}", "AMZN", seq, Side.BUY, 100.0, f"AMZN:ofi:{seq}", 220.0, 220.05,
        220.025, order_type, limit,
    )  # fmt: skip


def test_accepted_orders_go_to_ib_and_its_executions_come_back(services):
    reset(services)
    denied = OrderDenied("AMZN-ofi-2", "AMZN", 2, Side.BUY, 100.0, "AMZN:ofi:2", "max_gross", "x")
    resting = _order(3, OrderType.LIMIT, 219.0)
    cancel = OrderCancelled("AMZN-ofi-3", "AMZN", 4, Side.BUY, 100.0, "halted")
    p = Producer({"bootstrap.servers": services.kafka.bootstrap})
    for batch in ([_order(1), denied, resting], [cancel], [_order(1)]):  # the last: a repeat
        p.produce(topics.ORDERS, wire.encode_table("orders", orders_table("AMZN", batch)), b"AMZN")
    assert p.flush(10) == 0

    async def go():
        tws = await FakeTWS(fill_price=220.04, fill_chunks=2, commission=0.35).start()
        ib = services.broker.ib.model_copy(
            update={"port": tws.port, "connect_timeout_s": 2, "retry_delay_s": 0.05}
        )
        settings = services.model_copy(
            update={"broker": services.broker.model_copy(update={"ib": ib})}
        )
        report = await run_execute(settings, until_idle_s=1.5)
        await tws.stop()
        return tws, report

    tws, report = asyncio.run(go())
    placed = [f for m, f in tws.received if m == 3]
    assert sorted(f[26] for f in placed) == ["AMZN-ofi-1", "AMZN-ofi-3"]  # orderRef; once each
    assert any(m == 4 for m, _ in tws.received)  # cancelOrder for the resting order
    assert report == {"placed": 2, "already_sent": 1, "cancelled": 1, "fills": 2}
    with psycopg.connect(services.postgres.dsn) as conn:
        fills = conn.execute(
            "SELECT client_order_id, quantity, price, fee FROM fills WHERE run_id = 'ib'"
        ).fetchall()
    assert sorted(fills) == [("AMZN-ofi-1", 50.0, 220.04, 0.35)] * 2
    rows = [
        r
        for _, v in consume_all(services, topics.FILLS_BROKER)
        for r in wire.decode_table(v)[1].to_pylist()
    ]
    assert [(r["client_order_id"], r["quantity"]) for r in rows] == [("AMZN-ofi-1", 50.0)] * 2
