"""The serving layer on the real Redis, PostgreSQL, QuestDB and Kafka.

Auth flows, each role's limits, the exact tier limit, encrypted credentials,
orders through the risk gate, backtests, and the live path: a Socket.IO
client receiving the predictions of a running live dataflow, and REST and
GraphQL answering the same rows as the replay of the same input.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from pathlib import Path

import jwt
import psycopg
import pytest
import redis
import socketio
from bytewax.testing import run_main
from cryptography.fernet import Fernet

from dataflows.archive import run_archive
from dataflows.live import build_live_flow
from dataflows.publish import batches, publish
from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from serving.security import Role, Tier
from tests.integration.api import bearer, login, make_user, running_api
from tests.integration.helpers import reset, wal_applied

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster"
ROWS = 5_000


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("serve-data") / "sample"
    folder.mkdir()
    for symbol, levels in (("AMZN", 5), ("GOOG", 10)):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_{levels}.csv"
            with open(SRC / name) as f:
                lines = [next(f) for _ in range(ROWS)]
            (folder / name).write_text("".join(lines))
    return folder


@pytest.fixture(scope="module")
def api(services, sample):
    reset(services)  # before the API's consumer joins the output topics
    serve = services.serve.model_copy(update={"backtest_root": sample.parent})
    settings = services.model_copy(update={"serve": serve, "runs_dir": sample.parent / "runs"})
    with running_api(settings) as a:
        yield a


def test_health_reports_every_store(api):
    with api.client() as c:
        r = c.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["mode"] == "servers"
    assert set(body["checks"]) == {"redis", "questdb", "postgres", "kafka"}


def test_login_refresh_logout_flow(api):
    user = make_user(api.settings, Tier.PRO, Role.VIEWER)
    with api.client() as c:
        assert c.get("/api/v1/me").status_code == 401
        bad = c.post("/api/v1/auth/login", json={"username": user.username, "password": "nope"})
        assert bad.status_code == 401
        tokens = login(api, user)
        me = c.get("/api/v1/me", headers=bearer(tokens)).json()
        assert me == {
            "user_id": user.user_id,
            "username": user.username,
            "tier": "pro",
            "role": "viewer",
        }
        # The refresh token is single use: the second use fails.
        r1 = c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r1.status_code == 200
        r2 = c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r2.status_code == 401
        fresh = r1.json()
        assert c.get("/api/v1/me", headers=bearer(fresh)).json()["user_id"] == user.user_id
        # A refresh token is not an access token, and vice versa.
        assert (
            c.get(
                "/api/v1/me", headers=bearer({"access_token": fresh["refresh_token"]})
            ).status_code
            == 401
        )
        assert (
            c.post(
                "/api/v1/auth/refresh", json={"refresh_token": fresh["access_token"]}
            ).status_code
            == 401
        )
        # Logout revokes the refresh token.
        assert (
            c.post(
                "/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]}
            ).status_code
            == 204
        )
        assert (
            c.post(
                "/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
            ).status_code
            == 401
        )


def test_refresh_at_once_after_login_finds_its_token(api):
    """What a response promises is committed before it is sent: a client that
    refreshes the moment login answers never races the login's transaction."""
    user = make_user(api.settings)
    with api.client() as c:
        for _ in range(20):
            r = c.post(
                "/api/v1/auth/login", json={"username": user.username, "password": "pw-12345678"}
            )
            assert r.status_code == 200, r.text
            again = c.post(
                "/api/v1/auth/refresh", json={"refresh_token": r.json()["refresh_token"]}
            )
            assert again.status_code == 200, again.text


