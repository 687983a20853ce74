"""Per-tier rate limits in Redis: a fixed window per user, counted atomically.

One Lua script increments the caller's counter and starts its window on the
first request (``INCR`` + ``PEXPIRE`` in one step, so concurrent API workers
never lose a count or leave a counter without expiry). The window starts at a
user's first request, not at the wall-clock minute, so a user gets exactly
``limit`` requests in any window of theirs.

The script can also read one more key in the same round trip (``hit(read=...)``):
the hot read path counts a request and fetches what it answers with at once.
Both keys must live on one Redis node (a single server here).
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
if #KEYS > 1 then return {n, ttl, redis.call('GET', KEYS[2])} end
return {n, ttl}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    """Seconds until the window ends (at least 1)."""
    value: bytes | None = None
    """The key read with ``hit(read=...)`` (``None``: absent)."""


class RateLimiter:
    def __init__(self, client: aioredis.Redis, limits: dict[str, int], window_s: int) -> None:
        self.client = client
        self.limits = limits
        self.window_ms = window_s * 1000
        self.script = client.register_script(_SCRIPT)

    async def hit(
        self, who: str, tier: str, limit: int | None = None, read: str | None = None
    ) -> Verdict:
        """Count one request of ``who`` (a user id or ``ip:...``) against its tier's limit
        (or ``limit``); ``read``: a key to fetch in the same round trip."""
        limit = limit or self.limits.get(tier, min(self.limits.values()))
        keys = [f"rl:{who}"] if read is None else [f"rl:{who}", read]
        n, ttl, *value = await self.script(keys=keys, args=[self.window_ms])
        n, retry = int(n), max(1, math.ceil(int(ttl) / 1000))
        return Verdict(n <= limit, limit, max(0, limit - n), retry, value[0] if value else None)
