"""The account step: risk gate, orders, execution and PnL of one account, in event time.

Every symbol's ``MarketSlice`` (its book rows and the strategy's targets)
comes to one state per account. The state merges the symbols' rows in
event-time order (ts, then symbol, then seq), so that its decisions depend
on the data only, never on how the input was batched or interleaved: rows
are processed up to the watermark, the earliest last-seen time over the
symbols (all ``symbols`` named up front must have been seen first), and
the rest at the end of the stream. Rows of a symbol at or before its last
processed ``seq`` are dropped: the same input twice yields one set of orders.

Live, a quiet symbol must not hold the others back: with ``merge_wait_ns``
set, the caller passes each item's arrival time (wall clock), and a symbol
that has sent nothing for that long no longer counts in the watermark (nor
does an expected symbol never seen). Its next rows, if older than rows
already processed, are processed as they come. Without it (replay) the
merge waits for every symbol, whatever the delay.

At each row: the symbol's mark moves (positions are marked at the mid),
the paper broker matches its open orders against the book, the targets of
that row become orders through the risk checks (``operators.risk``), and
the equity is checked against the drawdown kill switch: at
``kill_drawdown`` from the peak the account halts, cancels every open order
and emits a CRITICAL ``HighDrawdown`` alert; every later order is denied
(rule ``halted``) until a ``RiskReset`` arrives.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from dataclasses import dataclass

import numpy as np

from operators.config import RiskConfig
from operators.orders import Order
from operators.paper_broker import Fill, PaperBroker
from operators.portfolio import Portfolio, Position
from operators.risk import Exposure, drawdown, first_refusal
from schemas.trading import (
    Alert,
    AlertSeverity,
    MarketSlice,
    OrderCancelled,
    OrderDenied,
    OrderFilled,
    OrderType,
    RiskReset,
    Side,
    SubmitOrder,
    TargetPosition,
    TradingState,
    prediction_id,
)

DAY_NS = 86_400 * 10**9
SECOND_NS = 10**9
SLICE_COLUMNS = ("ts_event", "seq", "bid_px", "bid_sz", "ask_px", "ask_sz", "mid", "microprice")
BOOK_COLUMNS = (*SLICE_COLUMNS, "trade_sz")
ROW_COLUMNS = ("ts_event", "seq", "mid", "microprice", "bid_px", "bid_sz", "ask_px", "ask_sz",
               "trade_sz")  # fmt: skip
"""A row as the event loop reads it: the first four always, the book when orders can rest."""

Record = SubmitOrder | OrderDenied | OrderCancelled | OrderFilled | Alert


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """How the account's orders are executed by the paper broker."""

    order_type: OrderType = OrderType.MARKET
    fee_bps: float = 0.0
    latency_ns: int = 0
    """Market-data plus order-entry latency, event time."""


@dataclass(frozen=True, slots=True)
class Halt:
    """When and why the account halted."""

    ts_event: int
    rule: str
    detail: str
    symbol: str


class _Pending:
    """Rows of one symbol not processed yet, and its targets by row ``seq``."""

    __slots__ = ("chunks", "intents", "last_seq", "last_ts", "prev_mid", "seen")

    def __init__(self) -> None:
        self.chunks: list[dict[str, np.ndarray]] = []
        self.intents: dict[int, list[TargetPosition]] = {}
        self.last_seq = -1
        self.last_ts = -1
        self.prev_mid = math.nan
        self.seen = 0
        """Arrival time of the symbol's last item (wall clock, ns; live only)."""

    def columns(self) -> dict[str, np.ndarray] | None:
        if not self.chunks:
            return None
        if len(self.chunks) > 1:
            self.chunks = [{k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}]
        return self.chunks[0]


