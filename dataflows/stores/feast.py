"""The live flow's push of fresh features to Feast's online store (Redis): the newest row of
each symbol per batch, through the push source of ``flowsense.feature_repo``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from flowsense.feature_repo import PUSH_SOURCE, TIMESTAMP, feature_names, feature_store
from flowsense.settings import Settings


class _PushPartition(StatelessSinkPartition[tuple[str, Any]]):
    def __init__(self, settings: Settings) -> None:
        from feast.data_source import PushMode

        self.store = feature_store(settings)
        self.mode = PushMode.ONLINE
        self.names = feature_names(settings.feast.levels)

    def write_batch(self, items: list[tuple[str, Any]]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for symbol, batch in items:  # FeatureBatch: only its newest row matters online
            n = len(batch)
            if n == 0:
                continue
            row = {
                "symbol": symbol,
                TIMESTAMP: datetime.fromtimestamp(batch["ts_event"][-1] / 1e9, UTC),
            }
            for name in self.names:
                col = batch.columns.get(name)
                row[name] = float(col[-1]) if col is not None else np.nan
            rows[symbol] = row
        if rows:
            import pandas as pd

            self.store.push(PUSH_SOURCE, pd.DataFrame(list(rows.values())), to=self.mode)


class FeastPushSink(DynamicSink[tuple[str, Any]]):
    """Features batches -> the newest row per symbol in Feast's online store (Redis)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PushPartition:
        return _PushPartition(self.settings)
