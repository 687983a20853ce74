"""The risk gate: every order passes a chain of small checks before it may leave.

Each check returns ``None`` or a (rule, detail) pair; the first refusal
becomes an ``OrderDenied`` carrying the rule and the values it saw. The
gate's position is the sum of the orders it let through: with execution at
the touch that is the position, and it never understates exposure.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from operators.config import RiskConfig
from schemas.trading import OrderDenied, Side, SubmitOrder, TargetPosition

Check = Callable[[SubmitOrder, float, RiskConfig], tuple[str, str] | None]


def check_market(order: SubmitOrder, position: float, cfg: RiskConfig) -> tuple[str, str] | None:
    """No order without a two-sided market to price it."""
    if math.isnan(order.bid_px) or math.isnan(order.ask_px):
        return "no_market", "one side of the book is empty"
    return None


def check_max_position(
    order: SubmitOrder, position: float, cfg: RiskConfig
) -> tuple[str, str] | None:
    after = position + order.side * order.quantity
    price = order.ask_px if order.side > 0 else order.bid_px
    if abs(after) * price > cfg.max_position:
        return (
            "max_position",
            f"position after {after:g} x {price:g} = {abs(after) * price:,.2f} "
            f"exceeds limit {cfg.max_position:,.2f}",
        )
    return None


CHECKS: tuple[Check, ...] = (check_market, check_max_position)


class RiskGate:
    """Per-symbol risk state: the position of the orders let through."""

    __slots__ = ("config", "position")

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self.position = 0.0

    def update(self, intents: list[TargetPosition]) -> list[SubmitOrder | OrderDenied]:
        """Orders for the targets that change the position, or their denials."""
        out: list[SubmitOrder | OrderDenied] = []
        for t in intents:
            qty = t.target - self.position
            if qty == 0:
                continue
            order = SubmitOrder(
                client_order_id=f"{t.symbol}-{t.model}-{t.seq}",
                symbol=t.symbol,
                ts_event=t.ts_event,
                side=Side.BUY if qty > 0 else Side.SELL,
                quantity=abs(qty),
                prediction_id=f"{t.symbol}:{t.model}:{t.seq}",
                bid_px=t.bid_px,
                ask_px=t.ask_px,
                mid=t.mid,
            )
            refusal = next(
                (r for check in CHECKS if (r := check(order, self.position, self.config))), None
            )
            if refusal is None:
                self.position += qty
                out.append(order)
            else:
                rule, detail = refusal
                out.append(
                    OrderDenied(
                        client_order_id=order.client_order_id,
                        symbol=order.symbol,
                        ts_event=order.ts_event,
                        side=order.side,
                        quantity=order.quantity,
                        prediction_id=order.prediction_id,
                        rule=rule,
                        detail=detail,
                    )
                )
        return out
