"""``flowsense live`` and ``flowsense publish``: the live dataflow on Kafka, and a feed for it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, Levels, data_path, emit_json
from flowsense.settings import Settings


def parse_rate(text: str) -> float | None:
    if text == "max":
        return None
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise InputError(f"bad rate {text!r}: use max or a positive number of ticks per second")
    return rate


class WireForm(StrEnum):
    BINARY = "binary"
    JSON = "json"


@app.command()
def publish(
    data: Annotated[
        Path | None, typer.Option("--data", help="File or folder of market data.")
    ] = None,
    rate: Annotated[
        str,
        typer.Option(
            "--rate", help="Ticks per second (binary) or messages per second (json), or max."
        ),
    ] = "max",
    form: Annotated[
        WireForm,
        typer.Option(
            "--format",
            help="binary: tick batches in the internal format; "
            "json: the raw lines of Binance captures, one message each.",
        ),
    ] = WireForm.BINARY,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Ticks per Kafka message (binary).")
    ] = 1024,
    levels: Levels = None,
    json: Json = False,
) -> None:
    """Replay real market data into Kafka's ticks.raw, keyed by symbol."""
    from dataflows.publish import batches, json_messages, publish_json
    from dataflows.publish import publish as produce

    settings = Settings()
    path = data_path(data, settings.data)
    if form is WireForm.JSON:
        try:
            items: list = json_messages(path)
        except ValueError as e:
            raise InputError(str(e)) from None
        total = len(items)
        symbols = sorted({m.key.decode("utf-8", "replace") for m in items})
        send, unit = publish_json, "messages"
    else:
        items = batches(path, batch, levels, settings.cache_dir)
        total = sum(len(b) for b in items)
        symbols = sorted({b.symbol for b in items})
        send, unit = produce, "ticks"
    start = time.perf_counter()
    columns = [TextColumn("publish"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=json) as bar:
        task = bar.add_task("publish", total=total)
        sent = send(
            settings.kafka.bootstrap,
            items,
            parse_rate(rate),
            progress=lambda n: bar.advance(task, n),
        )
    elapsed = time.perf_counter() - start
    report: dict = {"data": str(path), "format": form.value}
    if unit == "ticks":
        report["ticks"] = sent
    report |= {
        "messages": len(items),
        "elapsed_s": round(elapsed, 3),
        f"{unit}_per_s": round(sent / elapsed) if elapsed > 0 else None,
        "symbols": symbols,
    }
    if json:
        emit_json(report)
    else:
        what = (
            f"{sent:,} ticks in {len(items):,} messages"
            if unit == "ticks"
            else f"{sent:,} messages"
        )
        Console(stderr=True).print(
            f"published {what} of {', '.join(symbols)} "
            f"to {settings.kafka.bootstrap} in {report['elapsed_s']} s"
        )


@app.command()
def live(
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Read ticks.raw from its start.")
    ] = False,
    until_idle: Annotated[
        float | None,
        typer.Option("--until-idle", min=0, help="Stop after this many seconds without a message."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Bytewax worker threads.")
    ] = 1,
    process_id: Annotated[
        int, typer.Option("--process-id", "-i", min=0, help="This process's index in -a.")
    ] = 0,
    addresses: Annotated[
        str | None,
        typer.Option(
            "--addresses", "-a", help="host:port of every process, ';'-separated (a cluster)."
        ),
    ] = None,
    archive_too: Annotated[
        bool,
        typer.Option(
            "--archive/--no-archive",
            help="Also run the archiver (output topics -> QuestDB) in a process of its own.",
        ),
    ] = True,
    recover: Annotated[
        bool | None,
        typer.Option(
            "--recovery/--no-recovery",
            help="Snapshot every step and resume from the last snapshot (FLOWSENSE_RECOVERY__*).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Forget the recovery snapshots: start from scratch."),
    ] = False,
) -> None:
    """Run the live dataflow: Kafka ticks.raw in; Kafka, PostgreSQL and Redis out (QuestDB
    through the archiver). By default it resumes where the last run stopped or crashed."""
    from dataflows.live import build_live_flow
    from dataflows.runner import recovery, run_flow
    from operators.predictors import NEEDS_MODEL

    settings = Settings()
    peers = [a.strip() for a in addresses.split(";") if a.strip()] if addresses else None
    if peers is not None and process_id >= len(peers):
        raise InputError(
            f"--process-id {process_id} is not an index of the {len(peers)} -a addresses"
        )
    recover = settings.recovery.enabled if recover is None else recover
    if recover and settings.replay.predictor in NEEDS_MODEL:
        raise InputError(
            f"the {settings.replay.predictor} predictor cannot be snapshotted yet: "
            "run it with --no-recovery"
        )
    if fresh:
        folder = settings.recovery.dir or Path(settings.runtime_dir) / "recovery" / "live"
        shutil.rmtree(folder, ignore_errors=True)
    flow = build_live_flow(settings, from_beginning, until_idle, recoverable=recover)
    archiver = None
    if archive_too:  # closing its stdin: archive what is left in the topics, then stop
        cmd = [sys.executable, "-m", "flowsense", "archive", "--json", "--until-eof"]
        archiver = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        run_flow(flow, workers, recovery(settings) if recover else None, peers, process_id)
    finally:
        if archiver:
            archiver.stdin.close()
    if archiver and (code := archiver.wait()):
        raise typer.Exit(code if code > 0 else 1)


@app.command()
def archive(
    until_idle: Annotated[
        float | None,
        typer.Option("--until-idle", min=0, help="Stop after this many seconds without a message."),
    ] = None,
    until_eof: Annotated[
        bool,
        typer.Option("--until-eof", hidden=True, help="Stop when stdin closes (`live` uses it)."),
    ] = False,
    json: Json = False,
) -> None:
    """Copy the live flow's ticks, features and predictions topics into QuestDB.

    Runs until stopped; on SIGTERM it first archives what is left in the topics.
    """
    from dataflows.archive import run_archive

    settings = Settings()
    os.nice(settings.archive.nice)  # the trading flow comes first on a busy machine
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if until_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    console = Console(stderr=True)
    try:
        report = run_archive(settings, until_idle, stop)
    except KeyboardInterrupt:
        return
    if json:
        emit_json(report)
    else:
        rows = ", ".join(f"{n:,} {t}" for t, n in report["rows"].items())
        console.print(f"archived {rows} rows to QuestDB in {report['elapsed_s']} s")
