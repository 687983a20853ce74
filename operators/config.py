"""Settings of the trading operators (pydantic only, cheap to import for the settings module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrategyConfig(BaseModel):
    """Decision rule settings (``FLOWSENSE_STRATEGY__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(0.6, ge=0, le=1)
    cooldown_s: float = Field(1.0, ge=0)
    notional: float = Field(25_000.0, gt=0)
    """Position of one signal, in currency at the mid."""


class RiskConfig(BaseModel):
    """Risk limits (``FLOWSENSE_RISK__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: float = Field(50_000.0, gt=0)
    """Largest absolute position per symbol, in currency at the order's fill price."""
