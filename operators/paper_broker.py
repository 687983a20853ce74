"""The paper broker of one symbol: market and limit orders against the replayed or live book.

Market orders pay the touch (a buy the best ask, a sell the best bid) in
full. Limit orders rest in a queue-position model after hftbacktest's
(https://hftbacktest.readthedocs.io, "queue models"):

- an order joins the BACK of the queue at its price: ``queue_ahead`` = the
  size shown at that level when it arrives (0 when its price improves on
  the best level: it is alone there; unknown while its price is behind the
  best level, and set to the level's size when the level becomes the best);
- trades at its price consume the queue ahead first; only volume beyond the
  queue ahead fills the order;
- the data is L2 (best level sizes, LOBSTER and Binance alike), so every
  decrease of the size at the order's level counts as queue consumption,
  cancels included: all cancels are taken to come from ahead of us. That is
  the optimistic end of hftbacktest's probabilistic queue models; it is the
  assumption L2 data allows without order ids;
- when the opposite side reaches the order's price (ask <= bid limit), the
  order fills in full at its price.

The queue is tracked only at the best level (the features carry the best
level): while the order's price is behind it, its queue position waits.
Latency, in event time: an order reaches the book ``latency_ns`` after it
was decided (order entry plus market data), and acts on the book as it is
then; with no latency a market order fills at the touch it was decided on.
Fees are ``fee_bps`` of the notional, on every fill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.trading import OrderType, Side, SubmitOrder


@dataclass(slots=True)
class Resting:
    """An order in the simulated book."""

    order: SubmitOrder
    arrival_ns: int
    leaves: float
    queue_ahead: float | None = None
    """Size ahead of us at our price; None while not known (price behind the best level)."""
    active: bool = False


Fill = tuple[SubmitOrder, float, float, float]
"""(order, quantity, price, fee)."""


class PaperBroker:
    """Simulated execution of one symbol (see the module doc for the model)."""

    __slots__ = ("ask", "ask_sz", "bid", "bid_sz", "fee_bps", "latency_ns", "orders")

    def __init__(self, fee_bps: float = 0.0, latency_ns: int = 0) -> None:
        self.fee_bps = fee_bps
        self.latency_ns = latency_ns
        self.orders: dict[str, Resting] = {}
        self.bid = self.ask = math.nan
        self.bid_sz = self.ask_sz = 0.0

    def _fill(self, r: Resting, qty: float, price: float, out: list[Fill]) -> None:
        qty = min(qty, r.leaves)
        if qty <= 0:
            return
        r.leaves -= qty
        out.append((r.order, qty, price, abs(qty * price) * self.fee_bps / 10_000))
        if r.leaves <= 1e-12:
            del self.orders[r.order.client_order_id]

    def submit(self, order: SubmitOrder) -> list[Fill]:
        """Send ``order``; fills now when there is no latency and it can fill at once."""
        if self.latency_ns == 0 and order.order_type == OrderType.MARKET:
            # No latency: the touch the order was decided on is the book it meets, in full.
            price = order.ask_px if order.side == Side.BUY else order.bid_px
            if math.isnan(price):  # no opposite side (the risk gate's no_market stops these)
                r = Resting(order, order.ts_event, order.quantity, None, True)
                self.orders[order.client_order_id] = r
                return []
            fee = abs(order.quantity * price) * self.fee_bps / 10_000
            return [(order, order.quantity, price, fee)]
        r = Resting(order, order.ts_event + self.latency_ns, order.quantity)
        self.orders[order.client_order_id] = r
        out: list[Fill] = []
        if self.latency_ns == 0:
            self._arrive(r, out)
        return out

    def cancel(self, client_order_id: str) -> float:
        """Cancel an open order; the quantity it still had open (0 if it had none)."""
        r = self.orders.pop(client_order_id, None)
        return 0.0 if r is None else r.leaves

    def open_orders(self) -> list[str]:
        return list(self.orders)

    def _arrive(self, r: Resting, out: list[Fill]) -> None:
        """The order reaches the book as it is now."""
        r.active = True
        o = r.order
        buy = o.side == Side.BUY
        if o.order_type == OrderType.MARKET:
            if not math.isnan(self.bid if not buy else self.ask):
                self._fill(r, r.leaves, self.ask if buy else self.bid, out)
            return
        p = o.limit_px
        touch, opposite = (self.bid, self.ask) if buy else (self.ask, self.bid)
        if not math.isnan(opposite) and (opposite <= p if buy else opposite >= p):
            self._fill(r, r.leaves, opposite, out)  # marketable: takes the opposite touch
        elif math.isnan(touch) or (p > touch if buy else p < touch):
            r.queue_ahead = 0.0  # improves on the best level: alone at its price
        elif p == touch:
            r.queue_ahead = self.bid_sz if buy else self.ask_sz
        # else: behind the best level, queue unknown until the level becomes the best

    def on_book(
        self, ts: int, bid: float, bid_sz: float, ask: float, ask_sz: float, trade_sz: float
    ) -> list[Fill]:
        """The book after one event at ``ts`` (best level, and a trade at this event)."""
        out: list[Fill] = []
        for r in list(self.orders.values()):
            if not r.active:
                if r.arrival_ns <= ts:
                    self._arrive(r, out)  # acts on the book before this event
                continue
            if r.order.side == Side.BUY:
                self._match(r, self.bid, self.bid_sz, bid, bid_sz, ask, max(-trade_sz, 0), 1, out)
            else:
                self._match(r, self.ask, self.ask_sz, ask, ask_sz, bid, max(trade_sz, 0), -1, out)
        self.bid, self.bid_sz, self.ask, self.ask_sz = bid, bid_sz, ask, ask_sz
        return out

    def _match(
        self,
        r: Resting,
        prev_px: float,
        prev_sz: float,
        px: float,
        sz: float,
        opposite: float,
        hit: float,
        sign: int,
        out: list[Fill],
    ) -> None:
        """One resting order against one event on its side of the book.

        ``hit``: volume traded against this side at this event; ``sign`` 1 for
        bids (a higher price is better), -1 for asks.
        """
        p = r.order.limit_px
        if r.order.client_order_id not in self.orders:
            return
        if not math.isnan(opposite) and sign * (opposite - p) <= 0:
            self._fill(r, r.leaves, p, out)  # the other side reached our price
            return
        if prev_px == p:  # we were at the best level before this event
            ahead = prev_sz if r.queue_ahead is None else r.queue_ahead
            if hit > ahead:
                self._fill(r, hit - ahead, p, out)
            decrease = prev_sz - (sz if px == p else 0.0)
            r.queue_ahead = max(0.0, ahead - max(decrease, hit))
        elif math.isnan(prev_px) or sign * (p - prev_px) > 0:
            r.queue_ahead = 0.0  # better than the market's best: first in line
            if hit > 0:
                self._fill(r, hit, p, out)
        elif px == p and r.queue_ahead is None:
            r.queue_ahead = sz  # the level became the best: everyone shown is ahead
