"""The order state machine and the position accounting, against hand calculations."""

from __future__ import annotations

import pytest

from operators.orders import IllegalTransitionError, Order
from operators.portfolio import Portfolio, Position
from schemas.trading import OrderStatus, Side, SubmitOrder


def _order(qty=100.0):
    return SubmitOrder("A-m-1", "A", 1, Side.BUY, qty, "A:m:1", 99.0, 101.0, 100.0)


def test_lifecycle_new_accepted_partially_filled_filled():
    o = Order(_order())
    o.accept(2)
    o.fill(3, 30)
    o.fill(4, 30)
    assert o.status == OrderStatus.PARTIALLY_FILLED and o.leaves == 40
    o.fill(5, 40)
    assert o.status == OrderStatus.FILLED and not o.is_open
    assert [s for _, s in o.history] == [
        "new",
        "accepted",
        "partially_filled",
        "partially_filled",
        "filled",
    ]


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ([], "fill"),  # new -> filled: must be accepted first
        ([], "cancel"),
        (["accept", "fill_all"], "cancel"),  # filled is final
        (["accept", "cancel"], "fill"),  # cancelled is final
        (["accept"], "accept"),
        (["reject"], "accept"),
        (["deny"], "accept"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(steps, illegal):
    o = Order(_order())
    for step in steps:
        o.fill(1, o.leaves) if step == "fill_all" else getattr(o, step)(1)
    before = (o.status, o.filled, len(o.history))
    with pytest.raises(IllegalTransitionError):
        o.fill(2, 10) if illegal == "fill" else getattr(o, illegal)(2)
    assert (o.status, o.filled, len(o.history)) == before


def test_a_fill_beyond_the_open_quantity_is_refused():
    o = Order(_order(100))
    o.accept(1)
    o.fill(2, 60)
    with pytest.raises(IllegalTransitionError, match="fill of 41 with 40 open"):
        o.fill(3, 41)
    assert o.filled == 60


def test_average_price_realised_and_unrealised_pnl():
    p = Position()
    p.apply_fill(Side.BUY, 10, 100.0, 1.0)
    p.apply_fill(Side.BUY, 10, 110.0, 1.0)
    assert p.avg_px == pytest.approx(105.0)  # (10 x 100 + 10 x 110) / 20
    p.apply_fill(Side.SELL, 15, 120.0, 0.5)
    assert p.realised == pytest.approx(15 * (120 - 105))  # 225
    assert p.quantity == 5 and p.avg_px == pytest.approx(105.0)
    p.apply_fill(Side.SELL, 10, 100.0, 0.5)  # closes 5 at a loss, opens 5 short at 100
    assert p.realised == pytest.approx(225 + 5 * (100 - 105))  # 200
    assert p.quantity == -5 and p.avg_px == pytest.approx(100.0)
    p.mark = 90.0
    assert p.unrealised() == pytest.approx(-5 * (90 - 100))  # short gains 50
    assert p.fees == pytest.approx(3.0)
    assert p.pnl() == pytest.approx(200 + 50 - 3)


def test_portfolio_equity_and_gross_over_symbols():
    pf = Portfolio(1_000.0)
    pf.position("A").apply_fill(Side.BUY, 2, 100.0, 0.0)
    pf.position("B").apply_fill(Side.SELL, 3, 50.0, 0.0)
    pf.position("A").mark, pf.position("B").mark = 101.0, 52.0
    assert pf.equity() == pytest.approx(1_000 + 2 * 1 - 3 * 2)
    assert pf.gross() == pytest.approx(2 * 101 + 3 * 52)
