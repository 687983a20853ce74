"""Backtests: a replay (the same flow as ``flowsense replay``) on a worker thread, by id.

One runs at a time (the machine's cores are the flow's); the others wait in
the queue. Jobs live in memory and, on the servers, in the ``backtests``
table, so their results outlive the process. Data may only be read from
under ``serve.backtest_root``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from flowsense.settings import Settings

log = logging.getLogger("flowsense.serving.backtests")


class BacktestInputError(ValueError):
    pass


CURVE_POINTS = 600
TRADES_SHOWN = 200


def equity_curve(
    fills: list[dict[str, Any]], bars: list[dict[str, Any]], capital: float
) -> list[list[float]]:
    """Equity (``capital`` + cash + positions marked at each symbol's last bar mid) at the
    end of every bar, ``[[ts_event, equity], ...]``, at most ``CURVE_POINTS`` (evenly
    thinned, the last kept). Fills at or before a bar's end count in it."""
    events = sorted(
        [(f["ts_event"], 0, f) for f in fills] + [(b["ts_event"], 1, b) for b in bars],
        key=lambda e: (e[0], e[1]),
    )
    cash: dict[str, float] = {}
    position: dict[str, float] = {}
    mid: dict[str, float] = {}
    curve: list[list[float]] = []
    for ts, is_bar, row in events:
        s = row["symbol"]
        if is_bar:
            if row.get("mid") is not None and row["mid"] == row["mid"]:  # not NaN
                mid[s] = float(row["mid"])
            value = sum(c + position.get(k, 0.0) * mid.get(k, 0.0) for k, c in cash.items())
            curve.append([int(ts), capital + value])
        else:
            flow = row["side"] * row["quantity"] * row["price"] + (row.get("fee") or 0.0)
            cash[s] = cash.get(s, 0.0) - flow
            position[s] = float(row["position_after"])
            mid.setdefault(s, float(row["price"]))
    if len(curve) > CURVE_POINTS:
        step = len(curve) / CURVE_POINTS
        curve = [curve[int(i * step)] for i in range(CURVE_POINTS - 1)] + [curve[-1]]
    return curve


def predictor_names() -> list[str]:
    from operators.predictors import PREDICTORS

    return sorted(PREDICTORS)


class Backtests:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool | None) -> None:
        self.settings = settings
        self.pool = pool
        self.jobs: dict[str, dict[str, Any]] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")
        self.tasks: set[asyncio.Task] = set()
        self.progress: dict[str, tuple[Any, int]] = {}
        """Running jobs: their replay's ``LatestValues`` and the input rows expected."""

    def resolve(self, data: str) -> Path:
        root = self.settings.serve.backtest_root.resolve()
        path = Path(data)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.is_relative_to(root):
            raise BacktestInputError(f"data must be under the backtest root {root}")
        if not path.exists():
            raise BacktestInputError(f"{data}: no such file or folder under the backtest root")
        return path

    async def submit(self, user_id: int, data: str, predictor: str) -> dict[str, Any]:
        if predictor not in predictor_names():
            raise BacktestInputError(
                f"unknown predictor {predictor!r}; available: {', '.join(predictor_names())}"
            )
        path = self.resolve(data)
        job = {
            "id": uuid.uuid4().hex,
            "user_id": user_id,
            "status": "queued",
            "data": str(path),
            "predictor": predictor,
            "summary": None,
            "error": None,
            "created_at": datetime.now(UTC).isoformat(),
            "finished_at": None,
        }
        self.jobs[job["id"]] = job
        await self._save(job, insert=True)
        task = asyncio.create_task(self._run(job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job

    def _replay(self, job: dict[str, Any]) -> dict[str, Any]:
        from dataflows.readers import discover
        from dataflows.sinks import LatestValues, read_table
        from flowsense.commands.replay import estimate_rows, run_replay

        replay = self.settings.replay.model_copy(update={"predictor": job["predictor"]})
        settings = self.settings.model_copy(update={"replay": replay})
        run_dir = settings.runs_dir / f"backtest-{job['id']}"
        latest = LatestValues()
        self.progress[job["id"]] = (latest, estimate_rows(discover(Path(job["data"]))))
        try:
            summary = run_replay(settings, Path(job["data"]), run_dir=run_dir, latest=latest)
        finally:
            self.progress.pop(job["id"], None)
        fills = read_table(run_dir, "fills")
        bars = read_table(run_dir, "bars")
        summary["equity_curve"] = equity_curve(
            fills.to_dicts(),
            bars.select("ts_event", "symbol", "mid").to_dicts() if len(bars) else [],
            settings.risk.capital,
        )
        shown = fills.sort("ts_event").tail(TRADES_SHOWN) if len(fills) else fills
        cols = ("ts_event", "symbol", "side", "quantity", "price", "position_after")
        summary["recent_fills"] = [{k: r.get(k) for k in cols} for r in shown.to_dicts()]
        return summary

    async def _run(self, job: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        job["status"] = "running"
        try:
            await self._save(job)
            summary = await loop.run_in_executor(self.executor, self._replay, job)
            job.update(status="done", summary=json.loads(json.dumps(summary, default=str)))
        except Exception as e:  # the job's outcome, reported by GET /backtest/{id}
            log.warning("backtest %s failed: %s", job["id"], e)
            job.update(status="failed", error=f"{type(e).__name__}: {e}"[:500])
        job["finished_at"] = datetime.now(UTC).isoformat()
        try:
            await self._save(job)
        except Exception as e:
            log.warning("backtest %s: not saved: %s", job["id"], e)

    async def _save(self, job: dict[str, Any], insert: bool = False) -> None:
        if self.pool is None:
            return
        async with self.pool.connection() as conn:
            if insert:
                params = {"data": job["data"], "predictor": job["predictor"]}
                await conn.execute(
                    "INSERT INTO backtests (id, user_id, status, params) VALUES (%s, %s, %s, %s)",
                    (job["id"], job["user_id"], job["status"], json.dumps(params)),
                )
            else:
                await conn.execute(
                    "UPDATE backtests SET status = %s, summary = %s, error = %s, "
                    "finished_at = %s WHERE id = %s",
                    (
                        job["status"],
                        None if job["summary"] is None else json.dumps(job["summary"]),
                        job["error"],
                        job["finished_at"],
                        job["id"],
                    ),
                )

    async def get(self, job_id: str) -> dict[str, Any] | None:
        if job_id in self.jobs:
            job = self.jobs[job_id]
            running = self.progress.get(job_id)
            if running is not None:
                latest, total = running
                return job | {"progress": {"rows": latest.count("features"), "total": total}}
            return job
        if self.pool is None:
            return None
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, user_id, status, params, summary, error, created_at, finished_at "
                "FROM backtests WHERE id = %s",
                (job_id,),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "user_id": row[1],
            "status": row[2],
            "data": row[3]["data"],
            "predictor": row[3]["predictor"],
            "summary": row[4],
            "error": row[5],
            "created_at": row[6].isoformat(),
            "finished_at": row[7] and row[7].isoformat(),
        }

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
