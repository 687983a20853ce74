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


@router.get("/features/{symbol}/online")
async def online_features(state: State, user: CurrentUser, symbol: Symbol) -> dict[str, Any]:
    """The symbol's features in Feast's online store (``ofi_features``, Redis): what a model
    serving outside the dataflow would read. The first call loads Feast (seconds)."""
    import asyncio

    from flowsense.feature_repo import feast_dir, online

    if state.local_user is not None:
        raise HTTPException(503, "the Feast online store needs Redis (not embedded)")
    if not (feast_dir(state.settings) / "registry.db").exists():
        raise HTTPException(404, "no Feast repository: run `flowsense feast apply`")

    def read() -> dict[str, Any] | None:
        from feast.errors import FeastObjectNotFoundException

        try:
            return online(state.settings, [symbol], state.feature_store())[symbol]
        except FeastObjectNotFoundException:  # applied without the view: nothing to serve
            return None

    try:
        values = await asyncio.to_thread(read)  # Feast is synchronous (and slow to import)
    except Exception as e:  # Redis down or refusing
        raise HTTPException(503, f"Feast online store: {type(e).__name__}: {e}") from None
    if values is None or all(v is None for v in values.values()):
        raise HTTPException(404, f"no online features for {symbol}")
    return {"symbol": symbol, "feature_view": "ofi_features", "features": values}


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
