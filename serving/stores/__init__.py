"""What the API reads, behind one protocol: the real servers, or the embedded replay.

Rows are plain dicts with the project's conventions (``ts_event`` int ns UTC,
prices in currency). Methods answer ``None`` or empty lists for what is not
there; they raise only when a store cannot be reached.
"""

from __future__ import annotations

from typing import Any, Protocol

Row = dict[str, Any]

PREDICTION_FIELDS = ("symbol", "model", "seq", "direction", "confidence")


def prediction_row(r: Row) -> Row:
    """A stored prediction row as the API answers it (``ts_event`` as ``timestamp``)."""
    return {"timestamp": r["ts_event"]} | {k: r[k] for k in PREDICTION_FIELDS}


class Store(Protocol):
    """The stores as the API sees them (read side)."""

    kind: str
    """``servers`` or ``embedded``."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def health(self) -> dict[str, Row]:
        """Each dependency: ``{"ok": bool, "detail": str, "ms": float}``."""
        ...

    async def latest_prediction(self, symbol: str) -> Row | None: ...

    async def predictions(
        self, symbols: list[str] | None, models: list[str] | None, limit: int
    ) -> list[Row]:
        """The newest ``limit`` predictions of those symbols and models, newest first."""
        ...

    async def latest_tick(self, symbol: str) -> Row | None: ...

    async def ticks(self, symbol: str, limit: int) -> list[Row]: ...

    async def features(self, symbol: str, limit: int) -> list[Row]: ...

    async def bars(self, symbol: str, interval_s: int, limit: int) -> list[Row]: ...

    async def positions(self, user_id: int) -> dict[str, float]: ...

    async def alerts(self, limit: int) -> list[Row]:
        """The newest ``limit`` alerts (the kill switch's ``HighDrawdown``...), newest first."""
        ...
