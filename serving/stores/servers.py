"""The store on the real servers: Redis (hot values), QuestDB (history), PostgreSQL (trading).

Latest values come from Redis while the live flow keeps them fresh (TTLs of
``dataflows.stores.redis``), else from the newest row in QuestDB or
PostgreSQL, marked ``live: false``. QuestDB is asked over its HTTP ``/exec``
(JSON) with an async client; it has no bind parameters there, so every
identifier that reaches SQL is checked by the API (``serving.api.params``)
and quoted here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import redis.asyncio as aioredis
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from flowsense.settings import Settings
from serving.stores import Row, prediction_row


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(column: str, values: list[str] | None) -> str:
    return f" AND {column} IN ({', '.join(_q(v) for v in values)})" if values else ""


class QuestDBError(RuntimeError):
    pass


class ServerStore:
    kind = "servers"

    def __init__(self, settings: Settings, pg_max: int = 8) -> None:
        q = settings.questdb
        self.settings = settings
        # A request waits (up to 5 s) for a free Redis connection rather than fail with
        # "Too many connections" when a burst has them all.
        self.redis = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                settings.redis.url, max_connections=settings.serve.redis_connections, timeout=5
            )
        )
        self.http = httpx.AsyncClient(
            base_url=f"http://{q.host}:{q.http_port}", timeout=15, auth=(q.user, q.password)
        )
        self.pg = AsyncConnectionPool(
            settings.postgres.dsn, min_size=1, max_size=pg_max, open=False, timeout=10
        )

    async def open(self) -> None:
        await self.pg.open(wait=False)

    async def close(self) -> None:
        await self.pg.close()
        await self.http.aclose()
        await self.redis.aclose()

    async def sql(self, query: str) -> list[Row]:
        """Rows of a QuestDB query, as dicts."""
        resp = await self.http.get("/exec", params={"query": query})
        body = resp.json()
        if "error" in body:
            raise QuestDBError(f"QuestDB: {body['error']}")
        names = [c["name"] for c in body.get("columns", [])]
        return [dict(zip(names, r, strict=True)) for r in body.get("dataset", [])]

    async def _table_rows(self, sql: str) -> list[Row]:
        """Rows of a table that may not exist yet (no flow has run): none then."""
        try:
            return await self.sql(sql)
        except QuestDBError as e:
            if "does not exist" in str(e):
                return []
            raise

    async def health(self) -> dict[str, Row]:
        async def check(name: str, probe) -> tuple[str, Row]:
            t0 = time.perf_counter()
            try:
                await probe()
                ok, detail = True, "ok"
            except Exception as e:  # reported, not raised: health says what is down
                ok, detail = False, f"{type(e).__name__}: {e}"[:200]
            return name, {"ok": ok, "detail": detail, "ms": (time.perf_counter() - t0) * 1e3}

        async def pg() -> None:
            async with self.pg.connection(timeout=3) as conn:
                await conn.execute("SELECT 1")

        results = [
            await check("redis", self.redis.ping),
            await check("questdb", lambda: self.sql("SELECT 1")),
            await check("postgres", pg),
        ]
        return dict(results)

    # --- market data ------------------------------------------------------------

    _PRED = (
        "SELECT cast(ts AS LONG) ts_event, symbol, model, seq, direction, confidence, mid "
        "FROM predictions"
    )

    async def latest_prediction(self, symbol: str) -> Row | None:
        return await self.prediction_from(symbol, await self.redis.get(f"pred:{symbol}"))

    async def prediction_from(self, symbol: str, raw: bytes | None) -> Row | None:
        """The hot value ``raw`` of ``pred:{symbol}`` (``live``), or when the flow has not
        written it in the last second the newest prediction in QuestDB."""
        if raw is not None:
            v = json.loads(raw)
            return {
                "symbol": v["symbol"],
                "timestamp": v["timestamp"],
                "model": v["model"],
                "direction": v["direction"],
                "confidence": v["confidence"],
                "live": True,
            }
        rows = await self.predictions([symbol], None, 1)
        return rows[0] | {"live": False} if rows else None

    async def predictions(
        self, symbols: list[str] | None, models: list[str] | None, limit: int
    ) -> list[Row]:
        where = "WHERE 1 = 1" + _in("symbol", symbols) + _in("model", models)
        rows = await self._table_rows(
            f"{self._PRED} {where} ORDER BY ts DESC, symbol, seq DESC LIMIT {int(limit)}"
        )
        return [prediction_row(r) for r in rows]

    async def latest_tick(self, symbol: str) -> Row | None:
        raw = await self.redis.get(f"tick:{symbol}")
        if raw is not None:
            return json.loads(raw) | {"live": True}
        rows = await self.features(symbol, 1)
        return rows[0] | {"live": False} if rows else None

    async def ticks(self, symbol: str, limit: int) -> list[Row]:
        return await self._table_rows(
            "SELECT cast(ts AS LONG) ts_event, symbol, seq, flags, bid_px, bid_sz, ask_px, "
            f"ask_sz, trade_px, trade_sz FROM ticks WHERE symbol = {_q(symbol)} "
            f"ORDER BY ts DESC, seq DESC LIMIT {int(limit)}"
        )

    async def features(self, symbol: str, limit: int) -> list[Row]:
        rows = await self._table_rows(
            f"SELECT * FROM features WHERE symbol = {_q(symbol)} "
            f"ORDER BY ts DESC, seq DESC LIMIT {int(limit)}"
        )
        # ``ts`` as text would lose the nanoseconds' type; the API speaks int ns.
        out = []
        for r in rows:
            r = dict(r)
            r["ts_event"] = _iso_ns(r.pop("ts"))
            out.append(r)
        return out

    async def bars(self, symbol: str, interval_s: int, limit: int) -> list[Row]:
        return await self._table_rows(
            "SELECT * FROM (SELECT cast(ts AS LONG) ts_event, symbol, first(mid) open, "
            "max(mid) high, min(mid) low, last(mid) close, sum(ofi) ofi, count() n_events "
            f"FROM features WHERE symbol = {_q(symbol)} SAMPLE BY {int(interval_s)}s) "
            f"ORDER BY ts_event DESC LIMIT {int(limit)}"
        )

    # --- trading ------------------------------------------------------------------

    async def positions(self, user_id: int) -> dict[str, float]:
        live = await self.redis.hgetall(f"pos:{user_id}")
        if live:
            return {k.decode(): float(v) for k, v in live.items()}
        async with self.pg.connection() as conn:
            cur = await conn.execute(
                "SELECT DISTINCT ON (f.symbol) f.symbol, f.position_after FROM fills f "
                "JOIN orders o USING (client_order_id) WHERE o.user_id = %s "
                "ORDER BY f.symbol, f.ts_event DESC, f.fill_id DESC",
                (user_id,),
            )
            return {s: float(p) for s, p in await cur.fetchall()}

    async def alerts(self, limit: int) -> list[Row]:
        async with self.pg.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(
                "SELECT ts_event, symbol, alert_id, severity, name, message FROM alerts "
                "WHERE run_id = 'live' ORDER BY ts_event DESC, alert_id LIMIT %s",
                (limit,),
            )
            return await cur.fetchall()


def _iso_ns(text: Any) -> int:
    """QuestDB's ``2012-06-21T13:30:00.123456789Z`` -> int ns since the epoch."""
    if isinstance(text, int):
        return text
    from datetime import UTC, datetime

    head, _, frac = str(text).rstrip("Z").partition(".")
    secs = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return int(secs) * 10**9 + int((frac + "000000000")[:9])
