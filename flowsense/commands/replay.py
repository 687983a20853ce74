"""``flowsense replay [--data PATH] [--predictor NAME] [--speed max|1x|10x]``: the embedded demo;
``flowsense replay --from-kafka TOPIC [--start ISO] [--end ISO]``: a topic's history."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, Levels, data_path, emit_json, existing
from flowsense.settings import Settings

if TYPE_CHECKING:
    from dataflows.readers import Feed
    from dataflows.sinks import LatestValues

PREDICTOR_NAMES = ("ofi", "hawkes", "transformer", "ensemble", "inverted")
"""For the help text; the registry (``operators.predictors.PREDICTORS``) is authoritative."""


def parse_speed(text: str) -> float | None:
    """``max`` -> None (as fast as possible); ``1x``, ``10x``, ``0.5x`` -> the factor."""
    if text == "max":
        return None
    try:
        factor = float(text.removesuffix("x"))
    except ValueError:
        factor = 0.0
    if not text.endswith("x") or factor <= 0:
        raise InputError(f"bad speed {text!r}: use max, or a factor such as 1x or 10x")
    return factor


def estimate_rows(feeds: list[Feed]) -> int:
    """Input rows, for the progress bar (LOBSTER: lines of the message file)."""
    total = 0
    for feed in feeds:
        if feed.kind == "lobster":
            with open(feed.paths[0], "rb") as f:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return total


def run_replay(
    settings: Settings,
    data: Path,
    speed: float | None = None,
    workers: int = 1,
    run_dir: Path | None = None,
    latest: LatestValues | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Replay ``data`` through the whole dataflow; the run's summary."""
    from dataflows.readers import discover, group_feeds
    from dataflows.replay import build_replay_flow
    from dataflows.runner import run_flow
    from dataflows.sinks import LatestValues
    from dataflows.summary import summarize
    from operators.predictors import PREDICTORS

    name = settings.replay.predictor
    if name not in PREDICTORS:
        raise InputError(f"unknown predictor {name!r}; available: {', '.join(sorted(PREDICTORS))}")
    feeds = discover(existing(data))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = run_dir or settings.runs_dir / f"{stamp}-{settings.replay.predictor}"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(f"{run_dir}: run folder exists and is not empty")
    latest = latest or LatestValues()
    flow = build_replay_flow(group_feeds(feeds), run_dir, settings, speed, latest)
    done = threading.Event()
    bar = threading.Thread(
        target=_show_progress, args=(latest, estimate_rows(feeds), done), daemon=True
    )
    if progress:
        bar.start()
    start = time.perf_counter()
    try:
        run_flow(flow, workers)
    finally:
        done.set()
        if progress:
            bar.join()
    elapsed = time.perf_counter() - start
    summary = summarize(run_dir)
    summary.update(
        predictor=settings.replay.predictor,
        data=str(data),
        elapsed_s=round(elapsed, 3),
        events_per_s=round(summary["events"] / elapsed) if elapsed > 0 else None,
    )
    return summary


