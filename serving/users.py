"""Users, API keys, refresh tokens and broker credentials in PostgreSQL (migration 0002).

Every function takes an open async connection, so the API (a pool) and
``flowsense users`` (one connection) share them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row

from serving.security import (
    Principal,
    Role,
    Tier,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)

_USER_COLS = "id, username, tier, role"


def _principal(row: tuple[Any, ...]) -> Principal:
    return Principal(int(row[0]), row[1], Tier(row[2]), Role(row[3]))


class UserExistsError(ValueError):
    pass


async def create_user(
    conn: AsyncConnection,
    username: str,
    password: str | None,
    tier: Tier = Tier.FREE,
    role: Role = Role.VIEWER,
    email: str | None = None,
) -> Principal:
    hashed = await asyncio.to_thread(hash_password, password) if password else None
    try:
        cur = await conn.execute(
            "INSERT INTO users (username, email, tier, role, password_hash) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLS}",
            (username, email, str(tier), str(role), hashed),
        )
    except UniqueViolation:
        raise UserExistsError(f"user {username!r} exists") from None
    return _principal(await cur.fetchone())


async def authenticate(conn: AsyncConnection, username: str, password: str) -> Principal | None:
    cur = await conn.execute(
        f"SELECT {_USER_COLS}, password_hash FROM users WHERE username = %s AND NOT disabled",
        (username,),
    )
    row = await cur.fetchone()
    stored = row[4] if row else None
    # Verify even for an unknown user, so that timing does not tell which names exist.
    ok = await asyncio.to_thread(verify_password, stored or _DUMMY, password)
    return _principal(row) if row and stored and ok else None


_DUMMY = hash_password("not a password of anyone")


async def get_user(conn: AsyncConnection, user_id: int) -> Principal | None:
    cur = await conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE id = %s AND NOT disabled", (user_id,)
    )
    row = await cur.fetchone()
    return _principal(row) if row else None


async def find_user(conn: AsyncConnection, username: str) -> Principal | None:
    cur = await conn.execute(f"SELECT {_USER_COLS} FROM users WHERE username = %s", (username,))
    row = await cur.fetchone()
    return _principal(row) if row else None


async def list_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    cur = await conn.cursor(row_factory=dict_row).execute(
        "SELECT id, username, email, tier, role, disabled, created_at FROM users ORDER BY id"
    )
    return await cur.fetchall()


async def update_user(
    conn: AsyncConnection,
    user_id: int,
    tier: Tier | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> bool:
    sets = {"tier": tier and str(tier), "role": role and str(role), "disabled": disabled}
    sets = {k: v for k, v in sets.items() if v is not None}
    if not sets:
        return await get_user(conn, user_id) is not None
    cols = ", ".join(f"{k} = %s" for k in sets)
    cur = await conn.execute(f"UPDATE users SET {cols} WHERE id = %s", (*sets.values(), user_id))
    return cur.rowcount == 1


async def create_api_key(conn: AsyncConnection, user_id: int, name: str = "") -> dict[str, Any]:
    """A new key for the user: the key itself is in this answer and nowhere else."""
    key, prefix, digest = new_api_key()
    cur = await conn.execute(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES (%s, %s, %s, %s) "
        "RETURNING id, created_at",
        (user_id, name, prefix, digest),
    )
    key_id, created = await cur.fetchone()
    return {"id": key_id, "name": name, "prefix": prefix, "key": key, "created_at": created}


async def list_api_keys(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    cur = await conn.cursor(row_factory=dict_row).execute(
        "SELECT id, name, prefix, created_at, revoked_at FROM api_keys WHERE user_id = %s "
        "ORDER BY id",
        (user_id,),
    )
    return await cur.fetchall()


async def revoke_api_key(conn: AsyncConnection, user_id: int, key_id: int) -> bool:
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() "
        "WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
        (key_id, user_id),
    )
    return cur.rowcount == 1


async def principal_for_key(conn: AsyncConnection, key: str) -> Principal | None:
    cur = await conn.execute(
        "SELECT u.id, u.username, u.tier, u.role FROM api_keys k JOIN users u ON u.id = k.user_id "
        "WHERE k.key_hash = %s AND k.revoked_at IS NULL AND NOT u.disabled",
        (hash_api_key(key),),
    )
    row = await cur.fetchone()
    return _principal(row) if row else None


async def record_refresh(conn: AsyncConnection, jti: str, user_id: int, exp: int) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES (%s, %s, %s)",
        (jti, user_id, datetime.fromtimestamp(exp, UTC)),
    )


async def use_refresh(conn: AsyncConnection, jti: str, user_id: int) -> bool:
    """Spend a refresh token: true once, for an unrevoked, unexpired token of this user."""
    cur = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE jti = %s AND user_id = %s "
        "AND revoked_at IS NULL AND expires_at > now()",
        (jti, user_id),
    )
    return cur.rowcount == 1


async def set_broker_credentials(
    conn: AsyncConnection, user_id: int, broker: str, ciphertext: bytes
) -> None:
    await conn.execute(
        "INSERT INTO broker_credentials (user_id, broker, ciphertext) VALUES (%s, %s, %s) "
        "ON CONFLICT (user_id, broker) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, "
        "updated_at = now()",
        (user_id, broker, ciphertext),
    )


async def broker_credentials(
    conn: AsyncConnection, user_id: int
) -> list[tuple[str, bytes, datetime]]:
    cur = await conn.execute(
        "SELECT broker, ciphertext, updated_at FROM broker_credentials WHERE user_id = %s "
        "ORDER BY broker",
        (user_id,),
    )
    return [(b, bytes(c), t) for b, c, t in await cur.fetchall()]
