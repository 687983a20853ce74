"""The ``flowsense`` command line: one typer app, one module per command.

Errors in what the user gave (a missing file, a bad option) are one line on
stderr and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from flowsense.errors import InputError

app = typer.Typer(
    name="flowsense",
    help="Order-flow features, predictions and risk-gated orders on limit-order-book data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
research_app = typer.Typer(help="Research on order-flow data.", no_args_is_help=True)
app.add_typer(research_app, name="research")

_debug = "--debug" in sys.argv


def _register() -> None:
    from flowsense.commands import (  # noqa: F401
        drift,
        evaluate,
        feast,
        features,
        live,
        query,
        replay,
        research,
        risk,
        serve,
        services,
        train,
    )


def _fail(message: str) -> None:
    print(f"flowsense: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    """Entry point: run the app and turn input errors into one line and exit 2."""
    _register()
    argv = [a for a in sys.argv[1:] if a != "--debug"]
    try:
        code = app(args=argv, prog_name="flowsense", standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # usage errors: bad option, missing argument, ...
        if e.exit_code == 0 or type(e).__name__ == "NoArgsIsHelpError":
            sys.exit(0)
        _fail(e.format_message())
    except typer.Abort:
        print("flowsense: aborted", file=sys.stderr)
        sys.exit(130)
    except (InputError, FileNotFoundError, ValueError, KeyError) as e:
        if _debug:
            raise
        _fail(e.args[0] if e.args else str(e))
    if isinstance(code, int) and code:  # a command's typer.Exit(code), returned in this mode
        sys.exit(code)
