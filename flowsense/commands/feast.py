"""``flowsense feast apply|materialize|online``: the Feast feature repository
(``dataflows.stores.feast``): offline from the dataflow's features, online in Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowsense.cli import app
from flowsense.commands.evaluate import parse_time
from flowsense.options import Json, emit_json
from flowsense.settings import Settings

feast_app = typer.Typer(help="The Feast feature repository (ofi_features).", no_args_is_help=True)
app.add_typer(feast_app, name="feast")


def _when(text: str | None):
    from datetime import UTC, datetime

    return None if text is None else datetime.fromtimestamp(parse_time(text) / 1e9, UTC)


@feast_app.command("apply")
def feast_apply(
    source: Annotated[
        Path,
        typer.Option("--source", help="The dataflow's features: run folder, table or data."),
    ],
    json: Json = False,
) -> None:
    """Write the offline store from the dataflow's features and apply the repository."""
    from dataflows.drift import load
    from flowsense.feature_repo import apply

    settings = Settings()
    features, _ = load(source, settings.cache_dir)
    report = apply(settings, features)
    if json:
        emit_json(report)
    else:
        Console(stderr=True).print(
            f"applied {report['feature_view']}: {report['rows']:,} offline rows of "
            f"{', '.join(report['symbols'])} ({report['from']} to {report['to']})"
        )


@feast_app.command("materialize")
def feast_materialize(
    start: Annotated[str | None, typer.Option("--start", help="ISO time (default: all).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO time (default: all).")] = None,
    json: Json = False,
) -> None:
    """Load the offline features of a time range into the online store (Redis)."""
    from flowsense.feature_repo import materialize

    report = materialize(Settings(), _when(start), _when(end))
    if json:
        emit_json(report)
    else:
        Console(stderr=True).print(
            f"materialized {report['feature_view']} {report['start']} to {report['end']}"
        )


@feast_app.command("online")
def feast_online(
    symbols: Annotated[list[str], typer.Argument(help="Symbols to read.")],
    json: Json = False,
) -> None:
    """The online features of each symbol, from Redis."""
    from flowsense.feature_repo import online

    values = online(Settings(), symbols)
    if json:
        emit_json({"features": values})
    else:
        for s, row in values.items():
            print(s, " ".join(f"{k}={v}" for k, v in row.items()))


@feast_app.command("historical")
def feast_historical(
    entities: Annotated[
        Path, typer.Argument(help="Parquet/CSV of (symbol, ts_event ns): the training rows.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet (or .csv).")],
    json: Json = False,
) -> None:
    """Point-in-time correct features for training rows, from the offline store."""
    import polars as pl

    from flowsense.commands.features import write_frame
    from flowsense.errors import InputError
    from flowsense.feature_repo import historical
    from flowsense.options import existing

    path = existing(entities)
    df = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    if not {"symbol", "ts_event"} <= set(df.columns):
        raise InputError(f"{entities}: needs columns symbol and ts_event (int ns)")
    frame = historical(Settings(), df)
    write_frame(frame, out)
    report = {"entities": str(entities), "out": str(out), "rows": frame.height,
              "columns": frame.columns}  # fmt: skip
    if json:
        emit_json(report)
    else:
        Console(stderr=True).print(f"wrote {frame.height:,} rows of features to {out}")
