"""The API on a uvicorn thread for the serving tests; users made straight in PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from psycopg import AsyncConnection

from dataflows.stores.postgres import migrate
from flowsense.settings import Settings
from serving import users
from serving.app import create_app
from serving.security import Principal, Role, Tier


@dataclass
class Api:
    settings: Settings
    url: str
    app: object

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


def app_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_api(settings: Settings) -> Iterator[Api]:
    """The app on ``serve.port`` until the block ends."""
    migrate(settings.postgres.dsn)
    app = create_app(settings)
    port = settings.serve.port
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    while not app_ready(port):  # ready: every store answers, the Kafka feed has joined
        assert time.monotonic() < deadline, "API did not become ready"
        time.sleep(0.1)
    try:
        yield Api(settings, f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def make_user(
    settings: Settings,
    tier: Tier = Tier.FREE,
    role: Role = Role.VIEWER,
    password: str = "pw-12345678",
) -> Principal:
    """A new user with a unique name (tests never share one)."""

    async def go() -> Principal:
        async with await AsyncConnection.connect(settings.postgres.dsn, autocommit=True) as c:
            name = f"t-{role}-{tier}-{uuid.uuid4().hex[:10]}"
            return await users.create_user(c, name, password, tier, role)

    return asyncio.run(go())


def login(api: Api, user: Principal, password: str = "pw-12345678") -> dict:
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json={"username": user.username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
