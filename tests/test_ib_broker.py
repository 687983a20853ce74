"""The Interactive Brokers adapter against a fake TWS that speaks the TWS socket protocol."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from dataflows.brokers.ib import IBBroker
from flowsense.settings import IBConfig
from schemas.trading import OrderStatus, OrderType, Side, SubmitOrder
from tests.fakes.tws import ACCOUNT, FakeTWS

SECRET = "DU7654321"


def _order(seq, side=Side.BUY, qty=100.0, order_type=OrderType.MARKET, limit=float("nan")):
    return SubmitOrder(
        f"AMZN-ofi-{seq}", "AMZN", seq, side, qty, f"AMZN:ofi:{seq}", 220.0, 220.05, 220.025,
        order_type, limit,
    )  # fmt: skip


def _config(port, **kw):
    base = dict(port=port, client_id=7, connect_timeout_s=2, retry_delay_s=0.05)
    return IBConfig(**{**base, **kw})


async def _settle(broker: IBBroker, until, timeout=3.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not until():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the fake TWS")
        await asyncio.sleep(0.02)


def test_handshake_market_order_partial_executions_and_fees(caplog):
    async def go():
        tws = await FakeTWS(fill_price=220.04, fill_chunks=2, commission=0.35).start()
        broker = IBBroker(_config(tws.port, account=SecretStr(SECRET)))
        with caplog.at_level(logging.DEBUG):
            await broker.connect()
            assert tws.greetings[0].startswith("v157..178")
            trade = broker.place(_order(1, qty=100))
            await _settle(broker, lambda: len(broker.fills) == 2)
            await _settle(broker, lambda: broker.status("AMZN-ofi-1") == OrderStatus.FILLED)
        fills = broker.drain_fills()
        broker.disconnect()
        await tws.stop()
        return tws, trade, fills

    tws, _, fills = asyncio.run(go())
    placed = [f for m, f in tws.received if m == 3]
    assert len(placed) == 1
    # What reached the wire: BUY 100 MKT for the configured account, our id as orderRef.
    assert (placed[0][16], float(placed[0][17]), placed[0][18]) == ("BUY", 100.0, "MKT")
    assert placed[0][23] == SECRET and placed[0][26] == "AMZN-ofi-1"
    assert [(f.quantity, f.price, f.fee) for f in fills] == [(50, 220.04, 0.35), (50, 220.04, 0.35)]
    assert [f.position_after for f in fills] == [50, 100]
    assert all(f.client_order_id == "AMZN-ofi-1" and f.side == Side.BUY for f in fills)
    assert len({f.fill_id for f in fills}) == 2
    assert SECRET not in caplog.text  # the account id is never logged


def test_limit_order_rests_and_is_cancelled_and_ids_are_not_sent_twice():
    async def go():
        tws = await FakeTWS().start()
        broker = IBBroker(_config(tws.port))
        await broker.connect()
        order = _order(2, Side.SELL, 10, OrderType.LIMIT, 221.5)
        first = broker.place(order)
        again = broker.place(order)  # a replay or a restart: the same client order id
        await _settle(broker, lambda: broker.status("AMZN-ofi-2") == OrderStatus.ACCEPTED)
        assert broker.cancel("AMZN-ofi-2")
        await _settle(broker, lambda: broker.status("AMZN-ofi-2") == OrderStatus.CANCELLED)
        assert not broker.cancel("AMZN-ofi-2")  # done: nothing to cancel
        broker.disconnect()
        await tws.stop()
        return tws, first, again

    tws, first, again = asyncio.run(go())
    assert first is again
    placed = [f for m, f in tws.received if m == 3]
    assert len(placed) == 1
    assert (placed[0][16], placed[0][18], float(placed[0][19])) == ("SELL", "LMT", 221.5)
    assert placed[0][23] in ("", ACCOUNT)
    assert [m for m, _ in tws.received].count(4) == 1  # one cancelOrder on the wire


def test_connect_retries_then_succeeds_and_gives_up_with_a_clear_error():
    async def go():
        tws = await FakeTWS(refuse_first=2).start()
        broker = IBBroker(_config(tws.port, connect_attempts=3, connect_timeout_s=1))
        await broker.connect()
        ok = broker.ib.isConnected()
        broker.disconnect()
        port = tws.port
        await tws.stop()
        dead = IBBroker(_config(port, connect_attempts=2, connect_timeout_s=0.5))
        with pytest.raises(ConnectionError, match="after 2 attempts"):
            await dead.connect()
        return ok

    assert asyncio.run(go())
