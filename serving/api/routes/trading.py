"""Positions, orders and broker credentials."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from schemas.trading import Side
from serving import users
from serving.api.deps import DB, CurrentUser, State, Trader
from serving.api.params import NAME_PATTERN, Limit, OrderIn, OrderOut, Positions, Strict
from serving.orders import place_order
from serving.security import Role

router = APIRouter(tags=["trading"])


@router.get("/positions", response_model=Positions)
async def positions(
    state: State,
    user: CurrentUser,
    user_id: Annotated[int | None, Query(ge=1, le=2**62, description="Admins only")] = None,
) -> dict[str, Any]:
    """Positions of your account (admins: of any account; the dataflows trade as user 1)."""
    who = user.user_id if user_id is None else user_id
    if who != user.user_id and not user.can(Role.ADMIN):
        raise HTTPException(403, "only admins see other accounts")
    pos = await state.store.positions(who)
    return {"user_id": who, "positions": [{"symbol": s, "quantity": q} for s, q in pos.items()]}


@router.get("/alerts")
async def alerts(state: State, user: CurrentUser, limit: Limit = 50) -> list[dict[str, Any]]:
    """The newest risk alerts (the drawdown kill switch: ``HighDrawdown``, critical),
    newest first: what the ``alerts`` room sent before a client joined it."""
    return await state.store.alerts(limit)


@router.post("/orders", response_model=OrderOut, status_code=201)
async def submit_order(state: State, user: Trader, conn: DB, order: OrderIn) -> dict[str, Any]:
    """A market order through the dataflow's risk gate; recorded accepted or denied (with the
    rule) in ``orders`` and ``audit_log``. Traders and admins only."""
    touch = await state.store.latest_tick(order.symbol)
    side = Side.BUY if order.side == "buy" else Side.SELL
    out = await place_order(
        conn,
        user.user_id,
        order.symbol,
        side,
        order.quantity,
        order.client_order_id,
        touch,
        state.settings.risk,
    )
    if out is None:
        raise HTTPException(409, f"client_order_id {order.client_order_id!r} was used before")
    return out


class BrokerCredentialsIn(Strict):
    broker: str = Field(pattern=NAME_PATTERN)
    credentials: dict[str, str] = Field(max_length=20)


@router.put("/broker-credentials", status_code=204)
async def put_broker_credentials(
    state: State, user: Trader, conn: DB, body: BrokerCredentialsIn
) -> None:
    """Store your credentials for a broker, encrypted (Fernet); they are never sent back."""
    await users.set_broker_credentials(
        conn, user.user_id, body.broker, state.crypto().encrypt(body.credentials)
    )


@router.get("/broker-credentials")
async def list_broker_credentials(user: Trader, conn: DB) -> list[dict[str, Any]]:
    """Which brokers you stored credentials for, and when (not the credentials)."""
    rows = await users.broker_credentials(conn, user.user_id)
    return [{"broker": b, "updated_at": t.isoformat()} for b, _, t in rows]
