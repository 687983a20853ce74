"""Backtests: a replay of stored data with a predictor, run in the background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from serving.api.deps import CurrentUser, State, Trader
from serving.api.params import BacktestIn, BacktestOut
from serving.backtests import BacktestInputError
from serving.security import Role

router = APIRouter(tags=["backtests"])


@router.post("/backtest", response_model=BacktestOut, status_code=202)
async def submit(state: State, user: Trader, body: BacktestIn) -> dict[str, Any]:
    """Start a backtest (traders and admins); poll ``GET /backtest/{id}``."""
    try:
        return await state.backtests.submit(user.user_id, body.data, body.predictor)
    except BacktestInputError as e:
        raise HTTPException(422, str(e)) from None


async def visible(state, user, job_id: str) -> dict[str, Any]:
    job = await state.backtests.get(job_id)
    if job is None or (job["user_id"] != user.user_id and not user.can(Role.ADMIN)):
        raise HTTPException(404, f"no backtest {job_id}")
    return job


@router.get("/backtest/{job_id}", response_model=BacktestOut)
async def get(
    state: State,
    user: CurrentUser,
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> dict[str, Any]:
    """Status and, when done, the summary (per symbol: events, orders, fills, position, PnL)."""
    return await visible(state, user, job_id)