def test_expired_or_forged_tokens_are_refused(api):
    user = make_user(api.settings)
    secret = (Path(api.settings.runtime_dir) / "serve" / "jwt_secret").read_text().strip()
    claims = {
        "sub": str(user.user_id),
        "typ": "access",
        "name": user.username,
        "tier": "institutional",
        "role": "admin",
    }
    expired = jwt.encode(claims | {"exp": int(time.time()) - 5}, secret, algorithm="HS256")
    forged = jwt.encode(
        claims | {"exp": int(time.time()) + 60},
        "not-the-key-of-this-server-but-32-bytes-long",
        algorithm="HS256",
    )
    valid = jwt.encode(claims | {"exp": int(time.time()) + 60}, secret, algorithm="HS256")
    with api.client() as c:
        for token in (expired, forged, "garbage"):
            r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
        # A token signed with the server's key is believed (the key is what must stay secret).
        assert (
            c.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"}).json()["role"]
            == "admin"
        )


def test_api_keys_are_stored_hashed_and_can_be_revoked(api):
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    with api.client() as c:
        made = c.post("/api/v1/keys", json={"name": "bot"}, headers=bearer(login(api, user)))
        assert made.status_code == 201
        key = made.json()["key"]
        me = c.get("/api/v1/me", headers={"X-API-Key": key}).json()
        assert me["user_id"] == user.user_id and me["role"] == "trader"
        with psycopg.connect(api.settings.postgres.dsn) as conn:
            row = conn.execute(
                "SELECT key_hash, prefix FROM api_keys WHERE id = %s", (made.json()["id"],)
            ).fetchone()
        assert row[0] == hashlib.sha256(key.encode()).hexdigest()
        assert key not in row and key.startswith(row[1])
        assert c.get("/api/v1/me", headers={"X-API-Key": key + "x"}).status_code == 401
        assert (
            c.delete(f"/api/v1/keys/{made.json()['id']}", headers={"X-API-Key": key}).status_code
            == 204
        )
        assert c.get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.VIEWER, {"read": 200, "order": 403, "backtest": 403, "admin": 403}),
        (Role.TRADER, {"read": 200, "order": 201, "backtest": 422, "admin": 403}),
        (Role.ADMIN, {"read": 200, "order": 201, "backtest": 422, "admin": 200}),
    ],
)
def test_each_role_may_do_only_its_part(api, role, expected):
    user = make_user(api.settings, Tier.PRO, role)
    h = bearer(login(api, user))
    order = {"symbol": "ROLE", "side": "buy", "quantity": 1, "client_order_id": "r1"}
    with api.client(headers=h) as c:
        got = {
            "read": c.get("/api/v1/positions").status_code,
            "order": c.post("/api/v1/orders", json=order).status_code,
            # 422: allowed, but the data path is outside the backtest root.
            "backtest": c.post("/api/v1/backtest", json={"data": "/etc"}).status_code,
            "admin": c.get("/api/v1/admin/users").status_code,
        }
    assert got == expected


def test_free_tier_gets_exactly_its_limit_then_429(api):
    user = make_user(api.settings, Tier.FREE, Role.VIEWER)
    h = bearer(login(api, user))
    with api.client(headers=h) as c:
        codes = [c.get("/api/v1/me").status_code for _ in range(100)]
        over = c.get("/api/v1/me")
    assert codes == [200] * 100
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60


def test_pro_tier_limit_is_ten_thousand_a_minute(api):
    user = make_user(api.settings, Tier.PRO, Role.VIEWER)
    with api.client(headers=bearer(login(api, user))) as c:
        r1, r2 = c.get("/api/v1/me"), c.get("/api/v1/me")
    assert r1.headers["X-RateLimit-Limit"] == "10000"
    assert [r1.headers["X-RateLimit-Remaining"], r2.headers["X-RateLimit-Remaining"]] == [
        "9999",
        "9998",
    ]


def test_broker_credentials_are_encrypted_at_rest(api):
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    secret = {"account": "DU123", "password": "hunter2-broker"}
    with api.client(headers=bearer(login(api, user))) as c:
        r = c.put("/api/v1/broker-credentials", json={"broker": "ib", "credentials": secret})
        assert r.status_code == 204
        listed = c.get("/api/v1/broker-credentials").json()
    assert [x["broker"] for x in listed] == ["ib"] and "credentials" not in listed[0]
    with psycopg.connect(api.settings.postgres.dsn) as conn:
        (blob,) = conn.execute(
            "SELECT ciphertext FROM broker_credentials WHERE user_id = %s", (user.user_id,)
        ).fetchone()
    assert b"hunter2" not in bytes(blob)
    key = (Path(api.settings.runtime_dir) / "serve" / "fernet_key").read_text().strip()
    assert json.loads(Fernet(key.encode()).decrypt(bytes(blob))) == secret


