"""``up``, ``down``, ``status`` and ``logs`` over the local servers.

``up`` is idempotent: a running server that answers is left alone, what is
missing is installed (cached), the rest is started and waited for with real
health checks. Quick servers start at once; the two JVMs start one after the
other (on 2 cores no slower in total than together, measured, and each start
time is its own). Servers run detached and keep running after the command exits.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

import psycopg
import redis
from confluent_kafka import KafkaException

from flowsense.errors import InputError
from flowsense.services.base import Progress, Service, ServiceError, tail
from flowsense.services.kafka import Kafka
from flowsense.services.postgres import Postgres
from flowsense.services.questdb import QuestDB
from flowsense.services.redis import Redis
from flowsense.settings import Settings

SERVICES: tuple[type[Service], ...] = (Redis, Postgres, QuestDB, Kafka)
"""Every server, in start order (stopped in reverse)."""
NAMES = tuple(s.name for s in SERVICES)


def _quiet(line: str) -> None:
    pass


@contextmanager
def _about(name: str) -> Iterator[None]:
    """An OS or client error while handling a server, as one line naming it (cause kept)."""
    try:
        yield
    except (OSError, KafkaException, psycopg.Error, redis.RedisError) as e:
        raise ServiceError(f"{name}: {' '.join(str(e).split())}") from e


def select(settings: Settings, names: Sequence[str] | None = None) -> list[Service]:
    """The servers named (all when none are), in start order."""
    unknown = sorted(set(names or ()) - set(NAMES))
    if unknown:
        raise InputError(f"unknown server {', '.join(unknown)}: choose from {', '.join(NAMES)}")
    return [cls(settings) for cls in SERVICES if not names or cls.name in names]


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One ``up`` or ``down`` at a time on a runtime folder."""
    runtime = settings.runtime_dir.expanduser().resolve()
    with _about("runtime folder"):
        runtime.mkdir(parents=True, exist_ok=True)
    with open(runtime / ".services.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(
    settings: Settings, names: Sequence[str] | None = None, progress: Progress = _quiet
) -> dict[str, Any]:
    """Start what is not running and wait until every server answers; what was done."""
    t0 = time.monotonic()
    services = select(settings, names)
    with _locked(settings):
        for s in services:
            s.check_local()
        pids = {s.name: s.pid() for s in services}
        to_start = [s for s in services if pids[s.name] is None]
        for s in to_start:
            s.check_ports_free()
        _install([s for s in to_start if not s.installed()], progress)
        report = _start_and_wait(services, pids, progress)
        for s in services:
            with _about(s.name):
                report[s.name] |= s.provision(progress)
    return {
        "services": {s.name: report[s.name] for s in services},
        "healthy": True,
        "seconds": round(time.monotonic() - t0, 2),
    }


def _start_and_wait(
    services: list[Service], pids: dict[str, int | None], progress: Progress
) -> dict[str, dict[str, Any]]:
    """Start those without a pid and poll every server until it answers.

    Quick servers start at once; a JVM only once no other JVM is still starting.
    A running server is only checked (it answers at once, or later if another
    ``up`` is starting it).
    """
    report: dict[str, dict[str, Any]] = {}
    pending = [s for s in services if pids[s.name] is None]
    # name -> (server, the process we started or None, when we began to wait)
    waiting = {s.name: (s, None, time.monotonic()) for s in services if pids[s.name]}
    while pending or waiting:
        while pending and not (pending[0].jvm and any(w.jvm for w, _, _ in waiting.values())):
            s = pending.pop(0)
            with _about(s.name):
                s.configure()
                waiting[s.name] = (s, s.start(), time.monotonic())
        for name, (s, proc, since) in list(waiting.items()):
            if not s.started(proc, since):
                continue
            del waiting[name]
            if proc is None:
                report[name] = {"action": "running", "pid": pids[name]}
                progress(f"{name}: already running (pid {pids[name]})")
            else:
                seconds = round(time.monotonic() - since, 2)
                report[name] = {"action": "started", "pid": proc.pid, "seconds": seconds}
                progress(f"{name}: started (pid {proc.pid}) in {seconds:.1f} s")
        if waiting:
            time.sleep(0.1)
    return report


def _install(missing: list[Service], progress: Progress) -> None:
    """Install (download) what is missing, all at once."""
    if not missing:
        return
    t0 = time.monotonic()
    progress(f"installing {', '.join(s.name for s in missing)} (downloads are cached)")

    def install(s: Service) -> None:
        with _about(s.name):
            s.install()

    with ThreadPoolExecutor(len(missing)) as pool:
        futures = {pool.submit(install, s): s for s in missing}
        for future in as_completed(futures):
            future.result()
            progress(f"{futures[future].name}: installed ({time.monotonic() - t0:.1f} s)")


def down(
    settings: Settings, names: Sequence[str] | None = None, progress: Progress = _quiet
) -> dict[str, Any]:
    """Stop the servers (gracefully, killed after a timeout), all at once; what was done."""
    t0 = time.monotonic()
    services = select(settings, names)[::-1]

    def stop(s: Service) -> dict[str, Any]:
        with _about(s.name):
            return s.stop()

    with _locked(settings), ThreadPoolExecutor(len(services)) as pool:
        results = {s.name: r for s, r in zip(services, pool.map(stop, services), strict=True)}
    for name, r in results.items():
        if r["stopped"]:
            how = "killed after the timeout" if r["killed"] else f"in {r['seconds']:.1f} s"
            progress(f"{name}: stopped (pid {r['pid']}) {how}")
        else:
            progress(f"{name}: not running")
    return {"services": results, "seconds": round(time.monotonic() - t0, 2)}


def status(settings: Settings, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Per server: running?, pid, ports, healthy?, memory, log."""
    services = select(settings, names)
    with ThreadPoolExecutor(len(services)) as pool:
        infos = {s.name: i for s, i in zip(services, pool.map(Service.info, services), strict=True)}
    return {
        "runtime_dir": str(settings.runtime_dir),
        "healthy": all(i["healthy"] for i in infos.values()),
        "services": infos,
    }


def logs(settings: Settings, names: Sequence[str] | None = None, lines: int = 50) -> dict[str, Any]:
    """The last ``lines`` lines of each server's log."""
    return {
        s.name: {"log": str(s.log_path), "lines": tail(s.log_path, lines)}
        for s in select(settings, names)
    }
