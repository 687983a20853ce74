"""Request and response models, and the checks on names that reach SQL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
"""Symbols and model names: letters, digits, ``.``, ``_``, ``-`` (they reach QuestDB SQL)."""

Symbol = Annotated[str, Path(pattern=NAME_PATTERN, description="Instrument, e.g. AMZN")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="Most rows to return")]
NameList = Annotated[list[Annotated[str, Field(pattern=NAME_PATTERN)]] | None, Query(max_length=50)]


def _storable(value: Any) -> Any:
    """Text PostgreSQL can store: UTF-8 without NUL (a lone surrogate or a NUL is refused)."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, dict):
        texts = [t for kv in value.items() for t in kv if isinstance(t, str)]
    for t in texts:
        if "\x00" in t:
            raise ValueError("text must not contain NUL characters")
        try:
            t.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


class Strict(BaseModel):
    """Request bodies: unknown fields, inf/NaN and unstorable text are refused (422)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _storable(value)


class Prediction(BaseModel):
    symbol: str
    timestamp: int = Field(description="ts_event, int ns since the epoch, UTC")
    model: str
    direction: int = Field(description="-1 down, 0 flat, 1 up")
    confidence: float
    seq: int | None = None
    live: bool | None = Field(None, description="From the live hot store (Redis), not history")


class Position(BaseModel):
    symbol: str
    quantity: float


class Positions(BaseModel):
    user_id: int
    positions: list[Position]


class OrderIn(Strict):
    symbol: str = Field(pattern=NAME_PATTERN)
    side: Literal["buy", "sell"]
    quantity: float = Field(gt=0, le=1e9)
    client_order_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Your id: a repeat is refused (409)"
    )


class OrderOut(BaseModel):
    client_order_id: str
    symbol: str
    side: str
    quantity: float
    status: Literal["accepted", "denied"]
    rule: str | None
    detail: str | None
    position_before: float
    bid_px: float | None
    ask_px: float | None
    ts_event: int


class BacktestIn(Strict):
    data: str = Field(
        min_length=1, max_length=500, description="File or folder under the backtest root"
    )
    predictor: str = Field("ofi", pattern=NAME_PATTERN)


class BacktestOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    data: str
    predictor: str
    summary: dict[str, Any] | None = None
    error: str | None = None
    created_at: str
    finished_at: str | None = None
    progress: dict[str, int] | None = None
    """While running: feature rows done so far and the input rows expected (LOBSTER)."""


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    mode: str
    checks: dict[str, dict[str, Any]]
