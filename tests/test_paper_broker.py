"""The paper broker's queue-position model, on a hand-worked example, and its latency."""

from __future__ import annotations

import math

import pytest

from operators.paper_broker import PaperBroker
from schemas.trading import OrderType, Side, SubmitOrder

MS = 10**6


def _order(side, qty, ts=0, order_type=OrderType.LIMIT, px=100.0, oid="A-m-1"):
    return SubmitOrder(
        oid, "A", ts, side, qty, "A:m:1", 100.0, 100.05, 100.025, order_type,
        px if order_type == OrderType.LIMIT else math.nan,
    )  # fmt: skip


def _filled(fills):
    return [(q, p) for _, q, p, _ in fills]


def test_hand_worked_queue_example():
    """Buy 50 at 100.00 behind 300 shown; the queue ahead is consumed before we fill.

    event                        bid size   queue ahead   our fill
    join (bid 100.00 x 300)        300         300            -
    sell trade 100 at 100.00       200         200            0
    cancel 150 at 100.00            50          50            0
    new bids join behind (+200)    250          50            0
    sell trade 80 at 100.00        170           0           30  (80 - 50)
    sell trade 40 at 100.00        130           0           20  (the rest)
    """
    b = PaperBroker()
    b.on_book(0, 100.0, 300, 100.05, 200, 0)
    assert b.submit(_order(Side.BUY, 50, ts=0)) == []
    assert b.orders["A-m-1"].queue_ahead == 300
    steps = [(-100, 200), (0, 50), (0, 250), (-80, 170), (-40, 130)]
    got = []
    for i, (trade, size) in enumerate(steps, start=1):
        got.append(_filled(b.on_book(i, 100.0, size, 100.05, 200, trade)))
        if i <= 3:
            assert got[-1] == [], "filled before the queue ahead was consumed"
    assert got == [[], [], [], [(30, 100.0)], [(20, 100.0)]]
    assert b.open_orders() == []


def test_a_sell_limit_fills_when_the_bid_reaches_its_price():
    b = PaperBroker(fee_bps=10)
    b.on_book(0, 100.0, 10, 100.05, 500, 0)
    b.submit(_order(Side.SELL, 20, px=100.05))
    assert b.orders["A-m-1"].queue_ahead == 500
    assert b.on_book(1, 100.0, 10, 100.05, 400, 50) == []  # buy trade 50: queue 450 ahead
    (fill,) = b.on_book(2, 100.05, 30, 100.10, 80, 0)  # bid now at our price: crossed
    assert fill[1:] == (20, 100.05, pytest.approx(20 * 100.05 * 10 / 10_000))


def test_a_limit_order_inside_the_spread_is_first_in_line():
    b = PaperBroker()
    b.on_book(0, 100.0, 300, 100.10, 200, 0)
    b.submit(_order(Side.BUY, 10, px=100.05))
    assert b.orders["A-m-1"].queue_ahead == 0
    assert _filled(b.on_book(1, 100.0, 296, 100.10, 200, -4)) == [(4, 100.05)]


def test_a_marketable_limit_takes_the_opposite_touch():
    b = PaperBroker()
    b.on_book(0, 100.0, 300, 100.05, 200, 0)
    assert _filled(b.submit(_order(Side.BUY, 10, px=100.10))) == [(10, 100.05)]


def test_a_cancelled_order_never_fills():
    b = PaperBroker()
    b.on_book(0, 100.0, 0.0, 100.05, 200, 0)
    b.submit(_order(Side.BUY, 10))
    assert b.cancel("A-m-1") == 10
    assert b.on_book(1, 99.95, 10, 100.0, 5, -50) == []


def test_latency_the_order_meets_the_book_as_it_is_when_it_arrives():
    b = PaperBroker(latency_ns=5 * MS)
    b.on_book(0, 100.0, 300, 100.05, 200, 0)
    assert b.submit(_order(Side.BUY, 10, ts=0, order_type=OrderType.MARKET)) == []
    assert b.on_book(4 * MS, 100.05, 100, 100.10, 200, 0) == []  # still in flight
    # At 6 ms it has arrived (at 5 ms): it pays the ask of the book before this event.
    assert _filled(b.on_book(6 * MS, 100.0, 100, 100.20, 200, 0)) == [(10, 100.10)]


def test_a_market_order_without_latency_pays_the_touch_it_was_decided_on():
    b = PaperBroker()
    assert _filled(b.submit(_order(Side.SELL, 7, order_type=OrderType.MARKET))) == [(7, 100.0)]
