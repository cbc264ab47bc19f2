"""B2, the Signal-style bucket: per account, a token bucket of 50,000 that refills 6 per
hour, charging only identifiers the account has not sent before (re-syncing a book is
free). All or nothing. Everything `may_find` allows is revealed."""

from __future__ import annotations

from collections.abc import Sequence

from palisade.adapters.limits.counter_store import MemoryCounterStore

from . import Cand, Defence, Outcome, Request, Who, allowed, register

CAPACITY = 50_000
PER_HOUR = 6


@register
class SignalBucket(Defence):
    name = "B2"
    label = f"B2 per-account bucket {CAPACITY:,} + {PER_HOUR}/h, new only"

    def __init__(self) -> None:
        self.store = MemoryCounterStore()

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        if req.new_count:
            take = self.store.take(f"acct:{who.account}", req.new_count, CAPACITY,
                                   PER_HOUR / 3600.0, now)
            if not take.granted:
                return Outcome(False, "rate_limited", take.retry_after)
        return Outcome(True, found=allowed(cands))
