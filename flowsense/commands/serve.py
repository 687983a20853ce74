"""``flowsense serve``: the API (REST, GraphQL, Socket.IO, /metrics); ``flowsense users``: accounts.

On the servers (default) the API reads Redis, QuestDB and PostgreSQL and fans
out the Kafka output topics. ``--embedded`` needs no server: it replays
``--data`` in a background thread (paced by ``--speed``, 1x by default) and
serves what that replay produces; there are no accounts then (every caller
is the local demo trader), so it only binds a loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, data_path, emit_json
from flowsense.settings import Settings

users_app = typer.Typer(help="Users, tiers, roles and API keys of the API.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _migrate(settings: Settings) -> None:
    from dataflows.stores.postgres import migrate

    try:
        migrate(settings.postgres.dsn)
    except Exception as e:
        pg = settings.postgres
        raise InputError(
            f"PostgreSQL at {pg.host}:{pg.port} does not answer ({type(e).__name__}); "
            "start the servers with: flowsense services up (or serve --embedded)"
        ) from None


def start_embedded_replay(settings: Settings, data: Path, speed: float | None) -> Any:
    """An ``EmbeddedStore`` and a daemon thread replaying ``data`` into it (started)."""
    from flowsense.commands.replay import run_replay
    from serving.stores.embedded import EmbeddedStore

    store = EmbeddedStore()

    def run() -> None:
        try:
            run_replay(settings, data, speed, latest=store)
        except Exception as e:  # the API stays up and says so in /health
            print(f"flowsense: embedded replay stopped: {e}", file=sys.stderr)
        finally:
            store.done.set()

    threading.Thread(target=run, name="embedded-replay", daemon=True).start()
    return store


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    embedded: Annotated[
        bool,
        typer.Option("--embedded", help="No servers: serve a replay run in this process."),
    ] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="Embedded: data to replay (FLOWSENSE_DATA).")
    ] = None,
    speed: Annotated[
        str, typer.Option("--speed", help="Embedded: replay pace, max or 1x, 10x...")
    ] = "1x",
    log_level: Annotated[str, typer.Option("--log-level", help="Log level.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes sharing the port (servers only; FLOWSENSE_SERVE__WORKERS).",
        ),
    ] = None,
) -> None:
    """Serve the API: REST under /api/v1 (docs at /docs), /graphql, Socket.IO, /metrics."""
    settings = Settings()
    workers = workers or settings.serve.workers
    if embedded and workers > 1:
        raise InputError("--embedded runs its replay in one process: it takes no --workers")
    if embedded and not _loopback(host):
        raise InputError(
            f"--embedded has no accounts (every caller may trade): bind a loopback "
            f"address, not {host}"
        )
    import uvicorn

    from flowsense.commands.replay import parse_speed
    from serving.app import create_app
    from serving.telemetry import setup_logging

    setup_logging(log_level.upper())
    if workers > 1:
        _migrate(settings)
        _serve_workers(settings, host, port, workers, log_level)
        return
    if embedded:
        store = start_embedded_replay(settings, data_path(data, settings.data), parse_speed(speed))
        asgi = create_app(settings, embedded=store)
    else:
        _migrate(settings)
        asgi = create_app(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if (settings.serve.web_dir / "index.html").is_file():
        print(f"flowsense: dashboard at {url} (API docs at {url}docs)", file=sys.stderr)
    else:
        print(
            f"flowsense: API at {url}docs; the dashboard is not built "
            "(./scripts/setup.sh builds web/)",
            file=sys.stderr,
        )
    uvicorn.run(asgi, host=host, port=port, log_config=None, access_log=False, log_level=log_level)
    if embedded:
        # The replay's Bytewax worker (a Rust thread holding Python state) may still run:
        # interpreter finalization would abort on it, so leave without finalizing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _serve_workers(settings: Settings, host: str, port: int, workers: int, level: str) -> None:
    """``workers`` uvicorn processes, each building the app from the environment."""
    import shutil

    import uvicorn

    # Each process reads these at start: the worker count (Socket.IO transports) and
    # the folder where prometheus_client's processes share their metrics.
    prom = Path(settings.runtime_dir) / "serve" / "prometheus"
    shutil.rmtree(prom, ignore_errors=True)
    prom.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    os.environ["FLOWSENSE_SERVE__WORKERS"] = str(workers)
    uvicorn.run(
        "serving.app:servers_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        log_level=level,
    )


def _run(coro_fn, settings: Settings) -> Any:
    """Run ``coro_fn(conn)`` on one PostgreSQL connection (migrations applied first)."""
    from psycopg import AsyncConnection

    _migrate(settings)

    async def main() -> Any:
        async with await AsyncConnection.connect(settings.postgres.dsn, autocommit=True) as conn:
            return await coro_fn(conn)

    return asyncio.run(main())


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    tier: Annotated[str, typer.Option("--tier", help="free, pro or institutional.")] = "free",
    role: Annotated[str, typer.Option("--role", help="viewer, trader or admin.")] = "viewer",
    email: Annotated[str | None, typer.Option("--email")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    json: Json = False,
) -> None:
    """Create a user (no password: API keys only; see ``users key``)."""
    from serving import users
    from serving.security import Role, Tier

    if tier not in Tier.__members__.values() or role not in Role.__members__.values():
        raise InputError(
            f"--tier is one of {', '.join(Tier)} and --role one of {', '.join(Role)}; "
            f"got {tier!r}, {role!r}"
        )
    t, r = Tier(tier), Role(role)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and len(password or "") < 8:
        raise InputError("password: at least 8 characters")
    try:
        p = _run(lambda c: users.create_user(c, username, password, t, r, email), Settings())
    except users.UserExistsError as e:
        raise InputError(str(e)) from None
    out = {"user_id": p.user_id, "username": p.username, "tier": str(p.tier), "role": str(p.role)}
    if json:
        emit_json(out)
    else:
        print(f"user {p.username} (id {p.user_id}): tier {p.tier}, role {p.role}")


@users_app.command("key")
def users_key(
    username: Annotated[str, typer.Argument(help="Whose key.")],
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    json: Json = False,
) -> None:
    """Create an API key for a user; it is printed once (only its hash is stored)."""
    from serving import users

    async def make(conn) -> dict[str, Any]:
        p = await users.find_user(conn, username)
        if p is None:
            raise InputError(f"no user {username!r}")
        return await users.create_api_key(conn, p.user_id, name)

    key = _run(make, Settings())
    if json:
        emit_json(key)
    else:
        print(key["key"])


@users_app.command("list")
def users_list(json: Json = False) -> None:
    """Every user with tier and role."""
    from serving import users

    rows = _run(users.list_users, Settings())
    if json:
        emit_json({"users": rows})
    else:
        for u in rows:
            flag = " (disabled)" if u["disabled"] else ""
            print(f"{u['id']:>5}  {u['username']:<24} {u['tier']:<14} {u['role']}{flag}")
