"""Interactive Brokers execution through ``ib_async`` (the maintained successor of ib_insync).

``IBBroker`` connects to TWS or IB Gateway with retry (exponential back-off),
places and cancels FlowSense orders, and maps IB's order status and
executions back to FlowSense records:

- the client order id travels as IB's ``orderRef``, so an order already
  known to the gateway under that id (open or done, this session or
  reported at start-up) is not sent twice;
- IB statuses map onto ``OrderStatus`` (``STATUS``); a ``Submitted`` order
  with a filled quantity is ``partially_filled``;
- every execution becomes an ``OrderFilled`` once its commission report
  arrives (the fee), with id ``<client order id>-<IB exec id>``.

The account id comes from settings as a ``SecretStr`` and is never logged:
ib_async logs wire messages at DEBUG and whole orders (with their account)
at INFO, so a filter on its loggers blanks the account id out of every
record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock, Trade

from flowsense.settings import IBConfig
from schemas.trading import OrderFilled, OrderStatus, OrderType, Side, SubmitOrder

log = logging.getLogger(__name__)
IB_LOGGERS = ("ib_async.client", "ib_async.wrapper", "ib_async.ib", "ib_async.decoder")


class _Redact(logging.Filter):
    """Replaces a secret in every record of the logger it is attached to."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.secret in text:
            record.msg, record.args = text.replace(self.secret, "***"), ()
        return True


STATUS: dict[str, OrderStatus] = {
    "PendingSubmit": OrderStatus.NEW,
    "ApiPending": OrderStatus.NEW,
    "PreSubmitted": OrderStatus.ACCEPTED,
    "Submitted": OrderStatus.ACCEPTED,
    "PendingCancel": OrderStatus.ACCEPTED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Inactive": OrderStatus.REJECTED,
}


def order_status(trade: Trade) -> OrderStatus:
    """FlowSense status of an IB trade."""
    status = STATUS.get(trade.orderStatus.status, OrderStatus.NEW)
    if status == OrderStatus.ACCEPTED and trade.orderStatus.filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def us_stock(symbol: str) -> Contract:
    """The default contract of a FlowSense symbol: a US stock routed SMART, in USD."""
    return Stock(symbol, "SMART", "USD")


class IBBroker:
    """Orders to Interactive Brokers and their fills back (see the module doc)."""

    def __init__(self, config: IBConfig, contract_of: Callable[[str], Contract] = us_stock) -> None:
        self.config = config
        self.contract_of = contract_of
        self.ib = IB()
        self.trades: dict[str, Trade] = {}
        """By client order id."""
        self.fills: list[OrderFilled] = []
        """Executions not yet taken by ``drain_fills``."""
        self.positions: dict[str, float] = {}
        self._seen_exec: set[str] = set()
        self.ib.commissionReportEvent += self._on_commission

    async def connect(self) -> None:
        """Connect, retrying ``connect_attempts`` times with doubling waits; ConnectionError
        when every attempt failed."""
        cfg = self.config
        secret = cfg.account.get_secret_value()
        if secret:
            for name in IB_LOGGERS:
                logger = logging.getLogger(name)
                if not any(isinstance(f, _Redact) and f.secret == secret for f in logger.filters):
                    logger.addFilter(_Redact(secret))
        delay = cfg.retry_delay_s
        for attempt in range(1, cfg.connect_attempts + 1):
            try:
                await self.ib.connectAsync(
                    cfg.host,
                    cfg.port,
                    clientId=cfg.client_id,
                    timeout=cfg.connect_timeout_s,
                    account=cfg.account.get_secret_value(),
                )
            except (OSError, TimeoutError, ConnectionError) as e:
                log.warning(
                    "IB %s:%s attempt %d/%d failed: %s",
                    cfg.host,
                    cfg.port,
                    attempt,
                    cfg.connect_attempts,
                    type(e).__name__,
                )
                if attempt == cfg.connect_attempts:
                    raise ConnectionError(
                        f"no IB API at {cfg.host}:{cfg.port} after {attempt} attempts"
                    ) from None
                await asyncio.sleep(delay)
                delay *= 2
            else:
                break
        for trade in self.ib.trades():  # orders the gateway already knows (a restart)
            if trade.order.orderRef:
                self.trades.setdefault(trade.order.orderRef, trade)
        log.info("IB connected to %s:%s as client %d", cfg.host, cfg.port, cfg.client_id)

    def disconnect(self) -> None:
        self.ib.disconnect()

    def place(self, order: SubmitOrder) -> Trade:
        """Send ``order`` unless the gateway already has its client order id."""
        known = self.trades.get(order.client_order_id)
        if known is not None:
            return known
        action = "BUY" if order.side == Side.BUY else "SELL"
        if order.order_type == OrderType.LIMIT:
            ib_order = LimitOrder(action, order.quantity, order.limit_px)
        else:
            ib_order = MarketOrder(action, order.quantity)
        ib_order.orderRef = order.client_order_id
        account = self.config.account.get_secret_value()
        if account:
            ib_order.account = account
        trade = self.ib.placeOrder(self.contract_of(order.symbol), ib_order)
        self.trades[order.client_order_id] = trade
        return trade

    def cancel(self, client_order_id: str) -> bool:
        """Ask IB to cancel an open order; False if it is unknown or done."""
        trade = self.trades.get(client_order_id)
        if trade is None or trade.isDone():
            return False
        self.ib.cancelOrder(trade.order)
        return True

    def status(self, client_order_id: str) -> OrderStatus | None:
        trade = self.trades.get(client_order_id)
        return None if trade is None else order_status(trade)

    def drain_fills(self) -> list[OrderFilled]:
        out, self.fills = self.fills, []
        return out

    def _on_commission(self, trade: Trade, fill, report) -> None:
        ex = fill.execution
        if ex.execId in self._seen_exec or not trade.order.orderRef:
            return
        self._seen_exec.add(ex.execId)
        symbol = trade.contract.symbol
        side = Side.BUY if ex.side == "BOT" else Side.SELL
        pos = self.positions.get(symbol, 0.0) + side * ex.shares
        self.positions[symbol] = pos
        self.fills.append(
            OrderFilled(
                fill_id=f"{trade.order.orderRef}-{ex.execId}",
                client_order_id=trade.order.orderRef,
                symbol=symbol,
                ts_event=int(ex.time.timestamp() * 1e9),
                side=side,
                quantity=float(ex.shares),
                price=float(ex.price),
                fee=float(report.commission),
                position_after=pos,
            )
        )
