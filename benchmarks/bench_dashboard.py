"""Frame time of the live dashboard under a full-speed replay (issue 7).

    .venv/bin/python benchmarks/bench_dashboard.py [--speed 100x] [--seconds 30]
        [--symbol GOOG] [--json]

Starts ``flowsense serve --embedded --speed SPEED`` (the demo, no servers) on a
free port (``max`` replays the cached LOBSTER day in ~8 s, too short to
measure: 100x lasts ~4 minutes, and the rooms are throttled to 10 messages a
second whatever the pace, so the browser's load is the same from ~10x on),
opens the live view of ``--symbol`` in headless Chromium
(playwright-core, ``web/e2e/frames.mjs``) and records, for ``--seconds``:
requestAnimationFrame deltas (p50/p95/p99/max, frames over 33 ms), long tasks
(PerformanceObserver ``longtask``: main-thread work over 50 ms), the chart
updates and ladder redraws seen, and the JS heap after a forced GC every 5 s
(memory growth). Baseline in the same run and browser: the same recorder on a
blank page (the frame cadence headless Chromium gives on this machine).
Needs ``./scripts/setup.sh`` (the built dashboard, node_modules, Chromium).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from tests.net import free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", default="100x")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--symbol", default="GOOG")
    ap.add_argument("--points", type=int, default=0, help="chart points kept (0: the page's 3 000)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "FLOWSENSE_RUNTIME_DIR": f"{tmp}/runtime",
            "FLOWSENSE_RUNS_DIR": f"{tmp}/runs",
        }
        exe = Path(sys.executable).parent / "flowsense"
        cmd = [str(exe), "serve", "--embedded", "--port", str(port), "--speed", args.speed]
        with open(f"{tmp}/serve.log", "w") as log:
            server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while True:
                    if server.poll() is not None or time.monotonic() > deadline:
                        text = Path(log.name).read_text()
                        sys.exit(f"bench_dashboard: the demo did not start:\n{text}")
                    try:
                        if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.3)
                started = time.monotonic()
                r = subprocess.run(
                    ["node", "e2e/frames.mjs"],
                    cwd=ROOT / "web",
                    env=os.environ
                    | {"BASE_URL": url, "SYMBOL": args.symbol, "SECONDS": str(args.seconds)}
                    | ({"POINTS": str(args.points)} if args.points else {}),
                    capture_output=True,
                    text=True,
                    timeout=args.seconds + 180,
                )
                if r.returncode != 0:
                    sys.exit(f"bench_dashboard: frames.mjs failed:\n{r.stderr[-3000:]}")
                result = json.loads(r.stdout.strip().splitlines()[-1])
                health = httpx.get(f"{url}/api/v1/health").json()
                replay_running = "running" in json.dumps(health)
                elapsed = time.monotonic() - started
            finally:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
    out = {
        "machine": machine(),
        "command": " ".join(["bench_dashboard.py", *sys.argv[1:]]),
        "speed": args.speed,
        "symbol": args.symbol,
        "points": args.points or 3000,
        "replay_still_running_at_end": replay_running,
        "wall_s": round(elapsed, 1),
        **result,
    }
    if args.json:
        print(json.dumps(out))
        return
    b, live = out["baseline"], out["live"]
    print(f"machine: {out['machine']}; replay --speed {args.speed}, {args.seconds} s")
    print(f"{'':28}{'blank page':>12}{'dashboard':>12}")
    for k in (
        "fps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "over_33ms",
        "long_tasks",
        "long_task_ms",
    ):
        print(f"{k:28}{b[k]!s:>12}{live[k]!s:>12}")
    print(f"chart updates {live['chart_updates']}, ladder redraws {live['ladder_redraws']}")
    print(f"heap after GC (MB, every 5 s): {live['heap_mb']}")


if __name__ == "__main__":
    main()
