"""``flowsense train --data PATH``: Hawkes + transformer + stacked ensemble, logged to MLflow."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flowsense.cli import app
from flowsense.options import Json, emit_json, existing
from flowsense.settings import Settings


def model_settings(base: Settings, **given) -> Settings:
    """``base`` with the ``models`` fields given on the command line (None: keep)."""
    update = {k: v for k, v in given.items() if v is not None}
    return base.model_copy(update={"models": base.models.model_copy(update=update)})


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="Training data: a file or folder.")],
    horizon: Annotated[
        int | None, typer.Option("--horizon", min=1, help="Label horizon in events.")
    ] = None,
    window: Annotated[
        int | None, typer.Option("--window", min=2, help="Rows the transformer sees.")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    max_windows: Annotated[
        int | None, typer.Option("--max-windows", min=1, help="Target rows sampled per epoch.")
    ] = None,
    label: Annotated[
        Literal["point", "smoothed"] | None,
        typer.Option("--label", help="point: m(t+h) vs m(t); smoothed: mean of the next h mids."),
    ] = None,
    alpha: Annotated[
        float | None, typer.Option("--alpha", min=0, help="Relative change that counts as a move.")
    ] = None,
    val_fraction: Annotated[
        float, typer.Option("--val-fraction", help="Later share of each symbol for validation.")
    ] = 0.2,
    out: Annotated[
        Path | None, typer.Option("--out", help="Bundle folder (default: runs/models/<time>).")
    ] = None,
    mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log the run and register the bundle.")
    ] = True,
    json: Json = False,
) -> None:
    """Train the Hawkes, transformer and ensemble models on one dataset (CPU)."""
    from flowsense.models.training import train as run_training

    settings = model_settings(
        Settings(),
        horizon=horizon,
        window=window,
        epochs=epochs,
        max_windows=max_windows,
        label_method=label,
        label_alpha=alpha,
    )
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("features and Hawkes fit", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(task, description=f"training {what}", completed=done, total=total)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notices
            report = run_training(settings, existing(data), val_fraction, out, mlflow, step)
    if json:
        emit_json(report)
        return
    console = Console()
    console.print(
        f"trained on {report['data']} ({', '.join(report['symbols'])}) "
        f"in {report['elapsed_s']} s; bundle {report['bundle']}"
    )
    if report.get("model"):
        console.print(
            f"MLflow run {report['run_id']}, registered {report['model']} "
            f"at {report['tracking_uri']}"
        )
    h = report["hawkes"]
    console.print(
        f"Hawkes: mu {[round(x, 4) for x in h['mu']]}, beta {h['beta']:.3f}, "
        f"spectral radius {h['spectral_radius']:.3f}"
    )
    for name, m in report["validation"].items():
        console.print(
            f"validation {name}: accuracy {m['accuracy']:.3f}, "
            f"macro F1 {m['macro_f1']:.3f} ({m['n']:,} rows)"
        )
