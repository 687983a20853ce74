"""Risk rules: a chain of small checks an order passes before it may leave.

Each check is a pure function of the order, what the account knows at that
moment (``Exposure``) and the limits; it returns ``None`` or a (rule,
detail) pair with the values it saw. The account step turns the first
refusal into an ``OrderDenied``. As in NautilusTrader's risk engine, the
trading-state gate (halted) and the rate throttle stand last, just before
the order leaves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from operators.config import RiskConfig
from schemas.trading import SubmitOrder

Refusal = tuple[str, str] | None


class Exposure(NamedTuple):
    """What the account knows when an order is checked (a tuple: built once per order)."""

    price: float
    """The price the order is expected to fill at (touch or limit)."""
    microprice: float
    position: float
    """Signed position of the order's symbol, counting open orders."""
    gross_others: float
    """|position| x mark over the account's other symbols."""
    day_pnl: float
    """Equity now minus equity at the start of the UTC day."""
    recent_orders: int
    """Orders let through in the last second of event time, before this one."""
    halted: bool


Check = Callable[[SubmitOrder, Exposure, RiskConfig], Refusal]


def check_market(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    """No order without a two-sided market to price it."""
    if math.isnan(order.bid_px) or math.isnan(order.ask_px) or math.isnan(x.price):
        return "no_market", "one side of the book is empty"
    return None


def check_collar(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    """Fat-finger guard: the price may not stray more than ``collar_bps`` from the micro-price."""
    if math.isnan(x.microprice):
        return None  # no micro-price (one side empty) is the no_market rule's case
    away = abs(x.price - x.microprice) / x.microprice * 10_000
    if away > cfg.collar_bps:
        return (
            "price_collar",
            f"price {x.price:g} is {away:.1f} bps from micro-price {x.microprice:g} "
            f"(limit {cfg.collar_bps:g} bps)",
        )
    return None


def _after(order: SubmitOrder, x: Exposure) -> float:
    return x.position + order.side * order.quantity


def check_max_position(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    after = _after(order, x)
    if abs(after) * x.price > cfg.max_position:
        return (
            "max_position",
            f"position after {after:g} x {x.price:g} = {abs(after) * x.price:,.2f} "
            f"exceeds limit {cfg.max_position:,.2f}",
        )
    return None


def check_max_gross(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    gross = x.gross_others + abs(_after(order, x)) * x.price
    if gross > cfg.max_gross:
        return (
            "max_gross",
            f"gross notional after {gross:,.2f} (others {x.gross_others:,.2f}) "
            f"exceeds limit {cfg.max_gross:,.2f}",
        )
    return None


def check_daily_loss(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    """Past the day's loss limit only orders that reduce the position pass."""
    limit = cfg.daily_loss * cfg.capital
    after = _after(order, x)
    reduces = after == 0 or (after * x.position > 0 and abs(after) < abs(x.position))
    if x.day_pnl <= -limit and not reduces:
        return (
            "daily_loss",
            f"day PnL {x.day_pnl:,.2f} is at or below -{limit:,.2f}; "
            f"only reducing orders pass (position {x.position:g})",
        )
    return None


def check_halted(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    if x.halted:
        return "halted", "trading is halted by the drawdown kill switch until an operator resets it"
    return None


def check_rate(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    if x.recent_orders + 1 > cfg.max_orders_per_s:
        return (
            "max_order_rate",
            f"{x.recent_orders} orders in the last 1 s of event time; "
            f"limit {cfg.max_orders_per_s:g}/s",
        )
    return None


CHECKS: tuple[Check, ...] = (
    check_market,
    check_collar,
    check_max_position,
    check_max_gross,
    check_daily_loss,
    check_halted,
    check_rate,
)


def first_refusal(order: SubmitOrder, x: Exposure, cfg: RiskConfig) -> Refusal:
    """The first check that refuses ``order``, or ``None``."""
    for check in CHECKS:
        r = check(order, x, cfg)
        if r is not None:
            return r
    return None


def drawdown(peak: float, equity: float) -> float:
    """Fall from the equity peak as a fraction of the peak (0 at or above it)."""
    return 0.0 if peak <= 0 else max(0.0, (peak - equity) / peak)
