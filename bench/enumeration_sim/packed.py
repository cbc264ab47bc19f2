"""Compact containers for the simulation's large, grow-only state (memory only: every answer
is the one a Python set or dict would give).

A Python set of ints costs about 75-90 bytes an element (a 32-byte int object and a hash
slot at most 2/3 full); a dict of int to int about 100. The simulated server holds tens of
millions of such elements at `--size large` (synced-book edges and people shown: 4 and 5
million at the standard size, five times that at the large one; the guard's window
counters: 5.6 million), so the biggest ones are packed:

- `PairSet`: a grow-only set of id pairs, grouped by the first id in sorted `array("i")`s
  (4 bytes a pair, plus about 150 bytes for each first id).
- `IntSet`: a grow-only set of non-negative ints (an attacker account's seen numbers) in a
  sorted int64 numpy array with a bit filter (about 15 bytes an element).
- `CountMap`: int keys to int totals, add-only, in sorted int64 numpy arrays (about 20
  bytes an entry).

`IntSet` and `CountMap` keep their recent additions in a small Python set/dict and merge
them into the sorted arrays when that grows past a sixteenth of the packed part (a linear
`np.insert`, so the work stays near-linear overall); a lookup checks the recent part, then
binary-searches the packed part.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

import numpy as np

MIN_MERGE = 1 << 15  # recent additions kept before the first merge


class PairSet:
    """Grow-only set of pairs (a, b) of non-negative ids below 2**31 (`add`, `has`, `len`),
    grouped by `a`: `_by_first[a]` is a sorted `array("i")` of a's partners (4 bytes each),
    or, once it holds more than `BIG` of them (an attacker account shown 100,000 people), a
    Python set, so that inserting stays cheap. Most `a` hold a few dozen partners, so a
    lookup is a dict look-up and a short binary search.
    """

    BIG = 4_096
    __slots__ = ("_by_first", "_n")

    def __init__(self) -> None:
        self._by_first: dict[int, array | set[int]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def has(self, a: int, b: int) -> bool:
        xs = self._by_first.get(a)
        if xs is None:
            return False
        if type(xs) is set:
            return b in xs
        i = bisect_left(xs, b)
        return i < len(xs) and xs[i] == b

    def add(self, a: int, b: int) -> bool:
        """Adds (a, b); True if it was not there yet."""
        xs = self._by_first.get(a)
        if xs is None:
            self._by_first[a] = array("i", (b,))
        elif type(xs) is set:
            if b in xs:
                return False
            xs.add(b)
        else:
            i = bisect_left(xs, b)
            if i < len(xs) and xs[i] == b:
                return False
            if len(xs) < self.BIG:
                xs.insert(i, b)
            else:
                big = self._by_first[a] = set(xs)
                big.add(b)
        self._n += 1
        return True


class IntSet:
    """Grow-only set of non-negative ints below 2**63 (`add`, `update`, `in`, `len`); no
    iteration (nothing in the simulation iterates these).

    `_old`: sorted int64 array of the members merged so far (8 bytes each).
    `_new`: Python set of the members added since the last merge (a sixteenth at most).
    `_bits`: a bit filter over every member, bit `k % (_m - 1)` set, 16 to 32 bits a member:
    most lookups in the simulation are misses, and a clear bit answers them without the
    binary search (about 0.1 us instead of 1 us).
    """

    __slots__ = ("_old", "_new", "_bits", "_m")

    def __init__(self) -> None:
        self._old = np.empty(0, dtype=np.int64)
        self._new: set[int] = set()
        self._m = 1 << 10
        self._bits = bytearray(self._m >> 3)

    def __len__(self) -> int:
        return len(self._old) + len(self._new)

    def __contains__(self, k: int) -> bool:
        h = k % (self._m - 1)
        if not self._bits[h >> 3] >> (h & 7) & 1:
            return False
        if k in self._new:
            return True
        old = self._old
        i = int(old.searchsorted(k))
        return i < len(old) and int(old[i]) == k

    def add(self, k: int) -> bool:
        """Adds k; True if it was not a member yet."""
        if k in self:
            return False
        new = self._new
        new.add(k)
        h = k % (self._m - 1)
        self._bits[h >> 3] |= 1 << (h & 7)
        n_old = len(self._old)
        if len(new) > max(MIN_MERGE, n_old >> 4):
            self._merge()
        if (n_old + len(new)) * 16 > self._m:
            self._grow()
        return True

    def update(self, ks: Iterable[int]) -> None:
        for k in ks:
            self.add(k)

    def _merge(self) -> None:
        new = np.fromiter(self._new, dtype=np.int64, count=len(self._new))
        new.sort()
        old = self._old
        self._old = np.insert(old, old.searchsorted(new), new)
        self._new = set()

    def _grow(self) -> None:
        """A filter of at least 32 bits a member, rebuilt from every member."""
        n = len(self)
        m = self._m
        while n * 32 > m:
            m <<= 1
        self._m = m
        keys = self._old
        if self._new:
            keys = np.concatenate([keys, np.fromiter(self._new, dtype=np.int64,
                                                     count=len(self._new))])
        self._bits = bytearray(_bit_filter(keys, m))


def _bit_filter(keys: np.ndarray, m: int) -> bytes:
    """The filter bytes for `keys`: bit `k % (m - 1)` set for every key (little-endian bits)."""
    flags = np.zeros(m, dtype=bool)
    flags[keys % (m - 1)] = True
    return np.packbits(flags, bitorder="little").tobytes()


class CountMap:
    """Add-only map of int keys to int totals: `add(key, amount)` returns the new total.

    `_keys`/`_vals`: sorted int64 keys merged so far and their totals (16 bytes an entry).
    `_new`: Python dict of the keys first seen since the last merge (small).
    """

    __slots__ = ("_keys", "_vals", "_new")

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self._vals = np.empty(0, dtype=np.int64)
        self._new: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._new)

    def add(self, key: int, amount: int) -> int:
        new = self._new
        value = new.get(key)
        if value is not None:
            value += amount
            new[key] = value
            return value
        keys = self._keys
        i = int(keys.searchsorted(key))
        if i < len(keys) and int(keys[i]) == key:
            value = int(self._vals[i]) + amount
            self._vals[i] = value
            return value
        new[key] = amount
        if len(new) > max(MIN_MERGE, len(keys) >> 4):
            self._merge()
        return amount

    def _merge(self) -> None:
        n = len(self._new)
        nk = np.fromiter(self._new.keys(), dtype=np.int64, count=n)
        nv = np.fromiter(self._new.values(), dtype=np.int64, count=n)
        order = nk.argsort()
        nk, nv = nk[order], nv[order]
        pos = self._keys.searchsorted(nk)
        self._keys = np.insert(self._keys, pos, nk)
        self._vals = np.insert(self._vals, pos, nv)
        self._new = {}