def test_orders_pass_the_dataflows_risk_gate_and_are_audited(api):
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    r = redis.Redis.from_url(api.settings.redis.url)
    # The touch as the live flow writes it (``tick:{symbol}``), here for a minute.
    r.set("tick:GATE", json.dumps({"symbol": "GATE", "bid_px": 99.99, "ask_px": 100.0}), ex=60)
    limit = api.settings.risk.max_position  # 50 000 by default
    with api.client(headers=bearer(login(api, user))) as c:

        def order(side, qty, cid):
            return c.post(
                "/api/v1/orders",
                json={"symbol": "GATE", "side": side, "quantity": qty, "client_order_id": cid},
            )

        a = order("buy", 400, "a")  # 400 x 100 = 40 000 <= limit
        b = order("buy", 200, "b")  # 600 x 100 = 60 000 > limit
        s = order("sell", 400, "c")  # back to 0
        again = order("sell", 1, "c")
    assert a.status_code == b.status_code == s.status_code == 201
    assert a.json()["status"] == "accepted" and limit >= 400 * 100
    assert b.json()["status"] == "denied" and b.json()["rule"] == "max_position"
    assert b.json()["position_before"] == 400
    assert s.json()["status"] == "accepted" and s.json()["position_before"] == 400
    assert again.status_code == 409
    with psycopg.connect(api.settings.postgres.dsn) as conn:
        orders = conn.execute(
            "SELECT client_order_id, status, rule, side, quantity FROM orders "
            "WHERE user_id = %s ORDER BY client_order_id",
            (user.user_id,),
        ).fetchall()
        audit = conn.execute(
            "SELECT kind FROM audit_log WHERE user_id = %s ORDER BY event_id", (user.user_id,)
        ).fetchall()
    uid = user.user_id
    assert orders == [
        (f"api-{uid}-a", "accepted", None, 1, 400.0),
        (f"api-{uid}-b", "denied", "max_position", 1, 200.0),
        (f"api-{uid}-c", "accepted", None, -1, 400.0),
    ]
    assert sorted(k for (k,) in audit) == ["order_accepted", "order_accepted", "order_denied"]


