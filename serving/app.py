"""The ASGI app: FastAPI (REST under ``/api/v1``, GraphQL, ``/metrics``) wrapped by Socket.IO.

``create_app(settings)`` serves the real servers; ``create_app(settings,
embedded=store)`` serves an in-process replay (no accounts then: every
caller is the local ``demo`` trader, so bind it to loopback only).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.responses import Response
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST

from flowsense.settings import Settings
from serving.api import api_router
from serving.api.deps import authenticate
from serving.backtests import Backtests
from serving.fanout import Fanout, KafkaFeed, valid_room
from serving.graphql import graphql_router
from serving.metrics import Metrics, exposition
from serving.security import Principal, Role, Tier, Tokens, jwt_secret
from serving.state import AppState
from serving.stores import Store
from serving.telemetry import tracing

log = logging.getLogger("flowsense.serving")
PREFIX = "/api/v1"
LOCAL_USER = Principal(1, "demo", Tier.INSTITUTIONAL, Role.TRADER)


class Observe:
    """ASGI middleware: request count and duration by route template, a span per request
    when tracing, and an access log line when ``serve.access_log``. Plain ASGI rather
    than ``BaseHTTPMiddleware``, which costs a task and a stream per request."""

    def __init__(self, app: Any, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        span = None
        if self.state.tracer is not None:
            span = self.state.tracer.start_span(
                f"{scope['method']} {scope['path']}",
                context=_incoming_trace(scope),
                kind=SpanKind.SERVER,
            )
        try:
            await self.app(scope, receive, send_status)
        finally:
            path = _route_label(scope)
            elapsed = time.perf_counter() - started
            m = self.state.metrics
            m.requests.labels(scope["method"], path, str(status[0])).inc()
            m.request_seconds.labels(path).observe(elapsed)
            if span is not None:
                span.set_attribute("http.route", path)
                span.set_attribute("http.status_code", status[0])
                span.end()
            if self.state.settings.serve.access_log:
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status[0],
                        "ms": round(elapsed * 1e3, 3),
                    },
                )


def _incoming_trace(scope: dict) -> Any:
    """The caller's trace context (W3C ``traceparent`` header), so the request's span joins
    the caller's trace; ``None``: a new trace."""
    for name, value in scope.get("headers", ()):
        if name == b"traceparent":
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            return TraceContextTextMapPropagator().extract({"traceparent": value.decode()})
    return None


def _route_label(scope: dict) -> str:
    """The route template (``/api/v1/predictions/{symbol}``), never the raw path: a label
    per symbol or id would make the metric's cardinality unbounded."""
    if label := scope.get("flowsense.route"):  # set by the hot path (``serving.hot``)
        return label
    raw = scope["path"]
    route = scope.get("route")
    if raw.startswith(PREFIX) and getattr(route, "path", None):
        return route.path if route.path.startswith(PREFIX) else PREFIX + route.path
    for fixed in ("/graphql", "/metrics", "/docs", "/openapi.json", "/socket.io"):
        if raw.startswith(fixed):
            return fixed
    return "other"


