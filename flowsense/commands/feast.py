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
    from dataflows.stores.feast import apply

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
    from dataflows.stores.feast import materialize

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
    from dataflows.stores.feast import online

    values = online(Settings(), symbols)
    if json:
        emit_json({"features": values})
    else:
        for s, row in values.items():
            print(s, " ".join(f"{k}={v}" for k, v in row.items()))
