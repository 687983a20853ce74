"""``flowsense drift REFERENCE [LIVE] --out report.html``: feature and prediction drift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowsense.cli import app
from flowsense.commands.evaluate import parse_time
from flowsense.errors import InputError
from flowsense.options import Json, emit_json
from flowsense.settings import Settings


def parse_window(text: str | None) -> tuple[int | None, int | None]:
    """``START/END`` (ISO times, UTC unless they say otherwise; either may be empty)."""
    if not text:
        return None, None
    start, sep, end = text.partition("/")
    if not sep:
        raise InputError(
            f"bad window {text!r}: use START/END, e.g. 2012-06-21T10:00/2012-06-21T11:00"
        )
    a = parse_time(start) if start else None
    b = parse_time(end) if end else None
    if a is not None and b is not None and b <= a:
        raise InputError(f"bad window {text!r}: the end is not after the start")
    return a, b


@app.command()
def drift(
    reference: Annotated[
        Path,
        typer.Argument(help="Reference (training) data: run folder, features table or data."),
    ],
    live: Annotated[
        Path | None,
        typer.Argument(help="Live data, same kinds (default: the reference, other window)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML report to write.")] = Path(
        "drift.html"
    ),
    reference_window: Annotated[
        str | None, typer.Option("--reference-window", help="START/END of the reference (ISO).")
    ] = None,
    live_window: Annotated[
        str | None, typer.Option("--live-window", help="START/END of the live window (ISO).")
    ] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol.")] = None,
    features: Annotated[
        str | None, typer.Option("--features", help="Comma-separated feature columns.")
    ] = None,
    json: Json = False,
) -> None:
    """Drift (PSI and Kolmogorov-Smirnov) of each feature and of the predictions between a
    reference window and a live window; writes an HTML report with plots."""
    from flowsense.drift import drift_report, write_html

    settings = Settings()
    live = live or reference
    ref_w, live_w = parse_window(reference_window), parse_window(live_window)
    if live == reference and ref_w == live_w:
        raise InputError("the live window is the reference: give LIVE or different windows")
    names = tuple(f.strip() for f in features.split(",") if f.strip()) if features else None
    report, values = drift_report(
        reference,
        live,
        reference_window=ref_w,
        live_window=live_w,
        symbol=symbol,
        features=names or tuple(settings.drift.features),
        config=settings.drift,
        cache_dir=settings.cache_dir,
    )
    write_html(report, values, out)
    report["out"] = str(out)
    if json:
        emit_json(report)
        return
    console = Console(stderr=True)
    for f in report["features"] + report["prediction"]:
        mark = "DRIFT" if f["drifted"] else "ok"
        console.print(
            f"{f['feature']:<24} PSI {f['psi']:7.4f}  KS {f['ks']:.4f} "
            f"(p {f['p_value']:.2g})  {mark}"
        )
    verdict = "drift" if report["drifted"] else "no drift"
    console.print(f"{verdict}; report: {out}")
