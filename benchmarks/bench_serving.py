"""The serving layer under loopback load, measured in one run (issue 6).

    .venv/bin/python benchmarks/bench_serving.py [--rate 1000] [--seconds 10]
        [--clients 100] [--rooms 10] [--room-hz 10] [--kafka-fanout] [--workers N]
        [--generator vegeta|aiohttp] [--no-fanout] [--json]

Needs the local servers (``flowsense services up``) and the ``FLOWSENSE_*``
settings that reach them; the API is started here as its own process
(``flowsense serve`` on ``FLOWSENSE_SERVE__PORT``, default 8000), so that the
load generator does not share its interpreter. About a minute.

1. ``GET /api/v1/predictions/{symbol}`` as an institutional user (bearer
   token: auth and the Redis rate limit on every request), the prediction in
   Redis as the live flow writes it (``pred:{symbol}``). With vegeta (the
   default when installed: ``go install github.com/tsenart/vegeta/v12@v12.12.0``;
   a Go load generator costs the shared cores far less than a Python one): open
   loop at ``--rate`` and at a fifth of it, then 32 workers flat out; baseline in
   the same run: uvicorn answering a constant (``floor_app``) on the same
   schedule, the HTTP stack's own cost. ``--generator aiohttp``: open loop: requests
   are sent on a fixed schedule of ``--rate`` per second for ``--seconds``
   (aiohttp, keep-alive pool); latency is from the scheduled send time to the
   end of the response, so a server that falls behind is charged for the
   wait (no coordinated omission). Baseline in the same run: the same
   schedule of raw Redis ``GET``s of the same key (redis.asyncio), i.e. one
   round trip to the store the endpoint reads. Then a closed loop (32
   requests in flight) for the most requests/s.
2. Socket.IO fan-out: ``--clients`` clients (websocket) each subscribe to
   ``--rooms`` rooms ``predictions.B0..``; a producer writes prediction
   tables for those symbols to the Kafka ``predictions`` topic every 5 ms
   (far faster than the throttle); the API (``serve.room_rate_hz`` =
   ``--room-hz``) coalesces and sends. Messages/s received by all clients
   together over the steady part, against the throttle's ceiling
   clients x rooms x room_hz.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import pyarrow as pa  # noqa: E402
import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import socketio  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from psycopg import AsyncConnection  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from dataflows.stores.postgres import migrate  # noqa: E402
from flowsense.settings import Settings  # noqa: E402
from schemas import topics, wire  # noqa: E402
from serving import users  # noqa: E402
from serving.security import Role, Tier  # noqa: E402

SYMBOL = "BENCH"


def start_api(settings: Settings, room_hz: float, workers: int = 1) -> subprocess.Popen:
    env = os.environ | {"FLOWSENSE_SERVE__ROOM_RATE_HZ": str(room_hz)}
    port = settings.serve.port
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowsense",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                if json.loads(r.read())["checks"].get("kafka", {}).get("ok"):
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the API did not become healthy in 60 s")


async def token(settings: Settings) -> str:
    async with await AsyncConnection.connect(settings.postgres.dsn, autocommit=True) as c:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        await users.create_user(c, name, "bench-password", Tier.INSTITUTIONAL, Role.VIEWER)
    url = f"http://127.0.0.1:{settings.serve.port}/api/v1/auth/login"
    async with (
        aiohttp.ClientSession() as s,
        s.post(url, json={"username": name, "password": "bench-password"}) as r,
    ):
        return (await r.json())["access_token"]


def pct(lat: list[float]) -> dict[str, float]:
    a = np.array(lat) * 1e3
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


async def open_loop(call, rate: float, seconds: float) -> dict[str, Any]:
    """``call()`` on a fixed schedule; latency from the scheduled time to completion."""
    n = int(rate * seconds)
    lat: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def one(at: float) -> None:
        nonlocal errors
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            ok = await call()
        except Exception:
            ok = False
        if ok:
            lat.append(loop.time() - at)
        else:
            errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(start + i / rate) for i in range(n)))
    wall = time.perf_counter() - t0 - 0.2
    return {"requests": n, "errors": errors, "achieved_per_s": round(n / wall)} | pct(lat)


async def closed_loop(call, inflight: int, seconds: float) -> dict[str, Any]:
    done = 0
    lat: list[float] = []
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < end:
            t = time.perf_counter()
            if await call():
                done += 1
                lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return {"requests_per_s": round(done / (time.perf_counter() - t0)), "inflight": inflight} | (
        pct(lat)
    )


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (``--workers``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    kids = [
        int(c)
        for t in Path(f"/proc/{pid}/task").iterdir()
        for c in (t / "children").read_text().split()
    ]
    return own + sum(cpu_s(k) for k in kids)


def vegeta_bin() -> str | None:
    """Vegeta (Go, open loop): on PATH or where ``go install`` puts it."""
    gopath = Path(os.environ.get("GOPATH", Path.home() / "go")) / "bin" / "vegeta"
    return shutil.which("vegeta") or (str(gopath) if gopath.is_file() else None)


def vegeta(binary: str, target: str, rate: float, seconds: float) -> dict[str, Any]:
    """``target`` (vegeta's text format) at ``rate``/s for ``seconds`` (``rate`` 0: as fast
    as 32 workers go); latency is from each request's scheduled time (open loop)."""
    pace = ["-rate=0", "-max-workers=32"] if rate == 0 else [f"-rate={int(rate)}"]
    attack = subprocess.run(
        [binary, "attack", *pace, f"-duration={seconds}s", "-max-body=0"],
        input=target.encode(),
        capture_output=True,
        check=True,
    )
    rep = subprocess.run(
        [binary, "report", "-type=json"], input=attack.stdout, capture_output=True, check=True
    )
    r = json.loads(rep.stdout)
    ms = {k: round(r["latencies"][k] / 1e6, 3) for k in ("50th", "99th", "max")}
    ok = r["status_codes"].get("200", 0)
    return {
        "requests": r["requests"],
        "errors": r["requests"] - ok,
        "achieved_per_s": round(r["throughput"]),
        "p50_ms": ms["50th"],
        "p99_ms": ms["99th"],
        "max_ms": ms["max"],
    }