def test_the_flows_kill_switch_halts_api_orders_until_the_reset(api):
    """The alerts as the live account step writes them: a halt, then an operator's reset."""
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    account = api.settings.risk.account
    r = redis.Redis.from_url(api.settings.redis.url)
    r.set("tick:HALT", json.dumps({"symbol": "HALT", "bid_px": 99.99, "ask_px": 100.0}), ex=60)
    halt, reset = f"{account}:HighDrawdown:7", f"{account}:RiskReset:9"
    alert = (
        "INSERT INTO alerts (alert_id, ts_event, symbol, severity, name, message) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    try:
        with api.client(headers=bearer(login(api, user))) as c:

            def order(cid):
                body = {"symbol": "HALT", "side": "buy", "quantity": 1, "client_order_id": cid}
                return c.post("/api/v1/orders", json=body).json()

            assert order("before")["status"] == "accepted"
            with psycopg.connect(api.settings.postgres.dsn, autocommit=True) as conn:
                conn.execute(alert, (halt, 7, "AMZN", "critical", "HighDrawdown", "drawdown"))
            during = order("during")
            assert (during["status"], during["rule"]) == ("denied", "halted")
            with psycopg.connect(api.settings.postgres.dsn, autocommit=True) as conn:
                conn.execute(alert, (reset, 9, "*", "warning", "RiskReset", "resumed"))
            assert order("after")["status"] == "accepted"
    finally:
        with psycopg.connect(api.settings.postgres.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM alerts WHERE alert_id IN (%s, %s)", (halt, reset))


def test_order_without_a_market_is_denied(api):
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    with api.client(headers=bearer(login(api, user))) as c:
        r = c.post(
            "/api/v1/orders",
            json={"symbol": "NOBOOK", "side": "sell", "quantity": 1, "client_order_id": "x"},
        )
    assert r.status_code == 201 and r.json()["rule"] == "no_market"


class Listener:
    """A Socket.IO client on its own thread and loop, recording what it receives."""

    def __init__(self, url: str, token: str, rooms: list[str]) -> None:
        self.url, self.token, self.rooms = url, token, rooms
        self.got: list[tuple[float, str, dict]] = []
        self.joined = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()

    async def _main(self) -> None:
        sio = socketio.AsyncClient()

        @sio.on("predictions")
        async def on_prediction(data):
            self.got.append((time.monotonic(), "predictions", data))

        @sio.on("ticks")
        async def on_tick(data):
            self.got.append((time.monotonic(), "ticks", data))

        await sio.connect(self.url, auth={"token": self.token}, transports=["websocket"])
        ack = await sio.call("subscribe", self.rooms, timeout=10)
        assert ack["joined"] == self.rooms
        self.joined.set()
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        await sio.disconnect()


@pytest.fixture(scope="module")
def live(api, sample):
    """The replay of the sample (the reference), then the live flow on it while a client
    listens to the API."""
    settings = api.settings
    replay_dir = sample.parent / "replay-ref"
    run_replay(settings, sample, run_dir=replay_dir)
    state = api.app.state
    assert state.kafka.assigned.wait(30), "the API's consumer did not join the output topics"
    user = make_user(settings, Tier.PRO, Role.VIEWER)
    listener = Listener(
        api.url, login(api, user)["access_token"], ["predictions.AMZN", "ticks.GOOG"]
    )
    assert listener.joined.wait(20)
    sent = publish(settings.kafka.bootstrap, batches(sample, 256, None, settings.cache_dir))
    assert sent == 2 * ROWS
    started = time.monotonic()
    # An exact event-time merge over the backlog (as the replay does): the same positions.
    exact = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"merge_wait_ms": None})}
    )
    run_main(build_live_flow(exact, from_beginning=True, until_idle_s=3.0))
    run_archive(settings, until_idle_s=1.0)  # QuestDB catches up from the output topics
    # Wait for the newest AMZN prediction to come through (Kafka on a busy machine can
    # take seconds), then stop listening.
    ref = read_table(replay_dir, "predictions")
    last_seq = ref.filter(ref["symbol"] == "AMZN")["seq"].max()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        kind == "predictions" and d["data"]["seq"] == last_seq for _, kind, d in listener.got
    ):
        time.sleep(0.2)
    time.sleep(0.3)
    listener.stop.set()
    listener.thread.join(10)
    assert wal_applied(settings, "predictions", 2 * ROWS) == 2 * ROWS
    return replay_dir, listener, time.monotonic() - started, user


def test_socketio_client_receives_live_predictions(live):
    replay_dir, listener, _, _ = live
    want = read_table(replay_dir, "predictions")
    preds = [d for _, kind, d in listener.got if kind == "predictions"]
    ticks = [d for _, kind, d in listener.got if kind == "ticks"]
    assert preds and ticks
    ref = {r["seq"]: r for r in want.filter(want["symbol"] == "AMZN").iter_rows(named=True)}
    for msg in preds:
        assert msg["room"] == "predictions.AMZN"
        row = msg["data"]
        assert row["symbol"] == "AMZN"
        r = ref[row["seq"]]  # a row the replay made too, with the same values
        assert (row["direction"], row["confidence"]) == (r["direction"], r["confidence"])
    # The newest prediction reached the client: the coalescing keeps the last row.
    assert preds[-1]["data"]["seq"] == max(ref)
    assert {m["data"]["symbol"] for m in ticks} == {"GOOG"}
    # Throttled: at most room_rate_hz messages a second per room (+1 for the edges).
    rate = listener.got and listener.got[-1][0] - listener.got[0][0]
    hz = 10.0
    assert len(preds) <= hz * max(rate, 0.0) + 2


