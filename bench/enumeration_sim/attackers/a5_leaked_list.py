"""A5: 1,000 fresh sybils validating a leaked list (200,000 numbers at the standard size, 60%
of them registered before the leak). Each sybil first uploads a plausible address book (a
size drawn like an honest book, random valid numbers nobody else of the fleet asked for),
then its share of the leaked list in batches (AIMD from 200), each padded 1:1 with further
random valid numbers so that a request's hit rate stays near a real book's (about 35%)."""

from __future__ import annotations

from ..platform import MAX_CONTACTS_PER_SYNC
from .base import Agent, Fleet, TargetQueue, register

LEAK_SIZE = 200_000
LEAK_REGISTERED = 0.60


@register
class LeakedList(Fleet):
    name = "A5"
    label = "A5 1,000 sybils validating a leaked list"
    n_accounts = 1_000
    shares = True
    address_policy = "rotate"
    start_batch = 200
    padding = 1.0  # random valid numbers per leaked number
    max_batch = MAX_CONTACTS_PER_SYNC // 2

    def make_queue(self) -> TargetQueue:
        ctx = self.ctx
        leaked = ctx.leaked(max(1, round(LEAK_SIZE * ctx.scale)), LEAK_REGISTERED)
        self._asked = set(leaked)
        self.queue_order, self.queue_total = leaked.__getitem__, len(leaked)
        return TargetQueue(leaked.__getitem__, 0)  # each sybil validates its own share

    def _random_numbers(self, k: int) -> list[int]:
        valid, rng, asked = self.ctx.valid_numbers, self.ctx.rng, self._asked
        out: list[int] = []
        while len(out) < k:
            n = valid[rng.randrange(len(valid))]
            if n not in asked:
                asked.add(n)
                out.append(n)
        return out

    def book_first(self, ag: Agent, now: float) -> list[int]:
        size = min(MAX_CONTACTS_PER_SYNC, self.ctx.book_size(self.ctx.rng))
        return self._random_numbers(size)

    def next_targets(self, ag: Agent, now: float) -> list[int]:
        if not ag.extra.get("booked"):
            ag.extra["booked"] = True
            ag.extra["request"] = self.book_first(ag, now)
            return ["book"]  # a placeholder target: the request is the book itself
        return super().next_targets(ag, now)

    def compose(self, ag: Agent, targets: list[int], now: float) -> list[int]:
        pad = self._random_numbers(int(len(targets) * self.padding))
        out = targets + pad
        self.ctx.rng.shuffle(out)
        return out

    def retire(self, ag: Agent) -> None:
        if ag.pending == ["book"]:
            ag.pending = None
        super().retire(ag)
