"""Palisade: the server's own `DiscoveryGuard` with the default `DiscoveryLimits()` over a fresh
`MemoryCounterStore`, driven in the order the sync service drives it (see
`palisade.services.discovery.sync`): `admit` charging the new identifiers (refused as a whole),
then `reveal` over the members the rule allows, then `observe` with a `Lookup` (block, last
three digits, allocated, member) per new identifier and the number withheld.

Four shortcuts, exact in their answers (same decisions), all switched off by `--exact-guard`
(`use_exact_guard(True)`); the test checks a quick run against the guard as shipped:

- `MemoryCounterStore` is not swept (see `UnsweptStore`): memory only.
- Window counters (`add`: per-account number blocks and totals, the bulk of the store) are
  kept as one integer per window key, keyed by the key's 64-bit hash, in sorted arrays
  (`packed.CountMap`), instead of a string key and a [count, expiry] list. A window key is
  never read after its window, so the expiry is not needed; two of a run's few million keys
  colliding has a probability below 1e-5.
- Distinct sets (`add_distinct`) of a window that has ended are dropped (simulated time
  never goes back, so they are never read again): the daily per-block sets of number
  suffixes otherwise add up to millions of strings.
- `address_group` (ipaddress parsing, about 30 us a call, made by every `admit`) is a pure
  function; the simulation memoizes it in the guard module's namespace of its own process.

Not modelled from the service: blocks between people (none in the simulated world) and the
persisted level floor (the simulation keeps one store for the whole run, so the guard's own
level is already the persisted one).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence

from palisade.adapters.limits.counter_store import MemoryCounterStore
from palisade.domain.discovery.aggregation import BLOCK_DIGITS, number_block
from palisade.domain.discovery.discoverability import may_find
from palisade.domain.discovery.quotas import DiscoveryLimits, Standing
from palisade.services.discovery import guard as guard_module
from palisade.services.discovery.guard import Candidate, DiscoveryGuard, Lookup, Searcher

from ..packed import CountMap
from . import Cand, Defence, Outcome, Request, Who, register

_ORIGINAL_ADDRESS_GROUP = guard_module.address_group
_EXACT = False


class UnsweptStore(MemoryCounterStore):
    """`MemoryCounterStore` sweeps expired entries every 200,000 new keys by rebuilding its
    dicts, O(live entries) each time: with millions of live per-account and per-block window
    keys that grows quadratically. Sweeping only frees memory (expired entries are never read:
    windowed keys carry their window, values check their expiry), so the simulation, which
    lasts one window, does not sweep. Two window kinds are kept leaner instead:

    - Window counters (`add`): `_window_counts` maps the 64-bit hash of "key@window" to its
      total, packed in a `CountMap` (sorted numpy arrays, about 20 bytes an entry instead of
      a string key and a [count, expiry] list): millions of per-account block counters.
    - Distinct sets (`add_distinct`): `_distinct[window]` holds only the sets of the current
      window index of that window length (`block-numbers:` and `group-accounts:` are daily):
      simulated time never goes back, so a set of an earlier window is never read again and
      is dropped when the next window starts (a step back in time raises instead).
    """

    SWEEP_EVERY = 1 << 62

    def __init__(self) -> None:
        super().__init__()
        self._window_counts = CountMap()
        # window length -> (current window index, key -> members)
        self._distinct: dict[float, tuple[int, dict[str, set[str]]]] = {}

    def add(self, items: Sequence[tuple[str, int]], window: float, now: float) -> list[int]:
        add, suffix = self._window_counts.add, f"@{int(now // window)}"
        return [add(hash(key + suffix), amount) for key, amount in items]

    def add_distinct(self, key: str, members: Iterable[str], window: float,
                     now: float) -> int:
        index = int(now // window)
        current = self._distinct.get(window)
        if current is None or current[0] != index:
            if current is not None and index < current[0]:
                raise RuntimeError("simulated time went back: an old window was dropped")
            current = self._distinct[window] = (index, {})
        sets = current[1]
        members_of = sets.get(key)
        if members_of is None:
            members_of = sets[key] = set()
        members_of.update(members)
        return len(members_of)


def use_exact_guard(exact: bool) -> None:
    """True: the guard exactly as shipped (address_group not memoized, store swept)."""
    global _EXACT
    _EXACT = exact
    guard_module.address_group = (_ORIGINAL_ADDRESS_GROUP if exact else
                                  functools.lru_cache(maxsize=None)(_ORIGINAL_ADDRESS_GROUP))


use_exact_guard(False)


@register
class Palisade(Defence):
    name = "palisade"
    label = "Palisade (DiscoveryGuard, default limits)"
    pacing_reasons = frozenset({"slowed"})

    def __init__(self) -> None:
        self.limits = DiscoveryLimits()
        # a seeded sample of numbers to check for allocation: the same run twice, same table
        rng = random.Random(2026)
        if _EXACT:
            self.guard = DiscoveryGuard(self.limits, MemoryCounterStore(), rng)
        else:
            self.guard = DiscoveryGuard(self.limits, UnsweptStore(), rng)
        self.person_window = self.limits.person_window_days * 86_400.0

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        guard = self.guard
        searcher = Searcher(who.account, who.address,
                            Standing(who.age_days, who.friends, who.known_by))
        admission = guard.admit(searcher, req.new_count, now)
        if not admission.allowed:
            return Outcome(False, admission.reason, admission.retry_after,
                           level=int(admission.level))
        # the service passes only members the rule allows (the guard re-checks anyway)
        allowed = [c for c in cands if may_find(c.setting, c.tie)]
        if allowed:
            by_key = {c.key: c.pid for c in allowed}
            reveal = guard.reveal(searcher, [Candidate(c.key, c.setting, c.tie,
                                                       c.revealed_before, c.hidden)
                                             for c in allowed], now)
            found = [by_key[k] for k in reveal.found]
            if len(found) < len(allowed):
                found_set = set(found)
                withheld = [c.pid for c in allowed if c.pid not in found_set]
            else:
                withheld = []
            overexposed = [by_key[k] for k in reveal.overexposed]
            held = reveal.withheld
        else:
            guard.reveal(searcher, (), now)
            found, withheld, overexposed, held = [], [], [], 0
        lookups = []
        if req.new_count:
            unchecked: list[tuple[Lookup, bool]] = []
            for number, allocated, member in req.lookups():
                value = f"+{number}"
                x = Lookup(number_block(value), value[-BLOCK_DIGITS:], True if member else None,
                           member)
                lookups.append(x)
                if not member:
                    unchecked.append((x, allocated))
            # as the sync service does: only the guard's random sample is checked
            for i in guard.allocation_sample(len(unchecked)):
                x, allocated = unchecked[i]
                x.allocated = allocated
        observation = guard.observe(searcher, lookups, held, now)
        return Outcome(True, found=found, withheld=withheld, overexposed=overexposed,
                       level=int(observation.level))

    def reverified(self, account: str, now: float) -> None:
        self.guard.reverified(account, now)
