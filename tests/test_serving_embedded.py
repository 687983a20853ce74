"""The API in embedded mode (no servers): what a replay in this process produced, over
REST, GraphQL and Socket.IO; and the output metrics against hand calculations."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pyarrow as pa
import pytest
import socketio
import uvicorn

from dataflows.sinks import read_table
from flowsense.commands.replay import run_replay
from flowsense.settings import Settings
from serving.app import create_app
from serving.metrics import Metrics
from serving.stores.embedded import EmbeddedStore
from tests.net import free_port


@pytest.fixture
def served(tmp_path, lobster_sample):
    """An embedded app on a free port, and a function replaying a sample into it."""
    data = lobster_sample("AMZN", 5, 3000)
    settings = Settings(runtime_dir=tmp_path / "runtime", runs_dir=tmp_path / "runs")
    store = EmbeddedStore()
    app = create_app(settings, embedded=store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.05)

    def replay():
        run_dir = tmp_path / "run"
        run_replay(settings, data, run_dir=run_dir, latest=store)
        store.done.set()
        return run_dir

    yield f"http://127.0.0.1:{port}", replay
    server.should_exit = True
    thread.join(10)


def test_embedded_api_serves_the_replay_over_rest_graphql_and_socketio(served):
    import httpx

    url, replay = served
    got: list[dict] = []
    ready = threading.Event()
    stop = threading.Event()

    async def listen():
        sio = socketio.AsyncClient()
        sio.on("predictions", lambda data: got.append(data))
        await sio.connect(url, transports=["websocket"])
        ack = await sio.call("subscribe", ["predictions.AMZN", "bad room!"], timeout=10)
        assert ack == {"joined": ["predictions.AMZN"], "refused": ["bad room!"]}
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await sio.disconnect()

    t = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    t.start()
    assert ready.wait(20)
    run_dir = replay()
    time.sleep(0.5)
    stop.set()
    t.join(10)

    preds = read_table(run_dir, "predictions")
    last = preds.tail(1).row(0, named=True)
    assert got and got[-1]["data"]["seq"] == last["seq"]
    with httpx.Client(base_url=url) as c:
        assert c.get("/api/v1/health").json()["checks"]["embedded"]["detail"] == "replay finished"
        latest = c.get("/api/v1/predictions/AMZN").json()
        rest = c.get("/api/v1/predictions", params={"limit": 20}).json()
        gql = c.post(
            "/graphql",
            json={
                "query": "{ predictions(limit: 20) { symbol timestamp model direction "
                "confidence seq } positions { symbol quantity } }"
            },
        ).json()["data"]
        positions = c.get("/api/v1/positions").json()["positions"]
        order = c.post(
            "/api/v1/orders",
            json={"symbol": "AMZN", "side": "buy", "quantity": 1, "client_order_id": "x"},
        )
    assert (latest["timestamp"], latest["direction"], latest["live"]) == (
        last["ts_event"],
        last["direction"],
        False,
    )
    want = preds.sort(["ts_event", "seq"], descending=True).head(20)
    assert [(r["seq"], r["direction"]) for r in rest] == list(
        zip(want["seq"], want["direction"], strict=True)
    )
    assert gql["predictions"] == [{k: r[k] for k in gql["predictions"][0]} for r in rest]
    fills = read_table(run_dir, "fills")
    want_pos = [{"symbol": "AMZN", "quantity": fills["position_after"][-1]}] if fills.height else []
    assert positions == want_pos and gql["positions"] == want_pos
    assert order.status_code == 503  # orders need PostgreSQL


def test_output_metrics_match_hand_calculations():
    m = Metrics()
    # Mid path 10, 10, 11, 11, 10, 12: changes after rows 1 (+1), 3 (-1), 4 (+2).
    # Directions at those rows: 1 (hit), 1 (miss), 0 (not scored) -> 50 %.
    preds = pa.table(
        {
            "symbol": ["X"] * 6,
            "model": ["m"] * 6,
            "direction": [0, 1, -1, 1, 0, 1],
            "mid": [10.0, 10.0, 11.0, 11.0, 10.0, 12.0],
        }
    )
    m.outputs.on_table("predictions", preds, produced_ms=time.time() * 1e3 - 50)
    assert m.registry.get_sample_value("flowsense_model_accuracy_percent", {"model": "m"}) == 50
    latency = m.registry.get_sample_value("flowsense_prediction_latency_ms_sum")
    assert 50 <= latency < 5_000
    # Buy 10 @ 100 (fee 1), mid goes to 105: PnL = -1001 + 10 x 105 = 49; then mid 95: -51.
    fills = pa.table(
        {
            "symbol": ["X"],
            "side": [1],
            "quantity": [10.0],
            "price": [100.0],
            "fee": [1.0],
            "position_after": [10.0],
        }
    )
    m.outputs.on_table("fills", fills)
    for mid, pnl, drawdown in ((105.0, 49.0, 0.0), (95.0, -51.0, 100.0)):
        m.outputs.on_table("features", pa.table({"symbol": ["X"], "mid": [mid]}))
        assert m.registry.get_sample_value("flowsense_trade_pnl_dollars", {"symbol": "X"}) == (
            pytest.approx(pnl)
        )
        assert m.registry.get_sample_value("flowsense_drawdown_dollars") == pytest.approx(drawdown)
        # Peak equity 40 000 + 49 (the default capital), 100 below it at the end.
        ratio = m.registry.get_sample_value("flowsense_drawdown_ratio")
        assert ratio == pytest.approx(drawdown / 40_049.0)
    assert np.isfinite(latency)


def test_embedded_serve_refuses_a_public_address():
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "flowsense", "serve", "--embedded", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "loopback" in res.stderr


def test_traces_reach_an_otlp_collector(tmp_path):
    """A minimal OTLP/HTTP collector (it records what is POSTed to /v1/traces)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    bodies: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_port}/v1/traces"
    base = Settings(runtime_dir=tmp_path / "runtime")
    settings = base.model_copy(
        update={"serve": base.serve.model_copy(update={"otlp_endpoint": endpoint})}
    )
    app = create_app(settings, embedded=EmbeddedStore())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    server.should_exit = True
    thread.join(10)  # the shutdown flushes the spans
    collector.shutdown()
    assert [path for path, _ in bodies] == ["/v1/traces"]
    assert b"GET /api/v1/health" in bodies[0][1] and b"flowsense-api" in bodies[0][1]