def create_app(
    settings: Settings, embedded: Any = None, tracer_provider: Any = None
) -> socketio.ASGIApp:
    """The whole app. ``embedded``: an ``EmbeddedStore`` fed by a replay in this process;
    ``tracer_provider``: an OpenTelemetry provider for the request spans (default: OTLP
    export when an endpoint is set, else no tracing)."""
    metrics = Metrics(settings.risk.capital)
    pool = limiter = None
    store: Store
    if embedded is None:
        from serving.ratelimit import RateLimiter
        from serving.stores.servers import ServerStore

        server_store = ServerStore(settings)
        store, pool = server_store, server_store.pg
        limiter = RateLimiter(
            server_store.redis,
            settings.serve.rate_limits,
            settings.serve.rate_window_s,
        )
    else:
        store = embedded
    cfg = settings.serve
    state = AppState(
        settings=settings,
        store=store,
        tokens=Tokens(jwt_secret(settings), cfg.access_ttl_s, cfg.refresh_ttl_s),
        metrics=metrics,
        backtests=Backtests(settings, pool),
        pool=pool,
        limiter=limiter,
        local_user=LOCAL_USER if embedded is not None else None,
    )
    provider = tracer_provider or tracing(cfg.otlp_endpoint or settings.tracing.otlp_endpoint)
    if provider is not None:
        state.tracer = provider.get_tracer("flowsense.serving")
    # Several API processes share one socket without sticky sessions: a long-polling
    # client's requests could reach different processes, so only websockets then.
    transports = ["websocket"] if cfg.workers > 1 else ["polling", "websocket"]
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], transports=transports)
    fanout = state.fanout = Fanout(sio, cfg.room_rate_hz, metrics)
    if embedded is not None:

        def feed(table: str, symbol: str, data: Any) -> None:
            fanout.publish(table, symbol, data)
            metrics.outputs.on_table(table, data, time.time() * 1e3)

        embedded.listeners.append(feed)
    elif cfg.kafka_fanout:
        state.kafka = KafkaFeed(settings, fanout, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await store.open()
        task = asyncio.create_task(fanout.run())
        if state.kafka is not None:
            state.kafka.start()
        # What start-up made lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it (~120 ms here, a stall of every request
        # in flight, the worst of the latency tail).
        gc.freeze()
        try:
            yield
        finally:
            task.cancel()
            if state.kafka is not None:
                state.kafka.close()
            state.backtests.close()
            await store.close()
            if provider is not None:
                provider.shutdown()

    app = FastAPI(
        title="FlowSense API",
        version="1",
        description="Predictions, market data, positions, orders and backtests of FlowSense.",
        lifespan=lifespan,
        # ``Observe`` traces and counts requests; FastAPI's own telemetry would look up
        # the global OpenTelemetry providers on every request (~8 % of a request's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.flowsense = state
    app.include_router(api_router, prefix=PREFIX)
    app.include_router(graphql_router(), prefix="/graphql", include_in_schema=False)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        body = exposition(metrics.registry, cfg.workers)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if (cfg.web_dir / "index.html").is_file():
        # Last, at "/": the API, /graphql, /metrics and /docs keep precedence (Socket.IO
        # is answered before FastAPI by the ASGIApp around it).
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=cfg.web_dir, html=True), name="dashboard")
    if embedded is None:
        from serving.hot import HotPredictions

        app.add_middleware(HotPredictions, state=state, store=server_store, limiter=limiter)
    app.add_middleware(Observe, state=state)  # outermost: it also sees the hot route
    _socket_events(sio, state)
    asgi = socketio.ASGIApp(sio, other_asgi_app=app)
    asgi.fastapi = app  # type: ignore[attr-defined]
    asgi.state = state  # type: ignore[attr-defined]
    return asgi


def servers_app() -> socketio.ASGIApp:
    """``create_app`` on the servers with settings from the environment: the factory each
    API process calls when ``flowsense serve --workers N`` runs several."""
    return create_app(Settings())


def _socket_events(sio: socketio.AsyncServer, state: AppState) -> None:
    @sio.event
    async def connect(sid: str, environ: dict, auth: Any) -> bool:
        """Clients authenticate with ``auth={"token": ...}`` or ``{"api_key": ...}``."""
        auth = auth if isinstance(auth, dict) else {}
        try:
            user = await authenticate(state, auth.get("token"), auth.get("api_key"))
        except Exception:
            return False
        await sio.save_session(sid, {"user_id": user.user_id, "role": str(user.role)})
        return True

    @sio.event
    async def subscribe(sid: str, rooms: Any) -> dict[str, Any]:
        """``rooms``: a room name or a list; answers the rooms joined and those refused."""
        names = [rooms] if isinstance(rooms, str) else rooms if isinstance(rooms, list) else []
        ok = [r for r in names[:100] if valid_room(r)]
        for r in ok:
            await sio.enter_room(sid, r)
        return {"joined": ok, "refused": [r for r in names[:100] if r not in ok]}

    @sio.event
    async def unsubscribe(sid: str, rooms: Any) -> dict[str, Any]:
        names = [rooms] if isinstance(rooms, str) else rooms if isinstance(rooms, list) else []
        left = [r for r in names[:100] if isinstance(r, str)]
        for r in left:
            await sio.leave_room(sid, r)
        return {"left": left}
