"""``flowsense services up | down | status | logs``: the local Kafka, QuestDB, PostgreSQL, Redis."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flowsense import services
from flowsense.cli import app
from flowsense.options import Json, emit_json
from flowsense.services.base import Progress
from flowsense.settings import Settings

services_app = typer.Typer(
    help="Local Kafka, QuestDB, PostgreSQL and Redis for development and tests "
    "(data and logs in the runtime folder).",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")

Names = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Servers to act on (default: all): {', '.join(services.NAMES)}.",
        show_default=False,
    ),
]


def _progress(console: Console) -> Progress:
    return lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True)


@services_app.command()
def up(names: Names = None, json: Json = False) -> None:
    """Install what is missing, start what is not running, wait until all answer."""
    console = Console(stderr=True)
    report = services.up(Settings(), names, progress=_progress(console))
    if json:
        emit_json(report)
        return
    names = ", ".join(report["services"])
    console.print(f"ready in {report['seconds']:.1f} s: {names}", highlight=False)


@services_app.command()
def down(names: Names = None, json: Json = False) -> None:
    """Stop the servers (gracefully; killed if they do not stop in time)."""
    report = services.down(Settings(), names, progress=_progress(Console(stderr=True)))
    if json:
        emit_json(report)


@services_app.command()
def status(names: Names = None, json: Json = False) -> None:
    """Running?, pid, ports, healthy? per server; exit status 1 unless all are healthy."""
    report = services.status(Settings(), names)
    if json:
        emit_json(report)
    else:
        table = Table(
            "server",
            "running",
            "pid",
            "ports",
            "healthy",
            "RSS MB",
            caption=f"data and logs: {report['runtime_dir']}/<server>/",
        )
        for name, s in report["services"].items():
            table.add_row(
                name,
                "yes" if s["running"] else "no",
                str(s["pid"] or "-"),
                " ".join(f"{use}={port}" for use, port in s["ports"].items()),
                "[green]yes[/]" if s["healthy"] else "[red]no[/]",
                f"{s['rss_mb']:.0f}" if s["rss_mb"] is not None else "-",
            )
        Console().print(table)
    if not report["healthy"]:
        # SystemExit, not typer.Exit: the app runs with standalone_mode=False, where click
        # returns typer.Exit's code instead of exiting with it.
        raise SystemExit(1)


@services_app.command()
def logs(
    names: Names = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Lines from the end of each log.")
    ] = 50,
) -> None:
    """The end of a server's log (of every server's, each under a header, when none is named)."""
    report = services.logs(Settings(), names, lines)
    for name, log in report.items():
        if len(report) > 1:
            typer.echo(f"==> {name}: {log['log']} <==")
        for line in log["lines"]:
            typer.echo(line)
