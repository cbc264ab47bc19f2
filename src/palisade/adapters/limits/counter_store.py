"""Shared counters for the discovery defences: token buckets, windowed counts, distinct
counts and levels. In-process for the embedded mode and for the benchmark's simulation;
Redis (atomic Lua scripts, pipelines) when several server processes must share one budget.

Time is passed in by the caller (`now`, seconds), never read here, so the simulation can run
30 days in minutes and tests can move a fake clock. Windowed keys carry the window's index,
so expiry in Redis is only garbage collection and never changes a result.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis


@dataclass(frozen=True, slots=True)
class Take:
    granted: int
    retry_after: float  # seconds until the whole cost would fit; 0 when fully granted


class CounterStore(Protocol):
    def take(self, key: str, cost: int, capacity: float, refill_per_second: float,
             now: float, partial: bool = False) -> Take:
        """Token bucket kept as a debt that drains at `refill_per_second`; the capacity may
        change between calls (it follows the account's standing). All or nothing unless
        `partial`, in which case as many tokens as fit are granted."""
        ...

    def add(self, items: Sequence[tuple[str, int]], window: float, now: float) -> list[int]:
        """Add to counters of the current fixed window; returns the new totals."""
        ...

    def add_distinct(self, key: str, members: Iterable[str], window: float,
                     now: float) -> int:
        """Add members to the current window's distinct set; returns its (estimated) size."""
        ...

    def add_distinct_many(self, items: Sequence[tuple[str, Sequence[str]]], window: float,
                          now: float) -> list[int]:
        """`add_distinct` for several keys in one round trip."""
        ...

    def get(self, key: str, now: float) -> int: ...

    def raise_to(self, key: str, value: int, ttl: float | None, now: float) -> int:
        """Set the key to max(current, value) (resetting its lifetime); returns the result."""
        ...

    def put(self, key: str, value: int, ttl: float | None, now: float) -> None: ...

    def first_time(self, key: str, ttl: float, now: float) -> bool:
        """True once per `ttl` for a key (de-duplicates findings and notices)."""
        ...

    def first_time_deferred(self, key: str, ttl: float, now: float) -> Callable[[], bool]:
        """`first_time` with the answer read later (call the result exactly once)."""
        ...


def _window_key(key: str, window: float, now: float) -> str:
    return f"{key}@{int(now // window)}"


class MemoryCounterStore:
    """Single-process store. Expired entries are swept as the store grows."""

    SWEEP_EVERY = 200_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._debts: dict[str, tuple[float, float]] = {}  # key -> (debt, at)
        self._counts: dict[str, list[float]] = {}  # window key -> [value, expires]
        self._sets: dict[str, tuple[set[str], float]] = {}  # window key -> (members, expires)
        self._values: dict[str, tuple[int, float]] = {}  # key -> (value, expires or inf)
        self._writes = 0

    def _maybe_sweep(self, now: float) -> None:
        self._writes += 1
        if self._writes % self.SWEEP_EVERY:
            return
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._sets = {k: v for k, v in self._sets.items() if v[1] > now}
        self._values = {k: v for k, v in self._values.items() if v[1] > now}

    def take(self, key: str, cost: int, capacity: float, refill_per_second: float,
             now: float, partial: bool = False) -> Take:
        with self._lock:
            debt, at = self._debts.get(key, (0.0, now))
            debt = max(0.0, debt - max(0.0, now - at) * refill_per_second)
            room = math.floor(capacity - debt + 1e-9)
            granted = min(cost, max(0, room)) if partial else (cost if cost <= room else 0)
            debt += granted
            self._debts[key] = (debt, now)
        if granted == cost:
            return Take(granted, 0.0)
        missing = debt + (cost - granted) - capacity
        wait = math.inf if refill_per_second <= 0 else max(0.0, missing / refill_per_second)
        return Take(granted, wait)

    def add(self, items: Sequence[tuple[str, int]], window: float, now: float) -> list[int]:
        out = []
        expires = (now // window + 1) * window
        with self._lock:
            for key, amount in items:
                wkey = _window_key(key, window, now)
                entry = self._counts.get(wkey)
                if entry is None:
                    entry = self._counts[wkey] = [0, expires]
                    self._maybe_sweep(now)
                entry[0] += amount
                out.append(int(entry[0]))
        return out

    def add_distinct(self, key: str, members: Iterable[str], window: float,
                     now: float) -> int:
        with self._lock:
            wkey = _window_key(key, window, now)
            entry = self._sets.get(wkey)
            if entry is None:
                entry = self._sets[wkey] = (set(), (now // window + 1) * window)
                self._maybe_sweep(now)
            entry[0].update(members)
            return len(entry[0])

    def add_distinct_many(self, items: Sequence[tuple[str, Sequence[str]]], window: float,
                          now: float) -> list[int]:
        return [self.add_distinct(key, members, window, now) for key, members in items]

    def _value(self, key: str, now: float) -> int:
        value, expires = self._values.get(key, (0, math.inf))
        return 0 if expires <= now else value

    def get(self, key: str, now: float) -> int:
        with self._lock:
            return self._value(key, now)

    def raise_to(self, key: str, value: int, ttl: float | None, now: float) -> int:
        with self._lock:
            new = max(self._value(key, now), value)
            self._values[key] = (new, now + ttl if ttl else math.inf)
            return new

    def put(self, key: str, value: int, ttl: float | None, now: float) -> None:
        with self._lock:
            self._values[key] = (value, now + ttl if ttl else math.inf)

    def first_time(self, key: str, ttl: float, now: float) -> bool:
        with self._lock:
            if self._value(key, now):
                return False
            self._values[key] = (1, now + ttl)
            self._maybe_sweep(now)
            return True

    def first_time_deferred(self, key: str, ttl: float, now: float) -> Callable[[], bool]:
        first = self.first_time(key, ttl, now)
        return lambda: first


# KEYS[1] bucket; ARGV: cost, capacity, refill/s, now, partial(0/1), ttl_ms
_TAKE = """
local state = redis.call('HMGET', KEYS[1], 'debt', 'at')
local cost, capacity, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local debt, at = tonumber(state[1]) or 0, tonumber(state[2]) or now
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
debt = debt - elapsed * rate
if debt < 0 then debt = 0 end
local room = math.floor(capacity - debt + 1e-9)
if room < 0 then room = 0 end
local granted = 0
if ARGV[5] == '1' then granted = math.min(cost, room) elseif cost <= room then granted = cost end
debt = debt + granted
redis.call('HSET', KEYS[1], 'debt', tostring(debt), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {granted, tostring(debt)}
"""

# KEYS[1] key; ARGV: value, ttl_ms (0 = none)
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1])) or 0
local value = math.max(current, tonumber(ARGV[1]))
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], value)
end
return value
"""


# KEYS: window counters; ARGV: one amount per key, then ttl_ms. One call for a whole sync's
# counters (a 1,000-number book touches hundreds of number blocks), not two commands a key.
_ADD = """
local ttl = ARGV[#KEYS + 1]
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('INCRBY', key, ARGV[i])
  redis.call('PEXPIRE', key, ttl)
end
return out
"""

# KEYS: HyperLogLogs; ARGV: ttl_ms, then per key: n, then its n members
_ADD_DISTINCT = """
local ttl = ARGV[1]
local out = {}
local j = 2
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[j])
  if n > 0 then
    redis.call('PFADD', key, unpack(ARGV, j + 1, j + n))
    redis.call('PEXPIRE', key, ttl)
  end
  j = j + n + 1
  out[i] = redis.call('PFCOUNT', key)