async def floor_app(scope: dict, receive: Any, send: Any) -> None:
    """The baseline: uvicorn answering the same JSON with no work at all."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": _FLOOR_HEADERS})
        await send({"type": "http.response.body", "body": _FLOOR_BODY})


_FLOOR_BODY = b'{"symbol":"BENCH","timestamp":0,"model":"ofi","direction":1,"confidence":0.75}'
_FLOOR_HEADERS = [(b"content-type", b"application/json")]


def bench_rest_vegeta(settings: Settings, rate: float, seconds: float, pid: int) -> dict[str, Any]:
    """The endpoint under vegeta; baseline in the same run: uvicorn's floor (``floor_app``,
    one process) on the same schedule."""
    binary = vegeta_bin()
    assert binary is not None
    put_prediction(settings)
    bearer = f"Authorization: Bearer {asyncio.run(token(settings))}"
    url = f"http://127.0.0.1:{settings.serve.port}/api/v1/predictions/{SYMBOL}"
    target = f"GET {url}\n{bearer}\n"
    # Warm-up at the full rate: the API's Redis pool grows to what the rate needs (new
    # connections stall the first requests of a cold server by ~50-80 ms here).
    vegeta(binary, target, rate, 2)
    cpu0 = cpu_s(pid)
    api = vegeta(binary, target, rate, seconds)
    api["server_cpu_ms_per_request"] = round((cpu_s(pid) - cpu0) * 1e3 / api["requests"], 3)
    low = vegeta(binary, target, rate / 5, seconds)
    most = vegeta(binary, target, 0, 5)
    port = settings.serve.port + 1
    floor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.bench_serving:floor_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        floor_target = f"GET http://127.0.0.1:{port}/\n"
        vegeta(binary, floor_target, rate, 2)
        cpu0 = cpu_s(floor.pid)
        base = vegeta(binary, floor_target, rate, seconds)
        base["server_cpu_ms_per_request"] = round(
            (cpu_s(floor.pid) - cpu0) * 1e3 / base["requests"], 3
        )
    finally:
        floor.terminate()
        floor.wait(15)
    return {
        "generator": "vegeta",
        "endpoint": f"GET /api/v1/predictions/{SYMBOL}",
        "open_loop": api,
        "open_loop_fifth_rate": low,
        "closed_loop_32_workers": most,
        "baseline_uvicorn_floor": base,
        "p99_ratio_vs_floor": round(api["p99_ms"] / base["p99_ms"], 2),
        "cpu_ratio_vs_floor": round(
            api["server_cpu_ms_per_request"] / base["server_cpu_ms_per_request"], 2
        ),
    }


def wait_http(url: str, seconds: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def put_prediction(settings: Settings) -> None:
    """The prediction in Redis as the live flow writes it (``pred:{symbol}``)."""
    value = {
        "symbol": SYMBOL,
        "model": "ofi",
        "timestamp": time.time_ns(),
        "direction": 1,
        "confidence": 0.75,
    }
    redis.Redis.from_url(settings.redis.url).set(f"pred:{SYMBOL}", json.dumps(value), px=600_000)


async def bench_rest(settings: Settings, rate: float, seconds: float, pid: int) -> dict[str, Any]:
    put_prediction(settings)
    r = redis.Redis.from_url(settings.redis.url)
    bearer = {"Authorization": f"Bearer {await token(settings)}"}
    url = f"http://127.0.0.1:{settings.serve.port}/api/v1/predictions/{SYMBOL}"
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn, headers=bearer) as s:

        async def get() -> bool:
            async with s.get(url) as resp:
                body = await resp.read()
                return resp.status == 200 and b'"live":true' in body

        for _ in range(200):  # warm-up
            await get()
        cpu0 = cpu_s(pid)
        api = await open_loop(get, rate, seconds)
        api["server_cpu_ms_per_request"] = round((cpu_s(pid) - cpu0) * 1e3 / api["requests"], 3)
        low = await open_loop(get, rate / 5, seconds)
        most = await closed_loop(get, 32, 5)
    client = aioredis.Redis.from_url(settings.redis.url, max_connections=64)

    async def rget() -> bool:
        return await client.get(f"pred:{SYMBOL}") is not None

    base = await open_loop(rget, rate, seconds)
    await client.aclose()
    r.delete(f"pred:{SYMBOL}")
    return {
        "endpoint": f"GET /api/v1/predictions/{SYMBOL}",
        "open_loop": api,
        "open_loop_fifth_rate": low,
        "closed_loop": most,
        "baseline_redis_get": base,
        "p99_ratio_vs_redis": round(api["p99_ms"] / base["p99_ms"], 2),
    }


def prediction_table(symbol: str, seq: int) -> pa.Table:
    return pa.table(
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


def produce(settings: Settings, symbols: list[str], stop: threading.Event) -> int:
    """Prediction tables to the Kafka ``predictions`` topic, every 5 ms per symbol."""
    p = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 1})
    n = seq = 0
    while not stop.is_set():
        for s in symbols:
            msg = wire.encode_table("predictions", prediction_table(s, seq))
            p.produce(topics.PREDICTIONS, msg, s.encode())
            n += 1
        seq += 1
        p.poll(0)
        time.sleep(0.005)
    p.flush(10)
    return n


def fanout_server(port: int, room_hz: float, rooms: int) -> None:
    """An embedded app (no Kafka: the fan-out alone) fed new predictions every 5 ms per room,
    as the replay's sinks feed it; runs until killed."""
    import uvicorn

    from serving.app import create_app
    from serving.stores.embedded import EmbeddedStore

    base = Settings()
    settings = base.model_copy(
        update={"serve": base.serve.model_copy(update={"room_rate_hz": room_hz})}
    )
    store = EmbeddedStore(keep=10)
    app = create_app(settings, embedded=store)

    def feed() -> None:
        seq = 0
        while True:
            for i in range(rooms):
                store.record("predictions", f"B{i}", prediction_table(f"B{i}", seq))
            seq += 1
            time.sleep(0.005)

    threading.Thread(target=feed, daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)


