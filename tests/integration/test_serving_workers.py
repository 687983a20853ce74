"""``flowsense serve --workers 2`` on the real servers: two API processes on one port.

They must behave as one API: a token issued by either is good at both (one
shared signing key, made once under a race), the tier limit is exact across
them, ``/metrics`` adds up both, and each fans the Kafka outputs out to its own
Socket.IO clients (websocket transport).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import socketio
from confluent_kafka import Producer
from prometheus_client.mmap_dict import MmapedDict

from schemas import topics, wire
from serving.security import Role, Tier
from tests.integration.api import make_user

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PORT = 8791
URL = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def two_workers(services, tmp_path_factory):
    runtime = tmp_path_factory.mktemp("serve-runtime")  # no signing key yet: both race
    env = os.environ | {
        "FLOWSENSE_RUNTIME_DIR": str(runtime),
        "FLOWSENSE_SERVE__RATE_LIMITS": json.dumps({"free": 60, "pro": 10_000}),
    }
    cmd = [sys.executable, "-m", "flowsense", "serve", "--port", str(PORT), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "flowsense serve --workers 2 exited"
            try:
                if httpx.get(f"{URL}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not become healthy"
            time.sleep(0.3)
        yield runtime
    finally:
        proc.terminate()
        proc.wait(30)


def one_connection_each(method: str, path: str, n: int, **kw) -> list[httpx.Response]:
    """``n`` requests, each on a new connection (so the kernel spreads them)."""
    out = []
    for _ in range(n):
        with httpx.Client(base_url=URL, timeout=10) as c:
            out.append(c.request(method, path, **kw))
    return out


def requests_by_process(folder: Path, route: str) -> dict[str, float]:
    """From prometheus_client's per-process files: requests to ``route``, by pid."""
    counts = {}
    for f in folder.glob("counter_*.db"):
        n = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(f)):
            _, sample, labels, _ = json.loads(key)
            if sample == "flowsense_api_requests_total" and labels.get("route") == route:
                n += value
        counts[f.stem.removeprefix("counter_")] = n
    return counts


def test_tokens_limits_and_metrics_hold_across_processes(services, two_workers):
    user = make_user(services, Tier.FREE, Role.VIEWER)
    logins = one_connection_each(
        "POST", "/api/v1/auth/login", 6, json={"username": user.username, "password": "pw-12345678"}
    )
    assert all(r.status_code == 200 for r in logins)
    # Every login's token is good everywhere: one key, whichever process made it.
    tokens = [r.json()["access_token"] for r in logins]
    me = [
        one_connection_each("GET", "/api/v1/me", 1, headers={"Authorization": f"Bearer {t}"})[0]
        for t in tokens
    ]
    assert [r.status_code for r in me] == [200] * 6
    rest = one_connection_each(
        "GET", "/api/v1/me", 60, headers={"Authorization": f"Bearer {tokens[0]}"}
    )
    codes = [r.status_code for r in me + rest]
    # The free tier's 60 requests a window, counted once for both processes.
    assert codes.count(200) == 60 and codes.count(429) == 6, codes
    assert codes[:60] == [200] * 60
    by_pid = requests_by_process(two_workers / "serve" / "prometheus", "/api/v1/me")
    assert sum(by_pid.values()) == 66
    assert sum(1 for n in by_pid.values() if n > 0) == 2, by_pid  # both answered
    text = httpx.get(f"{URL}/metrics").text
    served = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("flowsense_api_requests_total{") and 'route="/api/v1/me"' in line
    ]
    assert sum(served) == 66  # /metrics adds up both processes


def prediction(symbol: str, seq: int) -> bytes:
    table = pa.table(
        {
            "ts_event": pa.array([time.time_ns()], pa.int64()),
            "symbol": [symbol],
            "seq": pa.array([seq], pa.int64()),
            "model": ["ofi"],
            "direction": pa.array([1], pa.int8()),
            "confidence": [0.6],
            "mid": [100.0],
        }
    )
    return wire.encode_table("predictions", table)


def test_every_process_fans_out_to_its_websocket_clients(services, two_workers):
    user = make_user(services, Tier.PRO, Role.VIEWER)
    r = httpx.post(
        f"{URL}/api/v1/auth/login", json={"username": user.username, "password": "pw-12345678"}
    )
    token = r.json()["access_token"]
    symbol = "WRKTEST"

    async def go() -> list[int]:
        clients, got = [], []
        for i in range(6):  # six connections: both processes get some
            sio = socketio.AsyncClient()
            got.append(0)

            def on_prediction(data, i=i):
                got[i] += data["room"] == f"predictions.{symbol}"

            sio.on("predictions", on_prediction)
            await sio.connect(URL, auth={"token": token}, transports=["websocket"])
            ack = await sio.call("subscribe", [f"predictions.{symbol}"], timeout=10)
            assert ack["joined"] == [f"predictions.{symbol}"]
            clients.append(sio)
        producer = Producer({"bootstrap.servers": services.kafka.bootstrap})
        deadline = time.monotonic() + 60
        seq = 0
        while min(got) == 0 and time.monotonic() < deadline:
            producer.produce(topics.PREDICTIONS, prediction(symbol, seq), symbol.encode())
            producer.flush(5)
            seq += 1
            await asyncio.sleep(0.2)
        for sio in clients:
            await sio.disconnect()
        return got

    got = asyncio.run(go())
    assert min(got) > 0, got
