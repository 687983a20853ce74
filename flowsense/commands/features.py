"""``flowsense features INPUT --out FILE [--levels L] [--bar 10s]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, Levels, emit_json, existing, parse_duration
from flowsense.settings import Settings


def write_frame(df, out: Path) -> None:
    """Parquet, or CSV when the name ends in .csv."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        df.write_csv(out)
    elif out.suffix == ".parquet":
        df.write_parquet(out)
    else:
        raise InputError(f"{out}: output must end in .parquet or .csv")


def features_report(
    input: Path, out: Path, levels: int | None, bar: str | None, cache_dir: Path | None = None
) -> dict:
    """Compute and write features (or bars); what was written, as a dict."""
    from dataflows.offline import compute

    bar_ns = parse_duration(bar) if bar else None
    if out.suffix not in (".parquet", ".csv"):
        raise InputError(f"{out}: output must end in .parquet or .csv")
    df, rejects = compute(existing(input), levels, bar_ns, cache_dir)
    write_frame(df, out)
    by_reason = rejects.group_by("reason").len().sort("reason").rows() if rejects.height else []
    return {
        "input": str(input),
        "out": str(out),
        "kind": "bars" if bar_ns else "features",
        "bar_ns": bar_ns,
        "rows": df.height,
        "symbols": sorted(df["symbol"].unique().to_list()) if df.height else [],
        "columns": df.columns,
        "rejected": dict(by_reason),
    }


@app.command()
def features(
    input: Annotated[
        Path, typer.Argument(help="A data file (either file of a LOBSTER pair) or folder.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet (or .csv) file.")],
    levels: Levels = None,
    bar: Annotated[
        str | None,
        typer.Option("--bar", help="Aggregate into event-time bars of this length, e.g. 10s."),
    ] = None,
    json: Json = False,
) -> None:
    """Order-flow features per book update (OFI, micro-price, ...), or bars with --bar."""
    report = features_report(input, out, levels, bar, Settings().cache_dir)
    if json:
        emit_json(report)
        return
    console = Console(stderr=True)
    console.print(
        f"wrote {report['rows']:,} {report['kind']} rows of {', '.join(report['symbols'])} to {out}"
    )
    for reason, n in report["rejected"].items():
        console.print(f"  rejected {n:,} rows: {reason}")
