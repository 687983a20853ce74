"""Dependencies shared by the routers (``Annotated`` aliases): state, caller, roles."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection

from serving import users
from serving.ratelimit import Verdict
from serving.security import Principal, Role
from serving.state import AppState

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def get_state(request: Request) -> AppState:
    return request.app.state.flowsense


State = Annotated[AppState, Depends(get_state)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(state: AppState, token: str | None, api_key: str | None) -> Principal:
    """The caller behind a bearer token or an API key (401 if neither is valid)."""
    if state.local_user is not None:
        return state.local_user
    if token:
        try:
            return state.tokens.principal(token)
        except jwt.InvalidTokenError as e:
            raise _unauthorized(f"invalid token: {e}") from None
    if api_key:
        p = state.cached_key(api_key)
        if p is None:
            async with state.pool.connection() as conn:
                p = await users.principal_for_key(conn, api_key)
            if p is None:
                raise _unauthorized("invalid API key")
            state.cache_key(api_key, p)
        return p
    raise _unauthorized("authentication required: a bearer token or an X-API-Key header")


async def rate_limit(
    state: AppState, response: Response | None, who: str, tier: str, limit: int | None = None
) -> None:
    if state.limiter is None:
        return
    v = await state.limiter.hit(who, tier, limit)
    if not v.allowed:
        raise refused(state, tier, v)
    if response is not None:
        response.headers.update(limit_headers(v))


def refused(state: AppState, tier: str, v: Verdict) -> HTTPException:
    """The 429 of a request over its limit (counted in the metrics)."""
    state.metrics.rate_limited.labels(tier).inc()
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"rate limit ({tier}): {v.limit} requests per {state.settings.serve.rate_window_s} s",
        headers={"Retry-After": str(v.retry_after_s), "X-RateLimit-Limit": str(v.limit)},
    )


def limit_headers(v: Verdict) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(v.limit), "X-RateLimit-Remaining": str(v.remaining)}


async def current_user(
    state: State,
    response: Response,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The authenticated caller, counted against its tier's rate limit."""
    p = await authenticate(state, creds.credentials if creds else None, api_key)
    await rate_limit(state, response, str(p.user_id), str(p.tier))
    return p


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(role: Role):
    async def check(user: CurrentUser) -> Principal:
        if not user.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
        return user

    return check


Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


async def db(state: State):
    """A PostgreSQL connection from the pool (503 embedded: no database there).

    Its transaction commits when the route returns, before the response is sent
    (``scope="function"``): a client that acts on a response (a refresh right after
    login) must find what that response promised already in the database."""
    if state.pool is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "needs PostgreSQL: run flowsense serve against the servers, not --embedded",
        )
    async with state.pool.connection() as conn:
        yield conn


DB = Annotated[AsyncConnection, Depends(db, scope="function")]
