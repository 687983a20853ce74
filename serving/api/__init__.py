"""REST routers: one module per resource under ``routes``, included here."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.routes import admin, auth, backtests, health, market, trading

api_router = APIRouter()
# The market routes first: the most requested, and routes are matched in order.
for module in (market, health, auth, trading, backtests, admin):
    api_router.include_router(module.router)
