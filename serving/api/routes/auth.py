"""Login, refresh, logout, who am I, and your API keys."""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import Field

from serving import users
from serving.api.deps import DB, CurrentUser, State, rate_limit
from serving.api.params import Strict
from serving.security import Principal

router = APIRouter(tags=["auth"])


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=4000)


class TokensOut(Strict):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class KeyIn(Strict):
    name: str = Field("", max_length=100)


async def _pair(state, conn, p: Principal) -> TokensOut:
    access, _, _ = state.tokens.issue(p, "access")
    refresh, jti, exp = state.tokens.issue(p, "refresh")
    await users.record_refresh(conn, jti, p.user_id, exp)
    return TokensOut(
        access_token=access, refresh_token=refresh, expires_in=state.tokens.access_ttl_s
    )


@router.post("/auth/login", response_model=TokensOut)
async def login(state: State, conn: DB, body: LoginIn, request: Request) -> TokensOut:
    """Username and password -> a short-lived access token and a single-use refresh token.
    Attempts are rate limited per client address (``serve.login_limit``)."""
    host = request.client.host if request.client else "?"
    await rate_limit(state, None, f"login:{host}", "login", state.settings.serve.login_limit)
    p = await users.authenticate(conn, body.username, body.password)
    if p is None:
        raise HTTPException(401, "wrong username or password")
    return await _pair(state, conn, p)


@router.post("/auth/refresh", response_model=TokensOut)
async def refresh(state: State, conn: DB, body: RefreshIn) -> TokensOut:
    """A refresh token (spent now) -> a new pair, with the user's current tier and role."""
    try:
        claims = state.tokens.decode(body.refresh_token, "refresh")
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, KeyError) as e:
        raise HTTPException(401, f"invalid refresh token: {e}") from None
    if not await users.use_refresh(conn, str(claims.get("jti")), user_id):
        raise HTTPException(401, "refresh token used, revoked or expired")
    p = await users.get_user(conn, user_id)
    if p is None:
        raise HTTPException(401, "user disabled")
    return await _pair(state, conn, p)


@router.post("/auth/logout", status_code=204)
async def logout(state: State, conn: DB, body: RefreshIn) -> None:
    """Revoke a refresh token (access tokens expire on their own, within minutes)."""
    try:
        claims = state.tokens.decode(body.refresh_token, "refresh")
        await users.use_refresh(conn, str(claims.get("jti")), int(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError, KeyError):
        pass


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    """Who you are: id, name, tier and role."""
    return {
        "user_id": user.user_id,
        "username": user.username,
        "tier": str(user.tier),
        "role": str(user.role),
    }


@router.post("/keys", status_code=201)
async def create_key(user: CurrentUser, conn: DB, body: KeyIn) -> dict[str, Any]:
    """A new API key for programs (header ``X-API-Key``). Shown once: only its hash is kept."""
    return await users.create_api_key(conn, user.user_id, body.name)


@router.get("/keys")
async def list_keys(user: CurrentUser, conn: DB) -> list[dict[str, Any]]:
    """Your API keys (prefix, name, dates; never the key)."""
    return await users.list_api_keys(conn, user.user_id)


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(
    state: State,
    user: CurrentUser,
    conn: DB,
    key_id: Annotated[int, Path(ge=1, le=2**62)],
) -> None:
    """Revoke one of your keys (effective within 10 s: keys are cached that long)."""
    if not await users.revoke_api_key(conn, user.user_id, key_id):
        raise HTTPException(404, f"no active key {key_id}")
    state.key_cache.clear()
