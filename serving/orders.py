"""Orders placed through the API, through the same risk gate as the dataflow.

``gate`` is the one place where serving applies the dataflow's risk checks
(``operators.risk``, pure functions): when the gate changes, this is what to
adapt. It is the serving layer's one import of ``operators``, on purpose:
copying the rules here would let the API and the flow drift apart.

The gate's position for a user and symbol is, as in the dataflow, the sum of
the orders it let through (``orders`` with status ``accepted``); a
per-user advisory lock makes two concurrent orders see each other. The
flow's kill switch halts all trading, API orders included: while the live
account's latest ``HighDrawdown`` alert has not been followed by a
``RiskReset`` (the ``alerts`` table the account step writes), every API
order is denied with rule ``halted``. What the API does not know it does not
invent: API orders are not executed here, so their day PnL is 0.
Accepted orders and denials are recorded in ``orders`` and ``audit_log``;
their execution belongs to the execution adapter (not the API).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from psycopg import AsyncConnection

from operators.config import RiskConfig
from schemas.trading import OrderDenied, Side, SubmitOrder

API_RUN = "api"


def gate(
    order: SubmitOrder,
    position: float,
    gross_others: float,
    recent_orders: int,
    microprice: float,
    risk: RiskConfig,
    halted: bool = False,
) -> tuple[str, str] | None:
    """The dataflow's risk checks on one market order: ``None`` or the refusing (rule, detail)."""
    from operators.risk import Exposure, first_refusal

    price = order.ask_px if order.side == Side.BUY else order.bid_px
    exposure = Exposure(
        price=price,
        microprice=microprice,
        position=position,
        gross_others=gross_others,
        day_pnl=0.0,
        recent_orders=recent_orders,
        halted=halted,
    )
    return first_refusal(order, exposure, risk)


def _json_safe(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


async def kill_switch_on(conn: AsyncConnection, account: str) -> bool:
    """Whether the live flow's ``account`` is halted: its latest kill-switch alert is a
    ``HighDrawdown``, not a ``RiskReset``."""
    cur = await conn.execute(
        "SELECT name FROM alerts WHERE run_id = 'live' AND alert_id LIKE %s"
        " AND name IN ('HighDrawdown', 'RiskReset') ORDER BY ts_event DESC LIMIT 1",
        (f"{account}:%",),
    )
    row = await cur.fetchone()
    return row is not None and row[0] == "HighDrawdown"


async def place_order(
    conn: AsyncConnection,
    user_id: int,
    symbol: str,
    side: Side,
    quantity: float,
    client_order_id: str,
    touch: dict[str, Any] | None,
    risk: RiskConfig,
) -> dict[str, Any] | None:
    """Gate and record one order; the recorded row, or ``None`` if the id was used before."""
    bid = float(touch["bid_px"]) if touch and touch.get("bid_px") is not None else math.nan
    ask = float(touch["ask_px"]) if touch and touch.get("ask_px") is not None else math.nan
    order_id = f"api-{user_id}-{client_order_id}"
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"order:{user_id}",))
        cur = await conn.execute(
            "SELECT symbol, SUM(side * quantity),"
            " (array_agg((bid_px + ask_px) / 2 ORDER BY ts_event DESC))[1] FROM orders"
            " WHERE user_id = %s AND status = 'accepted' GROUP BY symbol",
            (user_id,),
        )
        held = {sym: (float(pos), mark) for sym, pos, mark in await cur.fetchall()}
        position = held.pop(symbol, (0.0, None))[0]
        gross_others = sum(abs(pos) * (mark or 0.0) for pos, mark in held.values())
        cur = await conn.execute(
            "SELECT count(*) FROM orders WHERE user_id = %s AND status = 'accepted'"
            " AND ts_event > %s",
            (user_id, time.time_ns() - 1_000_000_000),
        )
        recent = int((await cur.fetchone())[0])
        order = SubmitOrder(
            client_order_id=order_id,
            symbol=symbol,
            ts_event=time.time_ns(),
            side=side,
            quantity=quantity,
            prediction_id=f"api:{user_id}:{client_order_id}",
            bid_px=bid,
            ask_px=ask,
            mid=(bid + ask) / 2,
        )
        micro = touch.get("microprice") if touch else None
        microprice = float(micro) if micro is not None else order.mid
        halted = await kill_switch_on(conn, risk.account)
        refusal = gate(order, position, gross_others, recent, microprice, risk, halted)
        record: SubmitOrder | OrderDenied = order
        if refusal is not None:
            record = OrderDenied(
                client_order_id=order.client_order_id,
                symbol=symbol,
                ts_event=order.ts_event,
                side=side,
                quantity=quantity,
                prediction_id=order.prediction_id,
                rule=refusal[0],
                detail=refusal[1],
            )
        status = "accepted" if refusal is None else "denied"
        cur = await conn.execute(
            "INSERT INTO orders (client_order_id, user_id, ts_event, symbol, side, quantity, "
            "status, rule, detail, prediction_id, bid_px, ask_px, run_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (client_order_id) DO NOTHING",
            (
                order_id,
                user_id,
                order.ts_event,
                symbol,
                int(side),
                quantity,
                status,
                refusal and refusal[0],
                refusal and refusal[1],
                order.prediction_id,
                None if math.isnan(bid) else bid,
                None if math.isnan(ask) else ask,
                API_RUN,
            ),
        )
        if cur.rowcount == 0:
            return None
        payload = _json_safe(record.to_dict()) | {"side": int(side), "source": API_RUN}
        kind = f"order_{status}"
        await conn.execute(
            "INSERT INTO audit_log (event_id, ts_event, kind, symbol, user_id, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (f"{kind}:{order_id}", order.ts_event, kind, symbol, user_id, json.dumps(payload)),
        )
    return {
        "client_order_id": order_id,
        "symbol": symbol,
        "side": "buy" if side == Side.BUY else "sell",
        "quantity": quantity,
        "status": status,
        "rule": refusal and refusal[0],
        "detail": refusal and refusal[1],
        "position_before": position,
        "bid_px": None if math.isnan(bid) else bid,
        "ask_px": None if math.isnan(ask) else ask,
        "ts_event": order.ts_event,
    }
