"""Passwords, tokens, API keys and encrypted broker credentials.

- Passwords: argon2id (``argon2-cffi``), slow on purpose: they are guessable.
- Access and refresh tokens: HS256 JWTs (``pyjwt``). The access token carries
  the user's id, tier and role, so an API call needs no database round trip;
  it is short-lived (``serve.access_ttl_s``) for that reason. Refresh tokens
  are single use: their ``jti`` is recorded and revoked when used.
- API keys: 32 random bytes (256 bits), stored as sha256. A fast hash is right
  here, unlike for passwords: a key is not guessable, so there is nothing for a
  slow hash to slow down, and a fast one lets every request be checked.
- Broker credentials: Fernet (AES-128-CBC + HMAC) with a key from settings,
  Vault, or a development key file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import urllib.request
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from flowsense.settings import Settings

KEY_PREFIX = "fsk_"
ALGORITHM = "HS256"


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


class Tier(StrEnum):
    FREE = "free"
    PRO = "pro"
    INSTITUTIONAL = "institutional"


ROLE_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}
"""Each role may do what the roles below it may do."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user behind a token or an API key."""

    user_id: int
    username: str
    tier: Tier
    role: Role

    def can(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str, str]:
    """``(key, prefix, sha256 hex)`` of a fresh key; only the hash and prefix are stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _dev_secret(settings: Settings, name: str, make) -> str:
    """A development secret kept under the runtime folder (never in the repository).

    Made whole in a file of its own and then hard-linked into place, which fails if
    another API process got there first: every process ends up with the same value,
    and none reads a half-written file."""
    path = Path(settings.runtime_dir) / "serve" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def jwt_secret(settings: Settings) -> str:
    s = settings.serve.jwt_secret
    if s is not None:
        return s.get_secret_value()
    return _dev_secret(settings, "jwt_secret", lambda: secrets.token_urlsafe(48))


def vault_read(addr: str, token: str, path: str, field: str) -> str:
    """One field of a Vault KV v2 secret, over Vault's plain HTTP API.

    Hand-written (a dozen lines) rather than ``hvac``: one GET is all we need.
    """
    req = urllib.request.Request(
        f"{addr.rstrip('/')}/v1/{path.lstrip('/')}", headers={"X-Vault-Token": token}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.loads(resp.read())
    data = body.get("data", {})
    data = data.get("data", data)  # KV v2 nests the secret once more
    if field not in data:
        raise KeyError(f"Vault secret {path} has no field {field!r}")
    return str(data[field])


def fernet_key(settings: Settings) -> str:
    cfg = settings.serve
    if cfg.fernet_key is not None:
        return cfg.fernet_key.get_secret_value()
    if cfg.vault_addr:
        token = cfg.vault_token.get_secret_value() if cfg.vault_token else ""
        return vault_read(cfg.vault_addr, token, cfg.vault_path, "fernet_key")
    return _dev_secret(settings, "fernet_key", lambda: Fernet.generate_key().decode())


class Crypto:
    """Encrypts and decrypts broker credentials (JSON objects)."""

    def __init__(self, key: str) -> None:
        self.fernet = Fernet(key.encode())

    def encrypt(self, data: dict[str, Any]) -> bytes:
        return self.fernet.encrypt(json.dumps(data).encode())

    def decrypt(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self.fernet.decrypt(token))
        except InvalidToken:
            raise ValueError("broker credentials do not decrypt with this key") from None


class Tokens:
    """Issues and checks the JWTs."""

    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self.secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self._checked: dict[str, tuple[float, Principal]] = {}
        """Access tokens already verified, until their expiry: a client sends the same
        token with every request, and verifying it is a fair part of a request's cost."""

    def issue(self, p: Principal, kind: str = "access") -> tuple[str, str, int]:
        """``(token, jti, expiry as epoch seconds)``."""
        now = int(time.time())
        exp = now + (self.access_ttl_s if kind == "access" else self.refresh_ttl_s)
        jti = uuid.uuid4().hex
        claims = {"sub": str(p.user_id), "typ": kind, "iat": now, "exp": exp, "jti": jti}
        if kind == "access":
            claims |= {"name": p.username, "tier": str(p.tier), "role": str(p.role)}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), jti, exp

    def decode(self, token: str, kind: str = "access") -> dict[str, Any]:
        """The claims; ``jwt.InvalidTokenError`` if bad, expired or of the other kind."""
        claims = jwt.decode(
            token, self.secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "typ"]}
        )
        if claims["typ"] != kind:
            raise jwt.InvalidTokenError(f"not an {kind} token")
        return claims

    def principal(self, token: str) -> Principal:
        hit = self._checked.get(token)
        if hit is not None and hit[0] > time.time():
            return hit[1]
        c = self.decode(token)
        try:
            p = Principal(int(c["sub"]), c["name"], Tier(c["tier"]), Role(c["role"]))
        except (KeyError, ValueError) as e:
            raise jwt.InvalidTokenError(f"bad claims: {e}") from None
        if len(self._checked) >= 10_000:
            self._checked.clear()
        self._checked[token] = (float(c["exp"]), p)
        return p