def test_ticks_room_carries_the_live_book_to_ten_levels(live, sample):
    """The live flow's ``book`` topic reaches the ``ticks`` room: every book a client got is
    one of the book states of GOOG's 10-level LOBSTER sample, read here from the CSV."""
    _, listener, _, _ = live
    books = [d["data"] for _, kind, d in listener.got if kind == "ticks" and "bids" in d["data"]]
    assert books, "no book in the ticks.GOOG room"
    empty = 9_999_999_999  # LOBSTER's price of an empty level

    def side(v: list[int], at: int) -> tuple:
        return tuple(
            (v[4 * i + at] / 10_000, float(v[4 * i + at + 1]))
            for i in range(10)
            if abs(v[4 * i + at]) < empty
        )

    states = set()
    for line in next(sample.glob("GOOG_*_orderbook_10.csv")).read_text().splitlines():
        v = [int(x) for x in line.split(",")]
        states.add((side(v, 2), side(v, 0)))
    for b in books:
        assert (tuple(map(tuple, b["bids"])), tuple(map(tuple, b["asks"]))) in states
    assert max(len(b["bids"]) for b in books) == 10
    assert max(len(b["asks"]) for b in books) == 10


def test_graphql_and_rest_answer_the_replays_predictions(api, live):
    replay_dir, _, _, user = live
    want = (
        read_table(replay_dir, "predictions")
        .sort(["ts_event", "symbol", "seq"], descending=[True, False, True])
        .head(50)
    )
    h = bearer(login(api, user))
    with api.client(headers=h) as c:
        rest = c.get("/api/v1/predictions", params={"symbols": ["AMZN", "GOOG"], "limit": 50})
        gql = c.post(
            "/graphql",
            json={
                "query": """{ predictions(symbols: ["AMZN", "GOOG"],
            limit: 50) { symbol timestamp model direction confidence seq } }"""
            },
        )
        latest = c.get("/api/v1/predictions/GOOG").json()
    assert rest.status_code == 200 and gql.status_code == 200, gql.text
    rest_rows = [
        {k: r[k] for k in ("symbol", "timestamp", "model", "direction", "confidence", "seq")}
        for r in rest.json()
    ]
    assert gql.json()["data"]["predictions"] == rest_rows
    assert [(r["symbol"], r["seq"], r["direction"]) for r in rest_rows] == [
        (r["symbol"], r["seq"], r["direction"]) for r in want.iter_rows(named=True)
    ]
    assert [r["timestamp"] for r in rest_rows] == want["ts_event"].to_list()
    ref = read_table(replay_dir, "predictions")
    last = ref.filter(ref["symbol"] == "GOOG").sort("ts_event", "seq").tail(1).row(0, named=True)
    assert (latest["timestamp"], latest["direction"]) == (last["ts_event"], last["direction"])


def test_metrics_are_fed_by_the_live_flow(api, live):
    with api.client() as c:
        text = c.get("/metrics").text
    lines = {
        ln.split(" ")[0]: float(ln.split(" ")[1])
        for ln in text.splitlines()
        if ln and not ln.startswith("#")
    }
    # One per predictions message (a backlog read at once makes few of them).
    assert lines["flowsense_prediction_latency_ms_count"] >= 1
    assert 0 <= lines['flowsense_model_accuracy_percent{model="ofi"}'] <= 100
    assert any(k.startswith("flowsense_api_requests_total{") for k in lines)
    assert "flowsense_drawdown_dollars" in lines


