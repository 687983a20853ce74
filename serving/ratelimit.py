"""Per-tier rate limits in Redis: a fixed window per user, counted atomically.

One Lua script increments the caller's counter and starts its window on the
first request (``INCR`` + ``PEXPIRE`` in one step, so concurrent API workers
never lose a count or leave a counter without expiry). The window starts at a
user's first request, not at the wall-clock minute, so a user gets exactly
``limit`` requests in any window of theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio as aioredis

_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    """Seconds until the window ends (at least 1)."""


class RateLimiter:
    def __init__(self, client: aioredis.Redis, limits: dict[str, int], window_s: int) -> None:
        self.client = client
        self.limits = limits
        self.window_ms = window_s * 1000
        self.script = client.register_script(_SCRIPT)

    async def hit(self, who: str, tier: str, limit: int | None = None) -> Verdict:
        """Count one request of ``who`` (a user id or ``ip:...``) against its tier's limit
        (or ``limit``)."""
        limit = limit or self.limits.get(tier, min(self.limits.values()))
        n, ttl = await self.script(keys=[f"rl:{who}"], args=[self.window_ms])
        retry = max(1, math.ceil(int(ttl) / 1000))
        return Verdict(int(n) <= limit, limit, max(0, limit - int(n)), retry)
