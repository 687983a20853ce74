"""Options shared by several commands, defined once."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flowsense.errors import InputError

Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
Levels = Annotated[
    int | None,
    typer.Option("--levels", "-L", min=1, help="Book levels to use (default: all in the data)."),
]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(text: str) -> int:
    """``"10s"``, ``"500ms"``, ``"1m"`` -> nanoseconds."""
    m = _DURATION.match(text.strip())
    if m is None or float(m[1]) <= 0:
        raise InputError(
            f"bad duration {text!r}: use a positive number with ns, us, ms, s, m or h (e.g. 10s)"
        )
    return int(float(m[1]) * _UNIT_NS[m[2]])


def existing(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return path


def emit_json(obj: dict[str, Any]) -> None:
    """The one JSON object of a ``--json`` run, on stdout."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def data_path(given: Path | None, default: Path) -> Path:
    """``--data`` if given, else the ``FLOWSENSE_DATA`` default, which must exist."""
    if given is not None:
        return existing(given)
    if not default.exists():
        raise InputError(
            f"{default}: no such folder (the default data, ../shared/data beside the project); "
            "pass --data PATH or set FLOWSENSE_DATA"
        )
    return default
