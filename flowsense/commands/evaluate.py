"""``flowsense evaluate --data PATH``: models and baselines on held-out data, with plots."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, emit_json, existing
from flowsense.settings import Settings


def parse_time(text: str) -> int:
    """ISO date or datetime (UTC unless it says otherwise) -> ns since the epoch."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"bad time {text!r}: use an ISO date or datetime, e.g. 2024-08-09"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1e9)


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Held-out data: a file or folder.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Bundle folder or models:/NAME/VERSION "
            "(default: setting FLOWSENSE_MODELS__SOURCE, else the latest registered).",
        ),
    ] = None,
    score_from: Annotated[
        str | None,
        typer.Option(
            "--score-from",
            help="Score rows from this UTC time on (earlier rows warm "
            "the models up), e.g. 2024-08-09.",
        ),
    ] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Only these symbols (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Plot folder (default: runs/eval-<time>).")
    ] = None,
    json: Json = False,
) -> None:
    """Accuracy, macro F1, per-class P/R, log-loss and PnL of every model and baseline."""
    from flowsense.models.artifacts import load_bundle
    from flowsense.models.evaluation import evaluate as run_evaluation

    base = Settings()
    if model is not None:
        base = base.model_copy(update={"models": base.models.model_copy(update={"source": model})})
    score_from_ns = parse_time(score_from) if score_from else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    out = out or base.runs_dir / f"eval-{stamp}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bundle = load_bundle(base)
        with Console(stderr=True).status("running the models over the data"):
            report = run_evaluation(base, existing(data), bundle, out, score_from_ns, symbol)
    if json:
        emit_json(report)
        return
    console = Console()
    console = Console(width=max(console.width, 110))
    table = Table(
        title=f"evaluate: {report['data']} ({report['rows_scored']:,} rows, "
        f"horizon {report['label']['horizon']} events)"
    )
    for col in (
        "model",
        "accuracy",
        "macro F1",
        "P down/flat/up",
        "R down/flat/up",
        "log-loss",
        "PnL",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in report["results"].items():
        pc = m["per_class"]
        table.add_row(
            name,
            f"{m['accuracy']:.3f}",
            f"{m['macro_f1']:.3f}",
            "/".join(f"{pc[c]['precision']:.2f}" for c in ("down", "flat", "up")),
            "/".join(f"{pc[c]['recall']:.2f}" for c in ("down", "flat", "up")),
            "" if m["log_loss"] is None else f"{m['log_loss']:.3f}",
            ", ".join(f"{v:,.2f}" for v in m["pnl"].values()),
        )
    console.print(table)
    share = ", ".join(f"{k} {v:.1%}" for k, v in report["class_share"].items())
    console.print(
        f"classes: {share}; ensemble beats the best baseline "
        f"({report['best_baseline']}) on macro F1: {report['ensemble_beats_baselines']}"
    )
    console.print(f"plots: {', '.join(report['plots'])}")