end
return out
"""


class RedisCounterStore:
    """The same operations on Redis, so every server process shares one state."""

    def __init__(self, client: redis.Redis, prefix: str = "palisade:discovery:") -> None:
        self._r = client
        self._p = prefix
        self._take = client.register_script(_TAKE)
        self._raise = client.register_script(_RAISE)
        self._add = client.register_script(_ADD)
        self._add_distinct = client.register_script(_ADD_DISTINCT)

    def take(self, key: str, cost: int, capacity: float, refill_per_second: float,
             now: float, partial: bool = False) -> Take:
        horizon = capacity / refill_per_second if refill_per_second > 0 else 86_400 * 365
        ttl_ms = int(min(horizon, 86_400 * 365) * 1000) + 60_000
        granted, debt = self._take(keys=[self._p + key],
                                   args=[cost, repr(float(capacity)),
                                         repr(float(refill_per_second)), repr(float(now)),
                                         1 if partial else 0, ttl_ms])
        granted = int(granted)
        if granted == cost:
            return Take(granted, 0.0)
        missing = float(debt) + (cost - granted) - capacity
        wait = math.inf if refill_per_second <= 0 else max(0.0, missing / refill_per_second)
        return Take(granted, wait)

    def add(self, items: Sequence[tuple[str, int]], window: float, now: float) -> list[int]:
        if not items:
            return []
        keys = [self._p + _window_key(key, window, now) for key, _ in items]
        args = [amount for _, amount in items] + [int(window * 2 * 1000)]
        return [int(v) for v in self._add(keys=keys, args=args)]

    def add_distinct(self, key: str, members: Iterable[str], window: float,
                     now: float) -> int:
        members = list(members)
        wkey = self._p + _window_key(key, window, now)
        pipe = self._r.pipeline(transaction=False)
        if members:
            pipe.pfadd(wkey, *members)
            pipe.pexpire(wkey, int(window * 2 * 1000))
        pipe.pfcount(wkey)
        return int(pipe.execute()[-1])

    def add_distinct_many(self, items: Sequence[tuple[str, Sequence[str]]], window: float,
                          now: float) -> list[int]:
        if not items:
            return []
        keys = [self._p + _window_key(key, window, now) for key, _ in items]
        args: list[object] = [int(window * 2 * 1000)]
        for _, members in items:
            args.append(len(members))
            args.extend(members)
        return [int(v) for v in self._add_distinct(keys=keys, args=args)]

    def get(self, key: str, now: float) -> int:
        value = self._r.get(self._p + key)
        return int(value) if value is not None else 0

    def raise_to(self, key: str, value: int, ttl: float | None, now: float) -> int:
        return int(self._raise(keys=[self._p + key],
                               args=[value, int(ttl * 1000) if ttl else 0]))

    def put(self, key: str, value: int, ttl: float | None, now: float) -> None:
        self._r.set(self._p + key, value, px=int(ttl * 1000) if ttl else None)

    def first_time(self, key: str, ttl: float, now: float) -> bool:
        return bool(self._r.set(self._p + key, 1, nx=True, px=int(ttl * 1000)))

    def first_time_deferred(self, key: str, ttl: float, now: float) -> Callable[[], bool]:
        """`first_time`, with the answer read later: the command is sent now and its round
        trip overlaps whatever the caller does meanwhile (the DPoP replay check runs beside
        the token look-up). The returned function must be called once; it frees the
        connection."""
        pool = self._r.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command("SET", self._p + key, 1, "NX", "PX", int(ttl * 1000))
        except BaseException:
            conn.disconnect()
            pool.release(conn)
            raise

        def answer() -> bool:
            try:
                return conn.read_response() is not None
            except BaseException:
                conn.disconnect()  # a half-read reply must not be handed to the next user
                raise
            finally:
                pool.release(conn)

        return answer
