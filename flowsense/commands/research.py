"""``flowsense research ofi-impact INPUT``: does order-flow imbalance explain price changes?"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flowsense.cli import research_app
from flowsense.options import Json, Levels, emit_json, existing, parse_duration
from flowsense.settings import Settings

REGRESSORS = {"ofi": "ofi", "trade_imbalance": "trade_imbalance"}


def ofi_impact_report(
    input: Path,
    bar: str = "10s",
    window: str = "30m",
    levels: int | None = None,
    plot: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Per symbol: OLS of mid changes (cents) on OFI and on trade imbalance over bars."""
    from dataflows.offline import compute
    from operators.impact import impact

    bar_ns, window_ns = parse_duration(bar), parse_duration(window)
    bars, _ = compute(existing(input), levels, bar_ns, cache_dir)
    report: dict[str, Any] = {
        "input": str(input),
        "bar_ns": bar_ns,
        "window_ns": window_ns,
        "dmid_unit": "cents",
        "symbols": {},
    }
    for (symbol,), df in bars.group_by("symbol", maintain_order=True):
        dmid = df["dmid"].to_numpy() * 100
        regs = {name: df[col].to_numpy() for name, col in REGRESSORS.items()}
        report["symbols"][symbol] = {
            "bars": df.height,
            **impact(df["ts_event"].to_numpy(), dmid, regs, window_ns),
        }
    if plot is not None and bars.height:
        _plot(bars, report, plot)
        report["plot"] = str(plot)
    return report


def _plot(bars, report: dict[str, Any], out: Path) -> None:
    import matplotlib
    import numpy as np
    import polars as pl

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    symbols = list(report["symbols"])
    fig, axes = plt.subplots(len(symbols), 2, figsize=(11, 4.2 * len(symbols)), squeeze=False)
    for row, symbol in enumerate(symbols):
        df = bars.filter(pl.col("symbol") == symbol)
        y = df["dmid"].to_numpy() * 100
        for col, (name, column) in enumerate(REGRESSORS.items()):
            ax = axes[row][col]
            x = df[column].to_numpy()
            fit = report["symbols"][symbol][name]["all"]
            ax.scatter(x, y, s=4, alpha=0.35, color="tab:blue" if col == 0 else "tab:orange")
            if math.isfinite(fit["beta"]):
                xs = np.linspace(np.nanmin(x), np.nanmax(x), 2)
                ax.plot(xs, fit["alpha"] + fit["beta"] * xs, color="black", lw=1)
            mean_r2 = report["symbols"][symbol][name]["mean_r2"]
            ax.set_title(f"{symbol}: Δmid ~ {name}, R² {fit['r2']:.2f} (windows {mean_r2:.2f})")
            ax.set_xlabel(f"{name} per bar (shares/coins)")
            ax.set_ylabel("Δmid per bar (cents)")
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
    fig.suptitle(f"Price impact of order flow, {report['bar_ns'] / 1e9:g} s bars")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


@research_app.command("ofi-impact")
def ofi_impact(
    input: Annotated[Path, typer.Argument(help="A data file or folder.")],
    bar: Annotated[str, typer.Option("--bar", help="Bar length.")] = "10s",
    window: Annotated[
        str, typer.Option("--window", help="One fit per window of this length.")
    ] = "30m",
    levels: Levels = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Scatter plot PNG (default: under runs/research/)."),
    ] = None,
    json: Json = False,
) -> None:
    """Regress mid changes on OFI and on trade imbalance per bar (Cont, Kukanov & Stoikov 2014)."""
    settings = Settings()
    plot = plot or settings.runs_dir / "research" / f"ofi_impact_{input.stem}.png"
    report = ofi_impact_report(input, bar, window, levels, plot, settings.cache_dir)
    if json:
        emit_json(report)
        return
    table = Table(title=f"OFI price impact: {input.name}, {bar} bars, fits per {window}")
    for name in (
        "symbol",
        "regressor",
        "bars",
        "β (¢/unit)",
        "t-stat",
        "R² all",
        "mean R² (windows)",
    ):
        table.add_column(name, justify="left" if name in ("symbol", "regressor") else "right")
    for symbol, s in report["symbols"].items():
        for name in REGRESSORS:
            r = s[name]
            table.add_row(
                symbol,
                name,
                f"{s['bars']:,}",
                f"{r['all']['beta']:.4g}",
                f"{r['all']['t_stat']:.1f}",
                f"{r['all']['r2']:.3f}",
                f"{r['mean_r2']:.3f} ({r['windows']})",
            )
    Console().print(table)
    Console(stderr=True).print(f"plot: {report.get('plot', '-')}")


__all__ = ["ofi_impact", "ofi_impact_report"]