def test_backtest_runs_the_replay_and_reports_its_summary(api, sample):
    user = make_user(api.settings, Tier.PRO, Role.TRADER)
    other = make_user(api.settings, Tier.PRO, Role.TRADER)
    h = bearer(login(api, user))
    with api.client(headers=h) as c:
        r = c.post("/api/v1/backtest", json={"data": "sample", "predictor": "ofi"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 180
        while (job := c.get(f"/api/v1/backtest/{job_id}").json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        gql = c.post(
            "/graphql", json={"query": f'{{ backtest(id: "{job_id}") {{ id status summary }} }}'}
        ).json()
        assert (
            c.post("/api/v1/backtest", json={"data": "sample", "predictor": "nope"}).status_code
            == 422
        )
    assert job["status"] == "done", job["error"]
    # Every input line is an event (LOBSTER rows are all valid).
    assert job["summary"]["events"] == 2 * ROWS
    assert gql["data"]["backtest"] == {"id": job_id, "status": "done", "summary": job["summary"]}
    with api.client(headers=bearer(login(api, other))) as c:
        assert c.get(f"/api/v1/backtest/{job_id}").status_code == 404  # not theirs


def test_positions_of_the_dataflows_account_match_the_replay(api, live):
    replay_dir, _, _, _ = live
    fills = read_table(replay_dir, "fills")
    want = {
        r["symbol"]: r["position_after"]
        for r in fills.sort("symbol", "ts_event", "fill_id").iter_rows(named=True)
    }
    admin = make_user(api.settings, Tier.PRO, Role.ADMIN)
    viewer = make_user(api.settings, Tier.PRO, Role.VIEWER)
    with api.client(headers=bearer(login(api, admin))) as c:
        got = c.get("/api/v1/positions", params={"user_id": 1}).json()
    assert fills.height > 0
    assert {p["symbol"]: p["quantity"] for p in got["positions"]} == want
    with api.client(headers=bearer(login(api, viewer))) as c:
        assert c.get("/api/v1/positions", params={"user_id": 1}).status_code == 403


def test_users_command_creates_a_user_and_a_working_key(api):
    import os
    import subprocess
    import sys
    import uuid

    name = f"cli-{uuid.uuid4().hex[:8]}"
    env = os.environ | {"FLOWSENSE_RUNTIME_DIR": str(api.settings.runtime_dir)}

    def run(*args: str, stdin: str = "") -> dict:
        res = subprocess.run(
            [sys.executable, "-m", "flowsense", "users", *args, "--json"],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout.count("\n") == 1
        return json.loads(res.stdout)

    made = run(
        "add",
        name,
        "--tier",
        "pro",
        "--role",
        "trader",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    key = run("key", name)["key"]
    with api.client() as c:
        me = c.get("/api/v1/me", headers={"X-API-Key": key}).json()
        tokens = c.post(
            "/api/v1/auth/login", json={"username": name, "password": "a-long-password"}
        )
    assert me == {"user_id": made["user_id"], "username": name, "tier": "pro", "role": "trader"}
    assert tokens.status_code == 200
    again = subprocess.run(
        [sys.executable, "-m", "flowsense", "users", "add", name],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 2 and "exists" in again.stderr


def test_chart_routes_answer_what_the_live_flow_stored(api, live):
    replay_dir, _, _, user = live
    feats = read_table(replay_dir, "features")
    amzn = feats.filter(feats["symbol"] == "AMZN").sort("ts_event", "seq")
    newest = amzn.tail(3).reverse()
    with api.client(headers=bearer(login(api, user))) as c:
        got = c.get("/api/v1/features/AMZN", params={"limit": 3}).json()
        ticks = c.get("/api/v1/ticks/AMZN", params={"limit": 3}).json()
        bars = c.get("/api/v1/bars/AMZN", params={"interval_s": 60, "limit": 10_000}).json()
    assert [(r["ts_event"], r["seq"], r["ofi"]) for r in got] == list(
        zip(newest["ts_event"], newest["seq"], newest["ofi"], strict=True)
    )
    assert [(r["ts_event"], r["seq"]) for r in ticks] == list(
        zip(newest["ts_event"], newest["seq"], strict=True)
    )
    # Minute bars partition the rows: their event counts add up to every row, and the
    # newest bar closes at the newest mid.
    assert sum(b["n_events"] for b in bars) == amzn.height
    assert bars[0]["close"] == amzn["mid"][-1]
    assert all(b["low"] <= min(b["open"], b["close"]) <= b["high"] for b in bars)
