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
    """Risk limits of one account (``FLOWSENSE_RISK__*``); currency is the quote currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capital: float = Field(40_000.0, gt=0)
    """Equity of the account at the start: drawdown and loss limits are fractions of it."""
    max_position: float = Field(50_000.0, gt=0)
    """Largest absolute position per symbol, in currency at the order's fill price."""
    max_gross: float = Field(100_000.0, gt=0)
    """Largest sum over symbols of |position| x price, after the order."""
    max_orders_per_s: float = Field(5.0, gt=0)
    """Orders let through in any 1 s of event time (all symbols of the account)."""
    collar_bps: float = Field(50.0, gt=0)
    """Largest distance of the order's price from the micro-price, in basis points."""
    daily_loss: float = Field(0.2, gt=0, le=1)
    """Loss since the start of the UTC day, as a fraction of ``capital``, beyond which only
    orders that reduce a position pass."""
    kill_drawdown: float = Field(0.15, gt=0, le=1)
    """Drawdown from the equity peak that halts all trading until an operator resets it."""
    account: str = "paper"
    """The account the flow trades for (the key of the account step)."""


class DriftConfig(BaseModel):
    """When a feature or a window has drifted (``operators.drift``; ``FLOWSENSE_DRIFT__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bins: int = Field(10, ge=2)
    """PSI bins: the reference's quantiles."""
    psi_threshold: float = Field(0.2, gt=0)
    """A column drifts at this population stability index or more..."""
    ks_threshold: float = Field(0.05, gt=0, le=1)
    """...or when the KS test rejects at ``alpha`` with a CDF gap of at least this."""
    alpha: float = Field(0.01, gt=0, lt=1)
    share: float = Field(0.5, gt=0, le=1)
    """A window drifts when at least this share of its features do."""
