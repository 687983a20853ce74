"""Crash recovery of the live flow, measured in one run (issue 9).

    .venv/bin/python benchmarks/bench_recovery.py [--data DIR] [--json]

Needs the local servers (started if they are not running). It empties the
topics and the PostgreSQL tables first: a development machine only.

Input: the whole LOBSTER day of AMZN (5 levels) and GOOG (10 levels), 303 851
ticks, published once to ``ticks.raw`` in messages of 1 024 ticks. Each run
is ``flowsense live --from-beginning --until-idle 1 --no-archive`` in a
process of its own over that backlog, its outputs in fresh topics and tables:

1. the cost of snapshots: the whole flow without recovery (the baseline),
   with recovery at the default interval (2 s) and at 0.2 s; ticks/s from
   the process start, and from its first output message, to its last
   (Kafka message timestamps, set when the flow's sink produced them);
2. recovery time: the flow with recovery killed (SIGKILL) half-way through
   the day, then restarted with the same command: seconds from the restart
   to its last output (caught up), of which start-up (to its first output),
   against the same stretch in the uninterrupted run.

The same 2 cores run Kafka, PostgreSQL, Redis and QuestDB: read ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_live import FILES, machine, sample_folder  # noqa: E402

from dataflows.publish import batches, publish  # noqa: E402
from flowsense import services  # noqa: E402
from flowsense.settings import SHARED_DATA, Settings  # noqa: E402
from schemas import topics  # noqa: E402
from tests.integration.helpers import reset_stores, reset_topics  # noqa: E402


def output_span(settings: Settings) -> tuple[float, float, int]:
    """First and last ``features`` message times (s) and the message count."""
    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "bench-recovery"})
    meta = c.list_topics(topics.FEATURES, timeout=10).topics[topics.FEATURES]
    first, last, n = float("inf"), 0.0, 0
    for p in meta.partitions:
        low, high = c.get_watermark_offsets(TopicPartition(topics.FEATURES, p), timeout=10)
        if high <= low:
            continue
        n += high - low
        for offset in (low, high - 1):
            c.assign([TopicPartition(topics.FEATURES, p, offset)])
            msg = c.poll(10)
            t = msg.timestamp()[1] / 1e3
            first, last = min(first, t), max(last, t)
    c.close()
    return first, last, n


def fresh_outputs(settings: Settings) -> None:
    """Empty every output topic and table, keeping ``ticks.raw`` (the input)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    outs = [t for t in topics.ALL if t != topics.TICKS_RAW]
    for f in admin.delete_topics(outs, operation_timeout=30).values():
        f.result()
    time.sleep(1.0)
    for _ in range(50):
        new = [
            NewTopic(t, settings.kafka.partitions if t in topics.BY_SYMBOL else 1, 1)
            for t in outs
            if t not in admin.list_topics(timeout=10).topics
        ]
        if not new:
            break
        try:
            for f in admin.create_topics(new).values():
                f.result()
        except Exception:
            time.sleep(0.2)
    reset_stores(settings)


def run(settings: Settings, env: dict[str, str], kill_after_s: float | None = None) -> dict:
    """One ``flowsense live`` over the backlog; killed after ``kill_after_s`` if given."""
    cmd = [sys.executable, "-m", "flowsense", "live", "--from-beginning", "--until-idle", "1",
           "--no-archive"]  # fmt: skip
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    first, last, messages = output_span(settings)
    return {"t0": t0, "first": first, "last": last, "messages": messages, "code": proc.returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "lobster")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = Settings()
    services.up(settings)
    sample = sample_folder(args.data)
    items = batches(sample, 1024, None, settings.cache_dir)
    ticks = sum(len(b) for b in items)
    reset_topics(settings)
    publish(settings.kafka.bootstrap, items)
    load_before = os.getloadavg()[0]
    rec_dir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    base_env = os.environ | {
        "FLOWSENSE_KAFKA__SYMBOLS": json.dumps(list(FILES)),
        "FLOWSENSE_RECOVERY__DIR": str(rec_dir),
    }

    def rate(r: dict) -> dict[str, Any]:
        return {
            "seconds_to_last_output": round(r["last"] - r["t0"], 3),
            "startup_s": round(r["first"] - r["t0"], 3),
            "ticks_per_s": round(ticks / (r["last"] - r["t0"])),
            "ticks_per_s_after_first_output": round(ticks / max(r["last"] - r["first"], 1e-3)),
        }

    throughput = {}
    for name, extra in (
        ("no_recovery", {"FLOWSENSE_RECOVERY__ENABLED": "false"}),
        ("recovery_2s", {"FLOWSENSE_RECOVERY__SNAPSHOT_S": "2"}),
        ("recovery_0.2s", {"FLOWSENSE_RECOVERY__SNAPSHOT_S": "0.2"}),
    ):
        fresh_outputs(settings)
        shutil.rmtree(rec_dir, ignore_errors=True)
        throughput[name] = rate(run(settings, base_env | extra))
    base = throughput["no_recovery"]["ticks_per_s_after_first_output"]
    for r in throughput.values():
        r["x_no_recovery"] = round(r["ticks_per_s_after_first_output"] / base, 2)

    # Recovery time: kill half-way through the day (by the uninterrupted run's clock).
    whole = throughput["recovery_2s"]
    half = whole["startup_s"] + (whole["seconds_to_last_output"] - whole["startup_s"]) / 2
    fresh_outputs(settings)
    shutil.rmtree(rec_dir, ignore_errors=True)
    env = base_env | {"FLOWSENSE_RECOVERY__SNAPSHOT_S": "2"}
    killed = run(settings, env, kill_after_s=half)
    restart_t0 = time.time()
    resumed = run(settings, env)
    recovery = {
        "killed_after_s": round(half, 3),
        "kill_exit_code": killed["code"],
        "restart_to_caught_up_s": round(resumed["last"] - restart_t0, 3),
        "restart_startup_s": round(resumed["first"] - restart_t0, 3),
        "uninterrupted_second_half_s": round(whole["seconds_to_last_output"] - half, 3),
    }
    shutil.rmtree(rec_dir, ignore_errors=True)
    for f in sample.iterdir():
        f.unlink()
    sample.rmdir()
    out = {
        "machine": machine(),
        "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "ticks": ticks,
        "throughput": throughput,
        "recovery": recovery,
    }
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
