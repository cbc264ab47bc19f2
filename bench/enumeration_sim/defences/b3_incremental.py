"""B3, incremental contact discovery (Hagen et al., NDSS 2021): a full sync is limited to
20,000 contacts per 10 days per account (bucket of 20,000 refilling 2,000 a day, charged with
every identifier of a full sync); the daily incremental sync re-sends the book (charged to a
second bucket of 20,000 a day) but is matched only against accounts registered in the last
24 hours; identifiers new to the account in a daily sync (new contacts) get a full look-up,
charged to the full-sync bucket. Everything `may_find` allows among what is matched is
revealed.

Consequence under `mutual_contacts`: a match that becomes allowed later because the other
person synced (has_you) is not matched by an incremental sync unless that person registered
in the last 24 h; it comes back only with the next full sync (a reinstall). Attackers send
full syncs only."""

from __future__ import annotations

from collections.abc import Sequence

from palisade.adapters.limits.counter_store import MemoryCounterStore
from palisade.domain.discovery.discoverability import may_find

from . import Cand, Defence, Outcome, Request, Who, allowed, register

DAY = 86_400.0
FULL_CAPACITY = 20_000
FULL_PERIOD_DAYS = 10
INCREMENTAL_PER_DAY = 20_000
RECENT = DAY


@register
class Incremental(Defence):
    name = "B3"
    label = "B3 incremental discovery (full 20,000/10 d, incremental 20,000/d)"

    def __init__(self) -> None:
        self.store = MemoryCounterStore()

    def needs_every_sync(self, who: Who, book_size: int) -> bool:
        # a daily incremental sync is charged the whole book against 20,000 a day
        return book_size > INCREMENTAL_PER_DAY

    def _take(self, key: str, cost: int, capacity: float, per_day: float, now: float):
        return self.store.take(key, cost, capacity, per_day / DAY, now)

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        acct = who.account
        if req.kind == "full":
            if req.total:
                t = self._take(f"full:{acct}", req.total, FULL_CAPACITY,
                               FULL_CAPACITY / FULL_PERIOD_DAYS, now)
                if not t.granted:
                    return Outcome(False, "rate_limited", t.retry_after)
            return Outcome(True, found=allowed(cands))
        if req.new_count:
            t = self._take(f"full:{acct}", req.new_count, FULL_CAPACITY,
                           FULL_CAPACITY / FULL_PERIOD_DAYS, now)
            if not t.granted:
                return Outcome(False, "rate_limited", t.retry_after)
        if req.total:
            t = self._take(f"inc:{acct}", req.total, INCREMENTAL_PER_DAY, INCREMENTAL_PER_DAY,
                           now)
            if not t.granted:
                return Outcome(False, "rate_limited", t.retry_after)
        recent = now - RECENT
        return Outcome(True, found=[c.pid for c in cands
                                    if (c.is_new or c.registered_at >= recent)
                                    and may_find(c.setting, c.tie)])