def test_fernet_key_is_read_from_vault_kv2(tmp_path):
    """A minimal Vault (KV v2 answer shape, token checked) serving the key."""
    import json as jsonlib
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography.fernet import Fernet
    from pydantic import SecretStr

    from serving.security import fernet_key

    key = Fernet.generate_key().decode()
    seen: list[str] = []

    class Vault(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            ok = self.headers.get("X-Vault-Token") == "s.test"
            body = {"data": {"data": {"fernet_key": key}, "metadata": {}}} if ok else {}
            self.send_response(200 if ok else 403)
            self.end_headers()
            self.wfile.write(jsonlib.dumps(body).encode())

        def log_message(self, *args):
            pass

    vault = HTTPServer(("127.0.0.1", 0), Vault)
    threading.Thread(target=vault.serve_forever, daemon=True).start()
    base = Settings(runtime_dir=tmp_path / "runtime")
    serve = base.serve.model_copy(
        update={
            "vault_addr": f"http://127.0.0.1:{vault.server_port}",
            "vault_token": SecretStr("s.test"),
            "vault_path": "secret/data/flowsense",
        }
    )
    got = fernet_key(base.model_copy(update={"serve": serve}))
    vault.shutdown()
    assert got == key and seen == ["/v1/secret/data/flowsense"]
    assert not (tmp_path / "runtime" / "serve" / "fernet_key").exists()  # no dev key made