class Account:
    """Risk, orders, execution and PnL of one account (see the module doc)."""

    def __init__(
        self,
        risk: RiskConfig,
        execution: ExecutionConfig = ExecutionConfig(),
        symbols: frozenset[str] = frozenset(),
        merge_wait_ns: int | None = None,
    ) -> None:
        self.risk = risk
        self.execution = execution
        self.expected = symbols
        self.merge_wait_ns = merge_wait_ns
        self.portfolio = Portfolio(risk.capital)
        self.brokers: dict[str, PaperBroker] = {}
        self.orders: dict[str, Order] = {}
        """Open orders by client order id."""
        self.pending: dict[str, _Pending] = {}
        self.recent: list[int] = []
        """Times of the orders let through, sorted (a window of the last second)."""
        self.peak = risk.capital
        self.day = -1
        self.day_start = risk.capital
        self.halt: Halt | None = None
        self.equity_low = risk.capital
        # Every row must reach the broker when orders can rest (limit orders, latency);
        # otherwise only rows that move a mark or carry a target matter.
        self.limit_orders = execution.order_type == OrderType.LIMIT
        self.every_row = self.limit_orders or execution.latency_ns > 0

    @property
    def state(self) -> TradingState:
        return TradingState.ACTIVE if self.halt is None else TradingState.HALTED

    # ---- input ----------------------------------------------------------------------------

    def update(self, item: MarketSlice | RiskReset, now_ns: int = 0) -> list[Record]:
        """Take one input item (arrived at ``now_ns``, wall clock, with ``merge_wait_ns``);
        the records decided so far (up to the watermark)."""
        if isinstance(item, RiskReset):
            return self.reset(item)
        p = self.pending.get(item.symbol)
        if p is None:
            p = self.pending[item.symbol] = _Pending()
        p.seen = now_ns
        cols = item.columns
        keep = cols["seq"] > max(p.last_seq, self._queued_seq(p))
        if keep.any():
            p.chunks.append({k: cols[k][keep] for k in BOOK_COLUMNS})
            p.last_ts = max(p.last_ts, int(cols["ts_event"][keep][-1]))
            first = int(cols["seq"][keep][0])
            for t in item.intents:
                if t.seq >= first:
                    p.intents.setdefault(t.seq, []).append(t)
        if self.merge_wait_ns is not None:
            return self.tick(now_ns)
        if self.expected and not self.expected <= self.pending.keys():
            return []
        watermark = min(q.last_ts for q in self.pending.values())
        return self._process(watermark)

    def waiting(self) -> bool:
        """Rows wait for a symbol's next item (live: call ``tick`` within ``merge_wait_ns``)."""
        return any(q.chunks for q in self.pending.values())

    def tick(self, now_ns: int) -> list[Record]:
        """Live: the rows up to the watermark of the symbols heard from within
        ``merge_wait_ns`` of ``now_ns``; the others stop holding them back."""
        wait = self.merge_wait_ns or 0
        heard = [q.last_ts for q in self.pending.values() if now_ns - q.seen <= wait]
        if not heard:  # everyone is quiet: nothing holds the rows back
            return self._process(None)
        return self._process(min(heard))

    def flush(self) -> list[Record]:
        """The end of the input: process every row still waiting."""
        return self._process(None)

    def reset(self, reset: RiskReset) -> list[Record]:
        """An operator lifts the halt; the drawdown counts from the equity now.

        A reset older than the halt does nothing (see ``RiskReset``)."""
        if self.halt is None or reset.ts_event < self.halt.ts_event:
            return []
        self.halt = None
        self.peak = self.portfolio.equity()
        return [
            Alert(
                f"{self.risk.account}:RiskReset:{reset.ts_event}",
                "*",
                reset.ts_event,
                AlertSeverity.WARNING,
                "RiskReset",
                f"trading resumed by {reset.operator}: {reset.reason}".rstrip(": "),
            )
        ]

    @staticmethod
    def _queued_seq(p: _Pending) -> int:
        return int(p.chunks[-1]["seq"][-1]) if p.chunks else -1

    # ---- the event-time loop --------------------------------------------------------------

    def _process(self, watermark: int | None) -> list[Record]:
        """Rows with ts < ``watermark`` (all when None), merged over symbols in event order."""
        ts_parts, sym_parts, idx_parts, per_symbol = [], [], [], []
        for name in sorted(self.pending):
            p = self.pending[name]
            cols = p.columns()
            if cols is None:
                continue
            ts = cols["ts_event"]
            cut = len(ts) if watermark is None else int(np.searchsorted(ts, watermark, "left"))
            if cut == 0:
                continue
            now = {k: v[:cut] for k, v in cols.items()}
            rest = {k: v[cut:] for k, v in cols.items()}
            p.chunks = [rest] if len(rest["ts_event"]) else []
            p.last_seq = int(now["seq"][-1])
            if not self.every_row:
                mid = now["mid"]
                prev = np.concatenate([[p.prev_mid], mid[:-1]])
                moved = ~((mid == prev) | (np.isnan(mid) & np.isnan(prev)))
                wanted = moved | np.isin(now["seq"], np.fromiter(p.intents, np.int64))
                now = {k: v[wanted] for k, v in now.items()}
            p.prev_mid = float(cols["mid"][cut - 1])
            # Python lists once per batch: indexing NumPy arrays one scalar at a time is slow.
            names = ROW_COLUMNS if self.every_row else ROW_COLUMNS[:4]
            rows = list(zip(*(now[k].tolist() for k in names), strict=True))
            n = len(rows)
            ts_parts.append(now["ts_event"])
            sym_parts.append(np.full(n, len(per_symbol)))
            idx_parts.append(np.arange(n))
            per_symbol.append((name, p, rows, self.portfolio.position(name)))
        if not ts_parts:
            return []
        sym = np.concatenate(sym_parts)
        idx = np.concatenate(idx_parts)
        # Event time, then symbol, then the symbol's own order.
        order = np.lexsort((idx, sym, np.concatenate(ts_parts)))
        out: list[Record] = []
        sym_l, idx_l = sym[order].tolist(), idx[order].tolist()
        for i, j in zip(sym_l, idx_l, strict=True):
            name, p, rows, pos = per_symbol[i]
            self._row(name, rows[j], p, pos, out)
        return out

    def _row(self, symbol: str, row: tuple, p: _Pending, pos: Position, out: list) -> None:
        ts, seq, mid, micro = row[:4]
        if mid == mid:
            pos.mark = mid
        if self.every_row:
            fills = self._broker(symbol).on_book(ts, *row[4:])
            if fills:
                self._apply(fills, ts, out)
        if p.intents:
            intents = p.intents.pop(seq, None)
            if intents:
                for t in intents:
                    self._intent(t, micro, out)
        self._check_equity(symbol, ts, out)

    def _broker(self, symbol: str) -> PaperBroker:
        b = self.brokers.get(symbol)
        if b is None:
            ex = self.execution
            b = self.brokers[symbol] = PaperBroker(ex.fee_bps, ex.latency_ns)
        return b

    def _apply(self, fills: list[Fill], ts: int, out: list) -> None:
        for order, qty, price, fee in fills:
            state = self.orders[order.client_order_id]
            state.fill(ts, qty)
            pos = self.portfolio.position(order.symbol)
            pos.apply_fill(order.side, qty, price, fee)
            n = len(state.history) - 2  # new, accepted, then one entry per fill
            oid = order.client_order_id
            out.append(  # fill id, order id, symbol, ts, side, qty, price, fee, position after
                OrderFilled(
                    f"{oid}-{n}",
                    oid,
                    order.symbol,
                    ts if ts > order.ts_event else order.ts_event,
                    order.side,
                    qty,
                    price,
                    fee,
                    pos.quantity,
                )
            )
            if not state.is_open:
                del self.orders[order.client_order_id]

    def _cancel(self, order_id: str, ts: int, reason: str, out: list) -> None:
        state = self.orders.pop(order_id)
        left = self._broker(state.order.symbol).cancel(order_id)
        state.cancel(ts)
        o = state.order
        out.append(OrderCancelled(o.client_order_id, o.symbol, ts, o.side, left, reason))

    def _intent(self, t: TargetPosition, micro: float, out: list) -> None:
        if self.orders:  # a newer target replaces the symbol's open orders
            for oid in [i for i, s in self.orders.items() if s.order.symbol == t.symbol]:
                self._cancel(oid, t.ts_event, "replaced", out)
        pos = self.portfolio.position(t.symbol)
        qty = t.target - pos.quantity
        if qty == 0:
            return
        side = Side.BUY if qty > 0 else Side.SELL
        limit = self.limit_orders
        touch = t.ask_px if side == Side.BUY else t.bid_px
        join = t.bid_px if side == Side.BUY else t.ask_px
        order = SubmitOrder(  # client order id, symbol, ts, side, qty, prediction id, touch...
            f"{t.symbol}-{t.model}-{t.seq}",
            t.symbol,
            t.ts_event,
            side,
            abs(qty),
            prediction_id(t.symbol, t.model, t.seq),
            t.bid_px,
            t.ask_px,
            t.mid,
            self.execution.order_type,
            join if limit else math.nan,
            self.risk.account,
        )
        start = bisect_right(self.recent, t.ts_event - SECOND_NS)
        if start:  # older than any window still to come, rows being in time order
            del self.recent[:start]
        recent = bisect_right(self.recent, t.ts_event)
        gross_others = 0.0
        for s, q in self.portfolio.positions.items():
            if s != t.symbol and q.quantity:
                gross_others += q.notional()
        exposure = Exposure(
            join if limit else touch,
            micro,
            pos.quantity,
            gross_others,
            self.portfolio.equity()
            - (self.day_start if t.ts_event // DAY_NS == self.day else self._day_start(t.ts_event)),
            recent,
            self.halt is not None,
        )
        refusal = first_refusal(order, exposure, self.risk)
        if refusal is not None:
            rule, detail = refusal
            out.append(
                OrderDenied(
                    order.client_order_id,
                    order.symbol,
                    order.ts_event,
                    order.side,
                    order.quantity,
                    order.prediction_id,
                    rule,
                    detail,
                )
            )
            return
        state = Order(order)
        state.accept(order.ts_event)
        self.orders[order.client_order_id] = state
        insort(self.recent, order.ts_event)
        out.append(order)
        self._apply(self._broker(t.symbol).submit(order), order.ts_event, out)

    def _day_start(self, ts: int) -> float:
        day = ts // DAY_NS
        if day != self.day:
            self.day = day
            self.day_start = self.portfolio.equity()
        return self.day_start

    def _check_equity(self, symbol: str, ts: int, out: list) -> None:
        equity = self.portfolio.equity()
        if ts // DAY_NS != self.day:
            self._day_start(ts)
        if equity > self.peak:
            self.peak = equity
        elif equity < self.equity_low:
            self.equity_low = equity
        if self.halt is not None or self.peak - equity < self.risk.kill_drawdown * self.peak:
            return
        dd = drawdown(self.peak, equity)
        detail = (
            f"equity {equity:,.2f} is {dd:.1%} below its peak {self.peak:,.2f} "
            f"(kill switch at {self.risk.kill_drawdown:.1%})"
        )
        self.halt = Halt(ts, "drawdown", detail, symbol)
        for oid in list(self.orders):
            self._cancel(oid, ts, "halt", out)
        out.append(
            Alert(
                f"{self.risk.account}:HighDrawdown:{ts}",
                symbol,
                ts,
                AlertSeverity.CRITICAL,
                "HighDrawdown",
                f"account {self.risk.account} halted: {detail}",
            )
        )
