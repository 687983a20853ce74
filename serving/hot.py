"""The hot read, ``GET /api/v1/predictions/{symbol}``, answered in plain ASGI before FastAPI.

Programs poll this route far more than any other. Through FastAPI it cost ~1.2 ms
of CPU a request here, against ~0.2 ms for uvicorn itself (dependency resolution,
response validation and two Redis round trips; ``benchmarks/RESULTS.md``), which
put 1 000 requests/s out of reach of two shared cores. This middleware answers the
common case itself: a caller known from the caches FastAPI's dependencies fill (an
access token already verified, an API key looked up in the last 10 s), counted
against its tier and its value read in one Redis script, the response written
directly. Everything else (no or unknown credentials, a bad token or symbol,
another method) goes on untouched to the FastAPI route, which stays the documented
one and answers as before; a request is counted once, by whichever answers it.
"""

from __future__ import annotations

import re
from typing import Any

import jwt
from fastapi import HTTPException
from fastapi.exception_handlers import http_exception_handler
from starlette.requests import Request
from starlette.responses import Response

from serving.api.deps import limit_headers, refused
from serving.api.params import NAME_PATTERN, Prediction
from serving.ratelimit import RateLimiter
from serving.security import Principal
from serving.state import AppState
from serving.stores.servers import ServerStore

ROUTE = "/api/v1/predictions/{symbol}"
_PATH = re.compile("/api/v1/predictions/(" + NAME_PATTERN.strip("^$") + ")")


class HotPredictions:
    """ASGI middleware serving ``ROUTE`` for callers it can authenticate without a query."""

    def __init__(self, app: Any, state: AppState, store: ServerStore, limiter: RateLimiter) -> None:
        self.app = app
        self.state = state
        self.store = store
        self.limiter = limiter

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        m = caller = None
        if scope["type"] == "http" and scope["method"] == "GET":
            m = _PATH.fullmatch(scope["path"])
            caller = m and self._caller(scope["headers"])
        if caller is None:
            await self.app(scope, receive, send)
            return
        symbol = m.group(1)
        scope["flowsense.route"] = ROUTE
        tier = str(caller.tier)
        v = await self.limiter.hit(str(caller.user_id), tier, read=f"pred:{symbol}")
        if not v.allowed:
            response = await _error(scope, refused(self.state, tier, v))
        elif (row := await self.store.prediction_from(symbol, v.value)) is None:
            response = await _error(scope, HTTPException(404, f"no prediction for {symbol}"))
        else:
            body = Prediction.model_validate(row).model_dump_json()
            response = Response(body, media_type="application/json", headers=limit_headers(v))
        await response(scope, receive, send)

    def _caller(self, headers: list[tuple[bytes, bytes]]) -> Principal | None:
        """The caller as FastAPI's ``authenticate`` would find it (a bearer token first,
        else an API key), or ``None`` when that needs PostgreSQL or ends in a 401."""
        auth = key = None
        for name, value in headers:  # the first of each, as Starlette's ``headers.get``
            if name == b"authorization" and auth is None:
                auth = value.decode("latin-1")
            elif name == b"x-api-key" and key is None:
                key = value.decode("latin-1")
        scheme, _, token = (auth or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                return self.state.tokens.principal(token)
            except jwt.InvalidTokenError:
                return None
        return self.state.cached_key(key) if key else None


async def _error(scope: dict, exc: HTTPException) -> Response:
    """The response FastAPI's handler gives ``exc`` (``{"detail": ...}`` and its headers)."""
    return await http_exception_handler(Request(scope), exc)
