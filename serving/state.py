"""What one app holds: settings, the store, auth helpers, limiter, metrics, fan-out, jobs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from flowsense.settings import Settings
from serving.backtests import Backtests
from serving.metrics import Metrics
from serving.ratelimit import RateLimiter
from serving.security import Crypto, Principal, Tokens
from serving.stores import Store


@dataclass
class AppState:
    settings: Settings
    store: Store
    tokens: Tokens
    metrics: Metrics
    backtests: Backtests
    pool: AsyncConnectionPool | None = None
    """PostgreSQL (users, orders); ``None`` embedded."""
    limiter: RateLimiter | None = None
    local_user: Principal | None = None
    """Embedded: every caller is this user (no accounts without PostgreSQL)."""
    fanout: Any = None
    kafka: Any = None
    tracer: Any = None
    _crypto: Crypto | None = None
    _feast: Any = None
    key_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    KEY_CACHE_S = 10.0
    """API keys are looked up in PostgreSQL at most every 10 s (a revoked key works ≤ 10 s)."""

    def crypto(self) -> Crypto:
        if self._crypto is None:
            from serving.security import fernet_key

            self._crypto = Crypto(fernet_key(self.settings))
        return self._crypto

    def feature_store(self) -> Any:
        """Feast's store of ``flowsense.feature_repo`` (Feast imported on first use)."""
        if self._feast is None:
            from flowsense.feature_repo import feature_store

            self._feast = feature_store(self.settings)
        return self._feast

    def cached_key(self, key: str) -> Principal | None:
        hit = self.key_cache.get(key)
        if hit and time.monotonic() - hit[0] < self.KEY_CACHE_S:
            return hit[1]
        return None

    def cache_key(self, key: str, p: Principal) -> None:
        if len(self.key_cache) > 10_000:
            self.key_cache.clear()
        self.key_cache[key] = (time.monotonic(), p)
