"""The paper broker of the foundation: market orders fill in full at the touch.

A buy pays the best ask, a sell receives the best bid, at the order's own
event time, less a fee in basis points of the notional. Issue 5 adds queues
and latency; this is the simplest broker that still pays the spread.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.trading import OrderFilled, Side, SubmitOrder


@dataclass(slots=True)
class PaperAccount:
    """Position and cash of one symbol in currency and shares/coins."""

    fee_bps: float = 0.0
    position: float = 0.0
    cash: float = 0.0
    fees: float = 0.0

    def execute(self, orders: list[SubmitOrder]) -> list[OrderFilled]:
        fills = []
        for o in orders:
            price = o.ask_px if o.side == Side.BUY else o.bid_px
            fee = abs(o.quantity * price) * self.fee_bps / 10_000
            self.position += o.side * o.quantity
            self.cash -= o.side * o.quantity * price + fee
            self.fees += fee
            fills.append(
                OrderFilled(
                    fill_id=f"{o.client_order_id}-1",
                    client_order_id=o.client_order_id,
                    symbol=o.symbol,
                    ts_event=o.ts_event,
                    side=o.side,
                    quantity=o.quantity,
                    price=price,
                    fee=fee,
                    position_after=self.position,
                )
            )
        return fills

    def equity(self, mark: float) -> float:
        """Cash plus the position marked at ``mark`` (PnL since the start)."""
        return self.cash + self.position * mark
