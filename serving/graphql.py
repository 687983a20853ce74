"""GraphQL at ``/graphql`` (strawberry): the seed's schema, answered by the same store as REST.

The context comes from the REST dependencies (``current_user``: the same
auth and rate limit), so a query costs what a REST call costs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NewType

import strawberry
from fastapi import Depends
from strawberry.fastapi import GraphQLRouter
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from serving.api.deps import current_user, get_state
from serving.api.params import NAME_PATTERN
from serving.security import Principal, Role
from serving.state import AppState

Long = NewType("Long", int)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    serialize=int,
    parse_value=int,
    description="A 64-bit integer (timestamps: ns since the epoch, UTC)",
)
_NAME = re.compile(NAME_PATTERN)


def _names(values: list[str] | None, what: str) -> list[str] | None:
    for v in values or ():
        if not _NAME.match(v):
            raise ValueError(f"bad {what} {v!r}")
    return values or None


@strawberry.type
class Prediction:
    symbol: str
    timestamp: Long
    model: str
    direction: int
    confidence: float
    seq: Long | None = None


@strawberry.type
class Position:
    symbol: str
    quantity: float


@strawberry.type
class Backtest:
    id: str
    status: str
    data: str
    predictor: str
    summary: JSON | None
    error: str | None
    created_at: str
    finished_at: str | None


def _ctx(info: Info) -> tuple[AppState, Principal]:
    return info.context["state"], info.context["user"]


@strawberry.type
class Query:
    @strawberry.field(description="The newest predictions, newest first (as GET /predictions).")
    async def predictions(
        self,
        info: Info,
        symbols: list[str] | None = None,
        models: list[str] | None = None,
        limit: int = 100,
    ) -> list[Prediction]:
        state, _ = _ctx(info)
        if not 1 <= limit <= 10_000:
            raise ValueError("limit must be 1 to 10000")
        rows = await state.store.predictions(
            _names(symbols, "symbol"), _names(models, "model"), limit
        )
        return [
            Prediction(
                symbol=r["symbol"],
                timestamp=r["timestamp"],
                model=r["model"],
                direction=r["direction"],
                confidence=r["confidence"],
                seq=r.get("seq"),
            )
            for r in rows
        ]

    @strawberry.field(description="Your positions (as GET /positions).")
    async def positions(self, info: Info) -> list[Position]:
        state, user = _ctx(info)
        pos = await state.store.positions(user.user_id)
        return [Position(symbol=s, quantity=q) for s, q in pos.items()]

    @strawberry.field(description="A backtest of yours (as GET /backtest/{id}).")
    async def backtest(self, info: Info, id: str) -> Backtest | None:
        state, user = _ctx(info)
        job = await state.backtests.get(id)
        if job is None or (job["user_id"] != user.user_id and not user.can(Role.ADMIN)):
            return None
        return Backtest(**{k: job.get(k) for k in Backtest.__annotations__})


async def _context(
    state: Annotated[AppState, Depends(get_state)],
    user: Annotated[Principal, Depends(current_user)],
) -> dict[str, Any]:
    return {"state": state, "user": user}


schema = strawberry.Schema(query=Query, config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}))


def graphql_router() -> GraphQLRouter:
    return GraphQLRouter(schema, context_getter=_context, graphql_ide="graphiql")
