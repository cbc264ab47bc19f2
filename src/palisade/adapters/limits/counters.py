"""Fixed-window rate-limit counters: in-process for the embedded mode, Redis for production.

Both implement `hit(key, limit, window_seconds) -> LimitVerdict`. The Redis one runs one Lua
script per hit (INCR + PEXPIRE, atomic on the server), so several server processes share a
single budget instead of each granting its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets; 0 when allowed


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> LimitVerdict: ...


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)

    def hit(self, key: str, limit: int, window_seconds: int) -> LimitVerdict:
        now = self._clock()
        with self._lock:
            end, count = self._windows.get(key, (0.0, 0))
            if now >= end:
                end, count = now + window_seconds, 0
                if len(self._windows) > 100_000:  # drop dead windows so memory stays bounded
                    self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            count += 1
            self._windows[key] = (end, count)
        allowed = count <= limit
        return LimitVerdict(allowed, count, 0 if allowed else max(1, int(end - now + 0.999)))


_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "palisade:limit:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_HIT_SCRIPT)

    def hit(self, key: str, limit: int, window_seconds: int) -> LimitVerdict:
        count, ttl_ms = self._script(keys=[self._prefix + key], args=[window_seconds * 1000])
        allowed = int(count) <= limit
        return LimitVerdict(allowed, int(count), 0 if allowed else max(1, (int(ttl_ms) + 999) // 1000))
