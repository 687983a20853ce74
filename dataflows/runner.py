"""Run a dataflow in this process on one or more worker threads, optionally recoverable."""

from __future__ import annotations

import fcntl
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main

from flowsense.settings import Settings


def recovery(settings: Settings) -> tuple[RecoveryConfig, timedelta]:
    """The live flow's recovery store (its partitions created if new) and snapshot interval."""
    cfg = settings.recovery
    folder = cfg.dir or Path(settings.runtime_dir) / "recovery" / "live"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the processes of a cluster start together
        if not any(folder.glob("*.sqlite3")):
            init_db_dir(folder, cfg.partitions)
    rc = RecoveryConfig(str(folder), timedelta(seconds=cfg.backup_s))
    return rc, timedelta(seconds=cfg.snapshot_s)


def run_flow(
    flow: Dataflow,
    workers: int = 1,
    recovery: tuple[RecoveryConfig, timedelta] | None = None,
    addresses: list[str] | None = None,
    process_id: int = 0,
) -> None:
    """``flow`` to its end: ``run_main`` on one worker, else a cluster of ``workers`` threads
    in this process, and of the processes at ``addresses`` (this one is ``process_id``);
    with ``recovery``, snapshots at its interval and resumes from the last one."""
    kw = {} if recovery is None else {"recovery_config": recovery[0], "epoch_interval": recovery[1]}
    if workers == 1 and not addresses:
        run_main(flow, **kw)
    else:
        cluster_main(flow, addresses or [], process_id, worker_count_per_proc=workers, **kw)
