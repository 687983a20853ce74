"""The order lifecycle: an explicit table of allowed transitions, as in NautilusTrader.

    new -> accepted | rejected | denied
    accepted -> partially_filled | filled | cancelled
    partially_filled -> partially_filled | filled | cancelled

``filled``, ``cancelled``, ``rejected`` and ``denied`` are final. Applying an
event checks the transition and the quantities and appends to the history;
anything else raises ``IllegalTransitionError`` and leaves the order unchanged.
"""

from __future__ import annotations

from schemas.trading import OrderStatus, SubmitOrder

S = OrderStatus
TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {
        (S.NEW, S.ACCEPTED),
        (S.NEW, S.REJECTED),
        (S.NEW, S.DENIED),
        (S.ACCEPTED, S.PARTIALLY_FILLED),
        (S.ACCEPTED, S.FILLED),
        (S.ACCEPTED, S.CANCELLED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.CANCELLED),
    }
)
FINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED, S.DENIED})


class IllegalTransitionError(ValueError):
    """An event that the order's current state does not allow."""


class Order:
    """One order's state: status, filled quantity, and the history of (ts, status)."""

    __slots__ = ("filled", "history", "order", "status")

    def __init__(self, order: SubmitOrder) -> None:
        self.order = order
        self.status = S.NEW
        self.filled = 0.0
        self.history: list[tuple[int, OrderStatus]] = [(order.ts_event, S.NEW)]

    @property
    def leaves(self) -> float:
        """Quantity still open."""
        return self.order.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL

    def _move(self, ts: int, to: OrderStatus) -> None:
        if (self.status, to) not in TRANSITIONS:
            raise IllegalTransitionError(
                f"order {self.order.client_order_id}: {self.status} -> {to} is not allowed"
            )
        self.status = to
        self.history.append((ts, to))

    def accept(self, ts: int) -> None:
        self._move(ts, S.ACCEPTED)

    def reject(self, ts: int) -> None:
        self._move(ts, S.REJECTED)

    def deny(self, ts: int) -> None:
        self._move(ts, S.DENIED)

    def cancel(self, ts: int) -> None:
        self._move(ts, S.CANCELLED)

    def fill(self, ts: int, quantity: float) -> None:
        """Record an execution of ``quantity``; more than the open quantity is refused."""
        leaves = self.order.quantity - self.filled
        if not quantity > 0 or quantity > leaves + 1e-9:
            raise IllegalTransitionError(
                f"order {self.order.client_order_id}: fill of {quantity:g} with {leaves:g} open"
            )
        to = S.FILLED if quantity >= leaves - 1e-9 else S.PARTIALLY_FILLED
        self._move(ts, to)
        self.filled += quantity
