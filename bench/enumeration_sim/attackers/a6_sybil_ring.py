"""A6 (extra, not in the issue): A5 plus a sybil ring. Every sybil's plausible address book
also holds the numbers of all the other sybils of the fleet, so each sybil is in ~1,000
synced books (`known_by` ~ 1,000) before validating the leaked list. Sybils set their own
discoverability to `nobody`, so ring members never spend each other's budgets. Tests whether
standing can be manufactured by accounts vouching for each other."""

from __future__ import annotations

from ..platform import MAX_CONTACTS_PER_SYNC
from .a5_leaked_list import LeakedList
from .base import Agent, register


@register
class SybilRing(LeakedList):
    name = "A6"
    label = "A6 (extra) A5 + sybils in each other's books"

    def start(self, now: float) -> list[tuple[float, int]]:
        self._ring = [self.ctx.api.number_of(ag.account) for ag in self.agents]
        n = len(self.agents)
        # everyone uploads their book (with the ring) first, then validation begins
        return [(now + i * self.stagger, i) for i in range(n)]

    def book_first(self, ag: Agent, now: float) -> list[int]:
        own = self.ctx.api.number_of(ag.account)
        ring = [x for x in self._ring if x != own][:MAX_CONTACTS_PER_SYNC // 2]
        return ring + super().book_first(ag, now)[:MAX_CONTACTS_PER_SYNC - len(ring)]

    def act(self, agent: int, now: float) -> float | None:
        nxt = super().act(agent, now)
        ag = self.agents[agent]
        if not ag.extra.get("waited") and ag.pending is None and not ag.dead:
            # after its book went in, wait until every sybil has uploaded theirs
            ag.extra["waited"] = True
            return max(nxt or now, len(self.agents) * self.stagger + 60.0)
        return nxt
