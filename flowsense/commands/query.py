"""``flowsense query SQL``: ask QuestDB (ticks, features, predictions) straight from the shell.

Examples (QuestDB SQL)::

    flowsense query "SELECT * FROM ticks LATEST ON ts PARTITION BY symbol"
    flowsense query "SELECT ts, symbol, first(mid) open, max(mid) high, min(mid) low,
                     last(mid) close, sum(ofi) ofi FROM features
                     WHERE symbol = 'AMZN' SAMPLE BY 1s"
    flowsense query "SELECT * FROM features WHERE ts IN '2012-06-21T13:30;10m'" --json
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, emit_json
from flowsense.settings import Settings


def run_query(sql: str, limit: int, settings: Settings | None = None) -> dict:
    """``{"columns": [...], "rows": [[...], ...], "count": n}`` of a QuestDB query."""
    from dataflows.stores.questdb import execute

    settings = settings or Settings()
    try:
        answer = execute(settings.questdb, sql, limit=limit)
    except OSError as e:
        raise InputError(
            f"QuestDB at {settings.questdb.host}:{settings.questdb.http_port} does not answer "
            f"({e}); start it with: flowsense services up questdb"
        ) from None
    except RuntimeError as e:
        raise InputError(str(e)) from None
    columns = [c["name"] for c in answer.get("columns", [])]
    rows = answer.get("dataset", [])
    return {"columns": columns, "rows": rows, "count": answer.get("count", len(rows))}


@app.command()
def query(
    sql: Annotated[
        str,
        typer.Argument(
            help="QuestDB SQL, e.g. SELECT * FROM ticks LATEST ON ts PARTITION BY symbol"
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to fetch at most.")] = 1000,
    json: Json = False,
) -> None:
    """Run SQL on QuestDB (tables ticks, features, predictions) and print the rows."""
    result = run_query(sql, limit)
    if json:
        emit_json(result)
        return
    table = Table(*result["columns"], caption=f"{len(result['rows'])} of {result['count']} rows")
    for row in result["rows"]:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