async def room_emits(url: str) -> float:
    """Room messages the server has sent so far (``flowsense_socketio_messages_total``)."""
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as r:
        text = await r.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("flowsense_socketio_messages_total")
    )


async def bench_fanout(
    settings: Settings, clients: int, rooms: int, room_hz: float, seconds: float, via: str
) -> dict[str, Any]:
    """``via`` ``embedded``: a fan-out server fed in-process (``fanout_server``);
    ``kafka``: the API on the servers, fed by the ``predictions`` topic."""
    symbols = [f"B{i}" for i in range(rooms)]
    names = [f"predictions.{s}" for s in symbols]
    port = settings.serve.port + (1 if via == "embedded" else 0)
    url = f"http://127.0.0.1:{port}"
    tok = await token(settings) if via == "kafka" else ""
    server = None
    if via == "embedded":
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--fanout-server",
                str(port),
                "--room-hz",
                str(room_hz),
                "--rooms",
                str(rooms),
            ],
            cwd=ROOT,
        )
        await asyncio.sleep(1)
    times: list[float] = []
    socks = []
    for _ in range(clients):
        sio = socketio.AsyncClient()
        sio.on("predictions", lambda data: times.append(time.perf_counter()))
        for _ in range(100):
            try:
                await sio.connect(url, auth={"token": tok}, transports=["websocket"])
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.3)
        await sio.call("subscribe", names, timeout=30)
        socks.append(sio)
    emits0 = await room_emits(url)
    stop = threading.Event()
    sent: list[int] = []
    th = threading.Thread(target=lambda: sent.append(produce(settings, symbols, stop)))
    if via == "kafka":
        th.start()
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    if via == "kafka":
        th.join()
    # Steady part: skip the first and last second.
    a, b = t0 + 1.0, t0 + seconds - 1.0
    steady = sum(1 for t in times if a <= t < b)
    emits = await room_emits(url) - emits0
    for sio in socks:
        await sio.disconnect()
    if server is not None:
        server.terminate()
        server.wait(10)
    rate = steady / (b - a)
    ceiling = clients * rooms * room_hz
    return {
        "via": via,
        "clients": clients,
        "rooms_per_client": rooms,
        "room_hz": room_hz,
        "kafka_messages_produced": sent[0] if sent else None,
        "received_per_s": round(rate),
        "ceiling_per_s": round(ceiling),
        "of_ceiling": round(rate / ceiling, 3),
        "server_room_emits_per_s": round(emits / seconds),
        "per_client_per_room_hz": round(rate / clients / rooms, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--room-hz", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1, help="API processes (serve --workers).")
    ap.add_argument("--kafka-fanout", action="store_true", help="Also fan out from Kafka.")
    ap.add_argument(
        "--generator",
        choices=["vegeta", "aiohttp"],
        default="vegeta" if vegeta_bin() else "aiohttp",
        help="REST load generator (default vegeta when installed).",
    )
    ap.add_argument("--no-fanout", action="store_true", help="REST only.")
    ap.add_argument("--fanout-server", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.fanout_server:
        fanout_server(args.fanout_server, args.room_hz, args.rooms)
        return
    settings = Settings()
    migrate(settings.postgres.dsn)
    load_before = os.getloadavg()[0]
    api = start_api(settings, args.room_hz, args.workers)
    try:
        if args.generator == "vegeta":
            rest = bench_rest_vegeta(settings, args.rate, args.seconds, api.pid)
        else:
            rest = asyncio.run(bench_rest(settings, args.rate, args.seconds, api.pid))
        fan = []
        if not args.no_fanout:
            fan.append(
                asyncio.run(
                    bench_fanout(
                        settings, args.clients, args.rooms, args.room_hz, args.seconds, "embedded"
                    )
                )
            )
        if args.kafka_fanout and not args.no_fanout:
            fan.append(
                asyncio.run(
                    bench_fanout(
                        settings, args.clients, args.rooms, args.room_hz, args.seconds, "kafka"
                    )
                )
            )
    finally:
        api.terminate()
        api.wait(15)
    out = {
        "machine": machine(),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg()[0],
        "rest": rest,
        "fanout": fan,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
