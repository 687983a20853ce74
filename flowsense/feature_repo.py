"""The Feast feature repository: entity ``symbol``, feature view ``ofi_features``
(shared by the CLI, the live flow's push sink ``dataflows.stores.feast`` and the API).

Offline store: a Parquet file made from the features the dataflow writes (a
run folder's ``features`` table, a features table, or market data, as
``flowsense drift`` reads them), with the event time as a timestamp column
(``event_timestamp``), which Feast's file offline store needs (the run's
``ts_event`` is int64 ns). Online store: the real Redis of the settings.
The live flow pushes each batch's newest row per symbol to the online store
(``dataflows.stores.feast.FeastPushSink``, the push source ``ofi_push``) when
``FLOWSENSE_FEAST__PUSH`` is on; ``materialize`` loads the offline rows in a
time range; training reads point-in-time correct rows with ``historical``; the API's ``GET
/api/v1/features/{symbol}/online`` and ``flowsense feast online`` read them
back. The repository is defined in code (``RepoConfig``), its registry kept
under ``FLOWSENSE_FEAST__DIR``; Feast is imported only here and only when used.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from flowsense.settings import Settings

VIEW = "ofi_features"
PUSH_SOURCE = "ofi_push"
TIMESTAMP = "event_timestamp"


def feature_names(levels: int) -> list[str]:
    return ["ofi", "spread", "microprice", *(f"ofi_{m}" for m in range(1, levels + 1))]


def feast_dir(settings: Settings) -> Path:
    return settings.feast.dir or settings.runtime_dir / "feast"


def offline_path(settings: Settings) -> Path:
    return feast_dir(settings) / "offline" / f"{VIEW}.parquet"


def offline_frame(features: pl.DataFrame, levels: int) -> pl.DataFrame:
    """Feast's form of the dataflow's features: ``symbol``, ``event_timestamp`` (UTC,
    ns), the features as float64 (a level the data lacks is null)."""
    cols = [
        pl.col("symbol"),
        pl.from_epoch(pl.col("ts_event"), time_unit="ns")
        .dt.replace_time_zone("UTC")
        .alias(TIMESTAMP),
    ]
    for name in feature_names(levels):
        col = pl.col(name) if name in features.columns else pl.lit(None)
        cols.append(col.cast(pl.Float64).alias(name))
    return features.select(cols)


def _config(settings: Settings) -> Any:
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
    from feast.infra.online_stores.redis import RedisOnlineStoreConfig
    from feast.repo_config import RepoConfig

    root = feast_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    r = settings.redis
    return RepoConfig(
        project=settings.feast.project,
        registry=str(root / "registry.db"),
        provider="local",
        online_store=RedisOnlineStoreConfig(connection_string=f"{r.host}:{r.port},db={r.db}"),
        offline_store=DaskOfflineStoreConfig(),
        entity_key_serialization_version=3,
        repo_path=str(root),
    )


def feature_store(settings: Settings) -> Any:
    from feast import FeatureStore

    return FeatureStore(config=_config(settings))


def definitions(settings: Settings) -> list[Any]:
    """The entity, the batch source over the offline file, the push source and the view."""
    from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
    from feast.types import Float64

    symbol = Entity(name="symbol", join_keys=["symbol"], value_type=ValueType.STRING)
    batch = FileSource(
        name="dataflow_features", path=str(offline_path(settings)), timestamp_field=TIMESTAMP
    )
    push = PushSource(name=PUSH_SOURCE, batch_source=batch)
    view = FeatureView(
        name=VIEW,
        entities=[symbol],
        ttl=timedelta(seconds=settings.feast.ttl_s),
        schema=[Field(name=n, dtype=Float64) for n in feature_names(settings.feast.levels)],
        source=push,
        online=True,
    )
    return [symbol, batch, push, view]


def apply(settings: Settings, features: pl.DataFrame) -> dict[str, Any]:
    """Write the offline file from the dataflow's ``features`` and ``feast apply`` the repo."""
    if features.is_empty():
        raise ValueError("no feature rows to put in the offline store")
    frame = offline_frame(features, settings.feast.levels)
    path = offline_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    store = feature_store(settings)
    with contextlib.redirect_stdout(sys.stderr):
        store.apply(definitions(settings))
    ts = frame[TIMESTAMP]
    return {
        "offline": str(path),
        "rows": frame.height,
        "symbols": sorted(frame["symbol"].unique().to_list()),
        "from": ts.min().isoformat(),
        "to": ts.max().isoformat(),
        "feature_view": VIEW,
        "features": feature_names(settings.feast.levels),
    }


def materialize(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Load the offline rows of ``[start, end]`` (default: all) into Redis: the newest row
    of each symbol within the TTL before ``end``."""
    path = offline_path(settings)
    if not path.exists():
        raise ValueError(f"{path}: no offline store yet: run `flowsense feast apply` first")
    if start is None or end is None:
        ts = pl.read_parquet(path, columns=[TIMESTAMP])[TIMESTAMP]
        start = start or ts.min() - timedelta(microseconds=1)
        end = end or ts.max() + timedelta(microseconds=1)
    with contextlib.redirect_stdout(sys.stderr):  # Feast prints progress: keep stdout for data
        feature_store(settings).materialize(start_date=start, end_date=end, feature_views=[VIEW])
    return {"feature_view": VIEW, "start": start.isoformat(), "end": end.isoformat()}


def online(
    settings: Settings, symbols: list[str], store: Any = None
) -> dict[str, dict[str, float | None]]:
    """The online values of every feature, per symbol (``None`` where Redis has none);
    ``store``: a ``FeatureStore`` to reuse (the API keeps one)."""
    names = feature_names(settings.feast.levels)
    got = (
        (store or feature_store(settings))
        .get_online_features(
            features=[f"{VIEW}:{n}" for n in names], entity_rows=[{"symbol": s} for s in symbols]
        )
        .to_dict()
    )
    return {s: {n: got[n][i] for n in names} for i, s in enumerate(symbols)}


def historical(settings: Settings, entities: pl.DataFrame) -> pl.DataFrame:
    """Point-in-time correct features for ``entities`` (``symbol``, ``ts_event`` int ns): for
    each, the newest offline row at or before its time, within the TTL (else nulls). Every
    entity row comes back, in order (Feast's file store leaves out rows older than all
    of its data: they are put back here, with nulls)."""
    names = feature_names(settings.feast.levels)
    keyed = entities.select("symbol", "ts_event").with_row_index("_row")
    entity_df = keyed.with_columns(
        pl.from_epoch(pl.col("ts_event"), time_unit="ns")
        .dt.replace_time_zone("UTC")
        .alias(TIMESTAMP)
    ).to_pandas()
    job = feature_store(settings).get_historical_features(
        entity_df=entity_df, features=[f"{VIEW}:{n}" for n in names]
    )
    found = pl.from_pandas(job.to_df()).select(pl.col("_row").cast(pl.UInt32), *names)
    return keyed.join(found, on="_row", how="left").sort("_row").drop("_row")