def parse_time(text: str | None, what: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone), or None."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"bad {what} time {text!r}: use ISO 8601, e.g. 2026-11-25T09:30:00"
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def run_history(
    settings: Settings,
    topic: str,
    start: datetime | None,
    end: datetime | None,
    workers: int = 1,
    run_dir: Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Replay the messages of ``topic`` written in ``[start, end)`` into a run folder."""
    from dataflows.history import build_history_flow, describe, message_count, spans
    from dataflows.runner import run_flow
    from dataflows.sinks import LatestValues
    from dataflows.summary import summarize

    if start is not None and end is not None and start >= end:
        raise InputError(f"--start {start.isoformat()} is not before --end {end.isoformat()}")
    try:
        found = spans(settings.kafka.bootstrap, topic, start, end)
    except ValueError as e:
        raise InputError(str(e)) from None
    except Exception as e:  # KafkaException: the broker does not answer
        raise InputError(
            f"Kafka at {settings.kafka.bootstrap} does not answer ({e}); start the servers "
            "with: flowsense services up"
        ) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = run_dir or settings.runs_dir / f"{stamp}-{settings.replay.predictor}-kafka"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(f"{run_dir}: run folder exists and is not empty")
    latest = LatestValues()
    done = threading.Event()
    bar = threading.Thread(target=_show_progress, args=(latest, 0, done), daemon=True)
    if progress:
        bar.start()
    began = time.perf_counter()
    try:
        run_flow(build_history_flow(settings, topic, found, run_dir, latest), workers)
    finally:
        done.set()
        if progress:
            bar.join()
    elapsed = time.perf_counter() - began
    summary = summarize(run_dir)
    summary.update(
        predictor=settings.replay.predictor,
        data=f"kafka:{topic}",
        start=start and start.isoformat(),
        end=end and end.isoformat(),
        messages=message_count(found),
        offsets=describe(found),
        elapsed_s=round(elapsed, 3),
        events_per_s=round(summary["events"] / elapsed) if elapsed > 0 else None,
    )
    return summary


def plot_equity(settings: Settings, summary: dict[str, Any], out: Path) -> None:
    """Equity, its running peak, the kill-switch level and the halt, as a PNG."""
    import matplotlib
    import numpy as np

    from dataflows.summary import equity_curve

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    risk = settings.risk
    curve = equity_curve(Path(summary["run_dir"]), risk.capital)
    t = curve["ts_event"].to_numpy().astype("datetime64[ns]")
    equity = curve["equity"].to_numpy()
    peak = np.maximum.accumulate(np.maximum(equity, risk.capital)) if len(equity) else equity
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(t, equity, lw=0.8, label="equity (capital + PnL at the mid)")
    ax.plot(t, peak, lw=0.8, ls="--", color="grey", label="peak")
    ax.plot(
        t, peak * (1 - risk.kill_drawdown), lw=0.8, ls=":", color="tab:red",
        label=f"kill switch ({risk.kill_drawdown:.0%} below the peak)",
    )  # fmt: skip
    halt = summary.get("halt")
    if halt:
        ax.axvline(np.datetime64(halt["ts_event"], "ns"), color="tab:red", lw=1.2)
        ax.annotate("halted", (np.datetime64(halt["ts_event"], "ns"), ax.get_ylim()[1]),
                    color="tab:red", ha="right", va="top")  # fmt: skip
    ax.set_title(f"replay {summary['predictor']}: equity of account {risk.account} (UTC)")
    ax.set_ylabel("equity (currency)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _show_progress(latest: LatestValues, total: int, done: threading.Event) -> None:
    columns = [TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replay", total=total or None)
        while not done.wait(0.2):
            progress.update(task, completed=latest.count("features"))
        progress.update(task, completed=latest.count("features"))


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    console = Console(width=max(console.width, 110))  # a pipe reports 80 columns: too narrow
    table = Table(title=f"replay: {summary['data']} ({summary['predictor']})")
    for name in ("symbol", "events", "trades", "orders", "denied", "fills", "position", "PnL"):
        table.add_column(name, justify="left" if name == "symbol" else "right")
    for symbol, s in summary["symbols"].items():
        table.add_row(
            symbol,
            f"{s['events']:,}",
            f"{s['trades']:,}",
            f"{s['orders']:,}",
            f"{s['denied']:,}",
            f"{s['fills']:,}",
            f"{s['position']:g}",
            f"{s['pnl']:,.2f}",
        )
    table.add_row(
        "total",
        f"{summary['events']:,}",
        f"{summary['trades']:,}",
        f"{summary['orders']:,}",
        f"{summary['denied']:,}",
        f"{summary['fills']:,}",
        "",
        f"{summary['pnl']:,.2f}",
        style="bold",
    )
    console.print(table)
    console.print(
        f"features {summary['features']:,} · bars {summary['bars']:,} · predictions "
        f"{summary['predictions']:,} · {summary['events_per_s'] or 0:,} events/s "
        f"in {summary['elapsed_s']} s"
    )
    rejected = summary["rejected_by_reason"]
    console.print(
        "rejected rows: "
        + (", ".join(f"{r} {n:,}" for r, n in rejected.items()) if rejected else "none")
    )
    denied = summary["denied_by_rule"]
    console.print(
        "denied orders: "
        + (", ".join(f"{r} {n:,}" for r, n in denied.items()) if denied else "none")
    )
    halt = summary["halt"]
    if halt:
        console.print(
            f"[bold red]HALTED[/] by the {halt['rule']} kill switch at {halt['at']} "
            f"({halt['symbol']}): {halt['message']}; accepted orders after: {halt['orders_after']}"
        )
    else:
        console.print("kill switch: not tripped")
    console.print(f"outputs: {summary['run_dir']}")
    if summary.get("plot"):
        console.print(f"plot: {summary['plot']}")


@app.command()
def replay(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="File or folder of market data (default: setting FLOWSENSE_DATA)."
        ),
    ] = None,
    predictor: Annotated[
        str | None, typer.Option("--predictor", help=f"Predictor: {', '.join(PREDICTOR_NAMES)}.")
    ] = None,
    speed: Annotated[
        str, typer.Option("--speed", help="max, or a pace such as 1x or 10x.")
    ] = "max",
    levels: Levels = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Bytewax worker threads.")
    ] = 1,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run-dir", help="Output folder (default: a new one under runs/)."),
    ] = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Write equity.png (equity, peak, kill switch, halt).")
    ] = False,
    from_kafka: Annotated[
        str | None,
        typer.Option("--from-kafka", help="Replay a Kafka topic's history (e.g. ticks.raw)."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="With --from-kafka: first message time (ISO 8601, UTC)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="With --from-kafka: stop before this time (ISO 8601, UTC)."),
    ] = None,
    json: Json = False,
) -> None:
    """Replay market data through the whole dataflow: features, predictions, risk, paper fills."""
    base = Settings()
    replay_cfg = base.replay.model_copy(
        update={
            k: v for k, v in {"predictor": predictor, "levels": levels}.items() if v is not None
        }
    )
    settings = base.model_copy(update={"replay": replay_cfg})
    if from_kafka is None and (start or end):
        raise InputError("--start and --end go with --from-kafka")
    if from_kafka is not None:
        if data is not None:
            raise InputError("give --data or --from-kafka, not both")
        if parse_speed(speed) is not None:
            raise InputError("--from-kafka replays as fast as it can: no --speed")
        summary = run_history(
            settings,
            from_kafka,
            parse_time(start, "--start"),
            parse_time(end, "--end"),
            workers,
            run_dir,
            progress=not json,
        )
    else:
        summary = run_replay(
            settings,
            data_path(data, settings.data),
            parse_speed(speed),
            workers,
            run_dir,
            progress=not json,
        )
    if plot:
        out = Path(summary["run_dir"]) / "equity.png"
        plot_equity(settings, summary, out)
        summary["plot"] = str(out)
    if json:
        emit_json(summary)
    else:
        _print_summary(summary)
