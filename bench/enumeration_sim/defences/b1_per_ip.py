"""B1, per-IP limits in the style of 2019 importers: one token bucket per client IP address
(not per /24), charged with every identifier in every request, re-sent or not (those
importers kept no per-account seen-set). Value chosen: a burst of 30,000 identifiers (fits
the largest address book, 25,000) refilling at 3,000 an hour (72,000 a day), i.e. "a few
thousand look-ups per IP per hour". All or nothing, like the others; a refusal carries the
wait until the request would fit. Everything `may_find` allows is revealed."""

from __future__ import annotations

from collections.abc import Sequence

from palisade.adapters.limits.counter_store import MemoryCounterStore

from . import Cand, Defence, Outcome, Request, Who, allowed, register

CAPACITY = 30_000
PER_HOUR = 3_000


@register
class PerIp(Defence):
    name = "B1"
    label = f"B1 per-IP bucket {CAPACITY:,} + {PER_HOUR:,}/h"

    def __init__(self) -> None:
        self.store = MemoryCounterStore()

    def needs_every_sync(self, who: Who, book_size: int) -> bool:
        # Every daily sync re-sends the whole book and is charged to the address: on a
        # shared (carrier-NAT) address that changes what the neighbours get. A home address
        # refills completely between two daily syncs, so an empty sync there is a no-op.
        return who.shared_address or book_size > CAPACITY

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        take = self.store.take(f"ip:{who.address}", req.total, CAPACITY, PER_HOUR / 3600.0, now)
        if not take.granted and req.total:
            return Outcome(False, "rate_limited", take.retry_after)
        return Outcome(True, found=allowed(cands))
