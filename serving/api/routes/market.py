"""Market data for traders and charts: predictions, ticks, features, bars."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from serving.api.deps import CurrentUser, State
from serving.api.params import Limit, NameList, Prediction, Symbol

router = APIRouter(tags=["market data"])


@router.get("/predictions", response_model=list[Prediction])
async def predictions(
    state: State,
    user: CurrentUser,
    symbols: NameList = None,
    models: NameList = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """The newest predictions of those symbols and models (all if none given), newest first."""
    return await state.store.predictions(symbols, models, limit)


@router.get("/predictions/{symbol}", response_model=Prediction)
async def latest_prediction(state: State, user: CurrentUser, symbol: Symbol) -> dict[str, Any]:
    """The newest prediction of a symbol (``live``: from the running flow's hot store)."""
    p = await state.store.latest_prediction(symbol)
    if p is None:
        raise HTTPException(404, f"no prediction for {symbol}")
    return p


@router.get("/ticks/{symbol}")
async def ticks(
    state: State, user: CurrentUser, symbol: Symbol, limit: Limit = 100
) -> list[dict[str, Any]]:
    """The newest ticks (best level and trade), newest first."""
    return await state.store.ticks(symbol, limit)


@router.get("/ticks/{symbol}/latest")
async def latest_tick(state: State, user: CurrentUser, symbol: Symbol) -> dict[str, Any]:
    """The newest book and features of a symbol."""
    t = await state.store.latest_tick(symbol)
    if t is None:
        raise HTTPException(404, f"no tick for {symbol}")
    return t


@router.get("/features/{symbol}")
async def features(
    state: State, user: CurrentUser, symbol: Symbol, limit: Limit = 100
) -> list[dict[str, Any]]:
    """The newest feature rows (OFI, micro-price, spread, depth...), newest first."""
    return await state.store.features(symbol, limit)


@router.get("/bars/{symbol}")
async def bars(
    state: State,
    user: CurrentUser,
    symbol: Symbol,
    interval_s: Annotated[int, Query(ge=1, le=86_400)] = 10,
    limit: Limit = 500,
) -> list[dict[str, Any]]:
    """OHLC of the mid, summed OFI and event count per interval, newest first (charts)."""
    return await state.store.bars(symbol, interval_s, limit)
