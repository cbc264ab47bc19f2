"""What an attacker is, what it can see and do, and a reusable adaptive fleet.

An attacker is a black box over the client API (`AttackerAPI`): it registers accounts
(each costs one verification), syncs lists of numbers from an address of its choice, and
re-verifies an account when asked. It sees only responses - accepted or refused, the reason
and `retry_after`, and the numbers that matched - never the defence's limits, the world's
membership or anyone's setting. What it knows beforehand is public: the numbering plan
(valid ranges), its own 10,000 addresses (one per /24, the worst case for per-address
rules), and for A5/A6 a leaked list (`AttackContext.leaked`).

Accounts of one attacker coordinate: a number queried by one is never queried by another
(`TargetQueue`); a batch refused is put back for whoever can send it. Attackers make one
pass over their targets (they do not come back for people registering later).

`Fleet` implements the adaptive behaviour the attackers share (additive-increase /
multiplicative-decrease on the batch size, waiting `retry_after`, re-verifying when asked,
retiring an account that is frozen); each strategy module only sets its parameters and,
where needed, how a request is composed. To add a strategy: one module in this package
with one class decorated with `@register`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from palisade.domain.discovery.discoverability import Discoverability

from ..platform import MAX_CONTACTS_PER_SYNC, Platform
from ..world import CC_BASE

REVERIFY_DELAY = 300.0  # solving a one-time code on the account's own SIM
REQUEST_SECONDS = 1.0  # one request per account per second at most


@dataclass
class Response:
    accepted: bool
    reason: str
    retry_after: float
    matches: list[int]


class AttackerAPI:
    """The client API as an attacker uses it; counts what the attacker spends."""

    def __init__(self, platform: Platform, rng: random.Random) -> None:
        self._pf = platform
        self._rng = rng
        self._numbers: set[int] = set()
        self.verifications = 0
        self.reverifications = 0
        self.requests = 0
        self.sent = 0
        self.refusals: dict[str, int] = {}

    def new_account(self, now: float, age_days: float = 0.0,
                    setting: Discoverability = Discoverability.NOBODY) -> int:
        """A verified account on a fresh number the attacker controls (a SIM or VoIP number
        outside the country's mobile ranges, scattered over many blocks)."""
        while True:
            number = 88 * 10**9 + self._rng.randrange(10**9)
            if number not in self._numbers and not CC_BASE <= number < CC_BASE + 10**9:
                break
        self._numbers.add(number)
        self.verifications += 1
        return self._pf.new_account(number, now, age_days, 0, setting)

    def number_of(self, account: int) -> int:
        return self._pf.accounts[account].number

    def sync(self, account: int, address: str, numbers: Sequence[int], now: float) -> Response:
        self.requests += 1
        self.sent += len(numbers)
        out, matches = self._pf.attacker_sync(account, address, numbers, now)
        if not out.allowed:
            self.refusals[out.reason] = self.refusals.get(out.reason, 0) + 1
        return Response(out.allowed, out.reason, out.retry_after, matches)

    def reverify(self, account: int, now: float) -> None:
        self.reverifications += 1
        self.verifications += 1
        self._pf.reverified(self._pf.accounts[account].key, now)


@dataclass
class AttackContext:
    api: AttackerAPI
    rng: random.Random
    valid_numbers: Sequence[int]  # the public numbering plan, in range order
    addresses: list[str]
    scale: float  # fleet sizes scale with the population (1.0 at the standard size)
    horizon: float
    leaked: Callable[[int, float], list[int]]  # (size, registered share) -> numbers
    book_size: Callable[[random.Random], int]  # plausible address-book sizes


class TargetQueue:
    """Numbers not yet queried by any account of the attacker, in the attacker's order."""

    def __init__(self, order: Callable[[int], int], total: int) -> None:
        self._order = order
        self._next = 0
        self._total = total
        self._back: list[list[int]] = []

    def take(self, k: int) -> list[int]:
        out: list[int] = []
        while self._back and len(out) < k:
            chunk = self._back.pop()
            need = k - len(out)
            out.extend(chunk[:need])
            if len(chunk) > need:
                self._back.append(chunk[need:])
        end = min(self._total, self._next + k - len(out))
        order = self._order
        out.extend(order(i) for i in range(self._next, end))
        self._next = end
        return out

    def put_back(self, numbers: list[int]) -> None:
        if numbers:
            self._back.append(numbers)

    def __len__(self) -> int:
        return sum(map(len, self._back)) + self._total - self._next

    @property
    def empty(self) -> bool:
        return not self._back and self._next >= self._total


def sequential(valid: Sequence[int]) -> Callable[[int], int]:
    return lambda i: valid[i]


def interleaved(valid: Sequence[int], rng: random.Random, block: int = 1000
                ) -> Callable[[int], int]:
    """Consecutive targets fall in different 1,000-number blocks (in random orders)."""
    n_blocks = len(valid) // block
    blocks = list(range(n_blocks))
    rng.shuffle(blocks)
    offsets = list(range(block))
    rng.shuffle(offsets)
    return lambda i: valid[blocks[i % n_blocks] * block + offsets[i // n_blocks]]


@dataclass
class Agent:
    account: int
    batch: int
    address: str = ""
    pending: list[int] | None = None  # a refused batch, to send again
    dead: bool = False
    reverified: int = 0
    extra: dict = field(default_factory=dict)


ATTACKERS: dict[str, type[Attacker]] = {}


def register(cls: type[Attacker]) -> type[Attacker]:
    ATTACKERS[cls.name] = cls
    return cls


class Attacker:
    name = "?"
    label = "?"

    def __init__(self, ctx: AttackContext) -> None:
        self.ctx = ctx

    @property
    def accounts(self) -> int:
        raise NotImplementedError

    def start(self, now: float) -> list[tuple[float, int]]:
        """Initial wake-ups: (time, agent index)."""
        raise NotImplementedError

    def act(self, agent: int, now: float) -> float | None:
        """Do one thing; return when this agent wants to act again (None: never)."""
        raise NotImplementedError


class Fleet(Attacker):
    """Accounts draining a shared target queue with AIMD batch sizes."""

    n_accounts = 1  # at the standard size (scaled unless fixed_fleet)
    fixed_fleet = False
    age_days: tuple[float, float] = (0.0, 0.0)
    address_policy = "rotate"  # single | rotate | fixed
    start_batch = 1_000
    min_batch = 50
    max_batch = MAX_CONTACTS_PER_SYNC
    growth = 2.0  # multiply the batch after an accepted request
    pace = REQUEST_SECONDS  # wait after an accepted request
    order = "interleaved"  # or sequential
    shares = False  # each account works its own slice of the targets (else one shared queue)
    max_reverify = 1_000  # re-verifications per account before retiring it
    stagger = 1.0  # seconds between accounts' first requests

    def __init__(self, ctx: AttackContext) -> None:
        super().__init__(ctx)
        n = self.n_accounts if self.fixed_fleet else max(1, round(self.n_accounts * ctx.scale))
        lo, hi = self.age_days
        self.agents = [Agent(ctx.api.new_account(0.0, ctx.rng.uniform(lo, hi),
                                                 self.account_setting()), self.start_batch)
                       for _ in range(n)]
        for i, ag in enumerate(self.agents):
            ag.extra["index"] = i
            ag.address = (ctx.addresses[0] if self.address_policy == "single"
                          else ctx.addresses[i % len(ctx.addresses)])
        self._rotation = 0
        self.queue = self.make_queue()

    def account_setting(self) -> Discoverability:
        return Discoverability.NOBODY  # sybils do not want to be found

    def make_queue(self) -> TargetQueue:
        valid = self.ctx.valid_numbers
        order = (sequential(valid) if self.order == "sequential"
                 else interleaved(valid, self.ctx.rng))
        if self.shares:  # the shared queue holds only what retired accounts give back
            self.queue_order, self.queue_total = order, len(valid)
            return TargetQueue(order, 0)
        return TargetQueue(order, len(valid))

    @property
    def accounts(self) -> int:
        return len(self.agents)

    def start(self, now: float) -> list[tuple[float, int]]:
        return [(now + i * self.stagger, i) for i in range(len(self.agents))]

    def address_for(self, ag: Agent) -> str:
        if self.address_policy == "rotate":
            self._rotation += 1
            return self.ctx.addresses[self._rotation % len(self.ctx.addresses)]
        return ag.address

    def next_targets(self, ag: Agent, now: float) -> list[int]:
        if self.shares:
            own = ag.extra.get("share")
            if own is None:  # a contiguous slice of the attacker's order
                i, n = ag.extra["index"], len(self.agents)
                lo, hi = self.queue_total * i // n, self.queue_total * (i + 1) // n
                own = ag.extra["share"] = TargetQueue(
                    lambda k, lo=lo: self.queue_order(lo + k), hi - lo)
            got = own.take(ag.batch)
            if got:
                return got
        return self.queue.take(ag.batch)

    def compose(self, ag: Agent, targets: list[int], now: float) -> list[int]:
        """The request actually sent for these targets (A5 pads it)."""
        return targets

    def retire(self, ag: Agent) -> None:
        ag.dead = True
        if ag.pending:
            self.queue.put_back(ag.pending)
            ag.pending = None
        own = ag.extra.pop("share", None)
        if own is not None:  # give the rest of its share to the others
            rest = own.take(1 << 40)
            if rest:
                self.queue.put_back(rest)

    def act(self, agent: int, now: float) -> float | None:
        ag = self.agents[agent]
        if ag.dead:
            return None
        targets = ag.pending if ag.pending else self.next_targets(ag, now)
        if not targets:
            return None
        request = ag.extra.pop("request", None) or self.compose(ag, targets, now)
        resp = self.ctx.api.sync(ag.account, self.address_for(ag), request, now)
        if resp.accepted:
            ag.pending = None
            ag.batch = min(self.max_batch, max(ag.batch + 1, int(ag.batch * self.growth)))
            return now + self.pace
        ag.pending = targets
        ag.extra["request"] = request
        reason, wait = resp.reason, resp.retry_after
        if reason == "frozen" or math.isinf(wait):
            self.retire(ag)
            return None
        if reason == "reverify":
            if ag.reverified >= self.max_reverify:
                self.retire(ag)
                return None
            ag.reverified += 1
            self.ctx.api.reverify(ag.account, now)
            return now + REVERIFY_DELAY
        if reason != "slowed" and len(targets) > self.min_batch:
            # too big for what is left: send half now-ish, give the rest back
            half = max(self.min_batch, len(targets) // 2)
            own = ag.extra.get("share")
            (own if own is not None else self.queue).put_back(targets[half:])
            ag.pending = targets[:half]
            ag.extra.pop("request", None)
            ag.batch = half
            wait = wait * half / len(targets)
        return now + max(self.pace, wait)
