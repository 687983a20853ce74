"""Administration: users, tiers and roles (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import Field

from serving import users
from serving.api.deps import DB, Admin
from serving.api.params import Strict
from serving.security import Role, Tier

router = APIRouter(prefix="/admin", tags=["admin"])


class UserIn(Strict):
    username: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    password: str | None = Field(None, min_length=8, max_length=1000)
    email: str | None = Field(None, max_length=200)
    tier: Tier = Tier.FREE
    role: Role = Role.VIEWER


class UserPatch(Strict):
    tier: Tier | None = None
    role: Role | None = None
    disabled: bool | None = None


@router.get("/users")
async def list_users(admin: Admin, conn: DB) -> list[dict[str, Any]]:
    """Every user (never a password hash)."""
    return await users.list_users(conn)


@router.post("/users", status_code=201)
async def create_user(admin: Admin, conn: DB, body: UserIn) -> dict[str, Any]:
    """A new user with a tier and a role."""
    try:
        p = await users.create_user(
            conn, body.username, body.password, body.tier, body.role, body.email
        )
    except users.UserExistsError as e:
        raise HTTPException(409, str(e)) from None
    return {"user_id": p.user_id, "username": p.username, "tier": p.tier, "role": p.role}


@router.patch("/users/{user_id}", status_code=204)
async def update_user(
    admin: Admin, conn: DB, user_id: Annotated[int, Path(ge=1, le=2**62)], body: UserPatch
) -> None:
    """Change a user's tier, role or disabled flag (tokens already issued keep their claims
    until they expire)."""
    if not await users.update_user(conn, user_id, body.tier, body.role, body.disabled):
        raise HTTPException(404, f"no user {user_id}")
