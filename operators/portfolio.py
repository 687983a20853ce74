"""Positions, average price, realised and unrealised PnL and fees, per symbol and account.

Average-cost accounting: a fill that adds to a position moves its average
price; one that reduces it realises (fill price - average) x quantity x
sign; one that crosses zero realises the closed part and opens the rest at
the fill price. Fees are kept apart and subtracted from the PnL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Position:
    """One symbol's position in shares/coins (signed), and what it has earned."""

    quantity: float = 0.0
    avg_px: float = 0.0
    realised: float = 0.0
    fees: float = 0.0
    mark: float = math.nan

    def apply_fill(self, side: int, quantity: float, price: float, fee: float) -> None:
        signed = side * quantity
        q = self.quantity
        if q == 0 or (q > 0) == (signed > 0):
            self.avg_px = (abs(q) * self.avg_px + quantity * price) / (abs(q) + quantity)
        else:
            closed = min(abs(q), quantity)
            self.realised += closed * (price - self.avg_px) * (1 if q > 0 else -1)
            if quantity > abs(q):
                self.avg_px = price
        self.quantity = q + signed
        if abs(self.quantity) < 1e-12:
            self.quantity, self.avg_px = 0.0, 0.0
        self.fees += fee

    def unrealised(self) -> float:
        if self.quantity == 0 or math.isnan(self.mark):
            return 0.0
        return self.quantity * (self.mark - self.avg_px)

    def notional(self) -> float:
        """|position| at the mark (0 before the first mark)."""
        return 0.0 if math.isnan(self.mark) else abs(self.quantity) * self.mark

    def pnl(self) -> float:
        return self.realised + self.unrealised() - self.fees


class Portfolio:
    """The positions of one account and its equity (capital + PnL)."""

    __slots__ = ("capital", "positions")

    def __init__(self, capital: float) -> None:
        self.capital = capital
        self.positions: dict[str, Position] = {}

    def position(self, symbol: str) -> Position:
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        return p

    def pnl(self) -> float:
        total = 0.0
        for p in self.positions.values():
            total += p.realised - p.fees
            if p.quantity and p.mark == p.mark:
                total += p.quantity * (p.mark - p.avg_px)
        return total

    def equity(self) -> float:
        return self.capital + self.pnl()

    def gross(self) -> float:
        return sum(p.notional() for p in self.positions.values())
