"""The synthetic country: numbers, people, their address books, the social graph and the
honest schedule. Built once per benchmark run (deterministic in the seed), then shared
read-only by every simulation run (worker processes are forked after it is built).

Nothing in here is visible to a defence: defences get, per sync, only what the server would
know (an account, an address, the standing facts, the identifiers and the members they
belong to with their ties). Attackers get only what `attackers.base.AttackContext` exposes
(the public numbering plan, their addresses and, for A5, a leaked list).

Modelling choices (each one is a parameter of `WorldParams`):

- **Numbers.** A fictional country, code +99, 9-digit national numbers. Operators hold ranges
  of 100,000 numbers (20 ranges at the standard size) placed at random in 600000000-799999999;
  every number of a range is valid ("allocated"), nothing outside the ranges is. Numbers are
  integers (`99_6xxxxxxxx`); strings are made only for the guard's block/suffix.
- **People.** `people` registered people, each owning one uniformly random valid number (so
  numbers say nothing about who knows whom). 95% registered before day 0 ("pre-installed":
  their books are already synced, ages uniform over 30-1,500 days); 5% join at uniform times
  during the simulated days (register and do their first full sync at once).
- **Address books.** Size: log-normal through the stated quantiles, spliced so that the median
  is 150, the 90th percentile 800 and the 99th 5,000 exactly (sigma 1.31 below p90, 1.75
  above), capped at 25,000 (Google Contacts' limit); about 0.3% of books exceed 10,000. The
  share of a book that is registered is drawn per person from N(0.40, 0.08) clipped to
  [0.10, 0.80]; the rest are valid numbers of people who are not registered.
- **Social graph** over registered people, clustered: people sit on a ring (a proxy for
  geography and social circles); each person initiates about m/(1+q) contacts, 80% of them
  in a window around them on the ring (half-width max(150, 2m) people) and 20% anywhere,
  picked in proportion to the other person's own size (so degrees follow the book sizes);
  an initiated contact is mutual (both books hold the other) with probability
  q = r / (2 - r) = 0.54, which makes about r = 70% of a person's registered contacts have
  that person in their own book. 30% of mutual pairs of pre-installed people are platform
  friends. Joiners make no friendships during the window (conservative for standing).
- **Honest schedule.** Daily syncs at install time + k x 24 h (pre-installed people at a
  uniformly random time of day); each person adds 1-3 new contacts a week (one batch a week
  at a random offset; a contact is registered with the person's own registered share, chosen
  near them on the ring among pre-installed people, and adds them back with probability
  0.7); 3% of pre-installed people reinstall at a uniform time (a full sync of an aged
  account whose seen-set and reveals persist server-side).
- **Addresses.** 2% of people are behind carrier NAT in groups of 100-1,000 per address, the
  NAT addresses of a carrier pool sharing one /24 four at a time (a realistic worst case for
  per-/24 rules); everyone else has a home address, four households per /24.

Only the parts of the graph that the simulation can ever need are stored: full adjacency
(with "the other has me" and friendship flags) for people who do a full sync during the
window (joiners and reinstallers), who has whom for joiners (to re-send a joiner's number
when they register), and for everyone the counts the guard's standing needs (friends, and
known_by = pre-installed people whose book holds them). Cross-duplicates (both sides
initiating the same pair) are merged in stored lists; counts may include them (well under 1%).
"""

from __future__ import annotations

import bisect
import math
import random
import sys
import time
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any

DAY = 86_400.0
WEEK = 7 * DAY
RANGE = 100_000  # numbers per operator range
CC_BASE = 99 * 10**9  # +99 and 9 national digits
NATIONAL_LO, NATIONAL_HI = 600_000_000, 800_000_000
ATTACKER_ADDRESSES = 10_000

SIZES: dict[str, tuple[int, int]] = {
    # name: (valid numbers, registered people)
    "quick": (100_000, 10_000),
    "standard": (2_000_000, 200_000),
    "large": (10_000_000, 1_000_000),
}

# person kinds
PRE, REINSTALLER, JOINER = 0, 1, 2


@dataclass(frozen=True)
class WorldParams:
    size: str = "standard"
    seed: int = 2026
    days: float = 30.0
    joiner_share: float = 0.05
    reinstall_share: float = 0.03
    nat_share: float = 0.02
    nat_group_min: int = 100
    nat_group_max: int = 1_000
    nat_addresses_per_24: int = 4
    homes_per_24: int = 4
    book_median: float = 150.0
    book_p90: float = 800.0
    book_p99: float = 5_000.0
    book_cap: int = 25_000
    member_share: float = 0.40
    member_share_sd: float = 0.08
    reciprocity: float = 0.70
    friend_share: float = 0.30  # of mutual pairs of pre-installed people
    local_share: float = 0.80
    window_people: int = 150
    new_contacts_per_week: tuple[int, int] = (1, 3)
    new_contact_mutual: float = 0.70
    age_days: tuple[float, float] = (30.0, 1_500.0)

    @property
    def numbers(self) -> int:
        return SIZES[self.size][0]

    @property
    def people(self) -> int:
        return SIZES[self.size][1]

    @property
    def scale(self) -> float:
        """Attacker fleets and the leaked list scale with the population (1.0 = standard)."""
        return self.people / SIZES["standard"][1]


def _log(msg: str) -> None:
    print(f"[world] {msg}", file=sys.stderr, flush=True)


class BookSize:
    """Spliced log-normal: exact median, p90 and p99."""

    Z90, Z99 = 1.2815515655446004, 2.3263478740408408

    def __init__(self, median: float, p90: float, p99: float, cap: int) -> None:
        self.ln50, self.ln90 = math.log(median), math.log(p90)
        self.s1 = (self.ln90 - self.ln50) / self.Z90
        self.s2 = (math.log(p99) - self.ln90) / (self.Z99 - self.Z90)
        self.cap = cap

    def draw(self, rng: random.Random) -> int:
        z = rng.gauss(0.0, 1.0)
        ln = self.ln50 + z * self.s1 if z <= self.Z90 else self.ln90 + (z - self.Z90) * self.s2
        return max(1, min(self.cap, int(round(math.exp(ln)))))


@dataclass
class World:
    params: WorldParams
    range_keys: list[int]  # national // RANGE of each operator range
    e164: array  # number index -> e164 integer
    owner: array  # number index -> person or -1
    number_of: array  # person -> number index
    kind: bytearray  # person -> PRE | REINSTALLER | JOINER
    joined_at: array  # person -> join time (0 for pre-installed)
    reinstall_at: dict[int, float]
    phase: array  # person -> time of day of the daily sync (seconds)
    age0: array  # person -> account age in days at t=0 (pre-installed)
    book: array  # person -> address-book size (all entries)
    friends0: array  # person -> friendships
    known_by0: array  # person -> pre-installed people whose synced book holds them at t=0
    nat_group: array  # person -> NAT group or -1
    out_adj: dict[int, tuple[array, bytes]]  # syncer -> (sorted members in book, flags)
    in_adj: dict[int, array]  # syncer -> sorted people whose book holds them
    nonmember_numbers: dict[int, array]  # joiner -> number indices of non-members in book
    events: tuple[array, bytearray, array, array, bytearray]  # t, kind, a, b, flag
    addresses: list[str]  # person -> address
    attacker_addresses: list[str]
    person_keys: list[str]  # person -> "p<id>": their id (also their account's) on the server
    stats: dict[str, Any] = field(default_factory=dict)

    # event kinds in the static stream
    EV_JOIN, EV_REINSTALL, EV_NEWC = 1, 2, 3
    # out_adj flags
    F_BACK, F_FRIEND = 1, 2

    @property
    def people(self) -> int:
        return len(self.number_of)

    def number(self, person: int) -> int:
        return self.e164[self.number_of[person]]

    def index_of(self, e164: int) -> int:
        """Number index of a valid number, or -1 for anything outside the valid ranges."""
        national = e164 - CC_BASE
        if not NATIONAL_LO <= national < NATIONAL_HI:
            return -1
        pos = self._range_pos.get(national // RANGE)
        return -1 if pos is None else pos * RANGE + national % RANGE

    def __post_init__(self) -> None:
        self._range_pos = {k: i for i, k in enumerate(self.range_keys)}

    # --- ground truth for the pieces that need it --------------------------------------------
    def book_has(self, a: int, b: int) -> bool:
        """Did a's address book hold b's number at t=0? Answerable when either is a syncer."""
        out = self.out_adj.get(a)
        if out is not None:
            targets = out[0]
            i = bisect.bisect_left(targets, b)
            return i < len(targets) and targets[i] == b
        inn = self.in_adj.get(b)
        if inn is not None:
            i = bisect.bisect_left(inn, a)
            return i < len(inn) and inn[i] == a
        raise KeyError((a, b))

    def leaked_list(self, size: int, registered_share: float, seed: int) -> list[int]:
        """A past leak: `size` valid numbers, `registered_share` of them belonging to people
        registered before the leak (pre-installed), the rest to people who are not here."""
        rng = random.Random(seed)
        pre = [p for p in range(self.people) if self.kind[p] != JOINER]
        hits = rng.sample(pre, min(len(pre), int(round(size * registered_share))))
        out = [self.number(p) for p in hits]
        n = len(self.e164)
        while len(out) < size:
            i = rng.randrange(n)
            if self.owner[i] < 0:
                out.append(self.e164[i])
        rng.shuffle(out)
        return out

    def summary(self) -> dict[str, Any]:
        return {"params": {k: v for k, v in asdict(self.params).items()}, **self.stats}


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def build_world(params: WorldParams) -> World:
    started = time.perf_counter()
    rng = random.Random(f"world:{params.seed}:{params.size}")
    N, P = params.numbers, params.people
    horizon = params.days * DAY

    # --- numbers and owners ------------------------------------------------------------------
    n_ranges = math.ceil(N / RANGE)
    range_keys = sorted(rng.sample(range(NATIONAL_LO // RANGE, NATIONAL_HI // RANGE),
                                   n_ranges))
    e164 = array("q", bytes(8 * n_ranges * RANGE))
    for r, key in enumerate(range_keys):
        base = CC_BASE + key * RANGE
        e164[r * RANGE:(r + 1) * RANGE] = array("q", range(base, base + RANGE))
    del e164[N:]
    number_of = array("i", rng.sample(range(N), P))
    owner = array("i", [-1]) * N
    for p, i in enumerate(number_of):
        owner[i] = p

    # --- who joins, who reinstalls -------------------------------------------------------------
    kind = bytearray(P)
    joined_at = array("d", bytes(8 * P))
    joiners = rng.sample(range(P), int(round(params.joiner_share * P)))
    for p in joiners:
        kind[p] = JOINER
        joined_at[p] = rng.uniform(0.0, horizon)
    pre = [p for p in range(P) if kind[p] != JOINER]
    reinstall_at: dict[int, float] = {}
    for p in rng.sample(pre, int(round(params.reinstall_share * P))):
        kind[p] = REINSTALLER
        reinstall_at[p] = rng.uniform(0.0, horizon)
    phase = array("d", (rng.uniform(0.0, DAY) for _ in range(P)))
    for p in joiners:
        phase[p] = joined_at[p] % DAY
    lo, hi = params.age_days
    age0 = array("d", (rng.uniform(lo, hi) for _ in range(P)))

    # --- books ---------------------------------------------------------------------------------
    sizes = BookSize(params.book_median, params.book_p90, params.book_p99, params.book_cap)
    book = array("i", (sizes.draw(rng) for _ in range(P)))
    share = array("d", (min(0.8, max(0.1, rng.gauss(params.member_share,
                                                    params.member_share_sd)))
                        for _ in range(P)))
    target_m = [min(P - 1, int(round(book[p] * share[p]))) for p in range(P)]
    _log(f"{N:,} numbers, {P:,} people ({len(joiners):,} joiners, {len(reinstall_at):,} "
         f"reinstallers); drawing the social graph")

    # --- graph -------------------------------------------------------------------------------
    r = params.reciprocity
    q = r / (2.0 - r)
    k = [m / (1.0 + q) for m in target_m]
    cum = array("d", bytes(8 * P))
    acc = 0.0
    for p in range(P):
        acc += k[p]
        cum[p] = acc
    total_k = acc
    mean_k = total_k / P
    friends0 = array("i", bytes(4 * P))
    known_by0 = array("i", bytes(4 * P))
    syncer = kind  # nonzero = joiner or reinstaller
    out_buf: dict[int, array] = {p: array("q") for p in range(P) if syncer[p]}
    in_buf: dict[int, array] = {p: array("i") for p in range(P) if syncer[p]}
    rand = rng.random
    bis = bisect.bisect_right
    local_share, window, fshare = params.local_share, params.window_people, params.friend_share
    last = P - 1
    t0 = time.perf_counter()
    for i in range(P):
        ki = int(k[i] + rand())
        if ki <= 0:
            continue
        half = mean_k * max(window, 2 * target_m[i])
        center = cum[i] - k[i] / 2
        picks: set[int] = set()
        pre_i = kind[i] != JOINER
        sync_i = syncer[i]
        attempts = 2 * ki + 5
        while len(picks) < ki and attempts:
            attempts -= 1
            if rand() < local_share:
                u = (center + (2.0 * rand() - 1.0) * half) % total_k
            else:
                u = rand() * total_k
            j = bis(cum, u)
            if j > last:
                j = last
            if j == i or j in picks:
                continue
            picks.add(j)
            mutual = rand() < q
            friend = 2 if (mutual and rand() < fshare) else 0
            pre_j = kind[j] != JOINER
            # i has j
            if pre_i and pre_j:
                known_by0[j] += 1
            if sync_i:
                out_buf[i].append((j << 2) | friend)
            if syncer[j]:
                in_buf[j].append(i)
            if mutual:  # j has i
                if pre_i and pre_j:
                    known_by0[i] += 1
                    if friend:
                        friends0[i] += 1
                        friends0[j] += 1
                if syncer[j]:
                    out_buf[j].append((i << 2) | friend)
                if sync_i:
                    in_buf[i].append(j)
        if i and i % 200_000 == 0:
            _log(f"graph {i:,}/{P:,} ({time.perf_counter() - t0:.0f} s)")

    out_adj: dict[int, tuple[array, bytes]] = {}
    in_adj: dict[int, array] = {}
    for p, buf in out_buf.items():
        merged: dict[int, int] = {}
        for v in buf:
            j = v >> 2
            merged[j] = merged.get(j, 0) | (v & 2)
        inn = array("i", sorted(set(in_buf[p])))
        in_adj[p] = inn
        inn_set = set(inn)
        targets = sorted(merged)
        flags = bytes((merged[j] | (1 if j in inn_set else 0)) for j in targets)
        out_adj[p] = (array("i", targets), flags)
    del out_buf, in_buf
    for p in out_adj:  # a syncer's book holds at least its registered contacts
        if book[p] < len(out_adj[p][0]):
            book[p] = len(out_adj[p][0])
    for p in joiners:  # nobody's synced book held a joiner's number at t=0
        known_by0[p] = 0
        friends0[p] = 0

    # non-member numbers of joiners' books (for the lookups their first sync sends)
    nonmember_numbers: dict[int, array] = {}
    for p in sorted(joiners):
        need = book[p] - len(out_adj[p][0])
        got = array("i")
        while len(got) < need:
            idx = rng.randrange(N)
            if owner[idx] < 0:
                got.append(idx)
        nonmember_numbers[p] = got

    # --- addresses -----------------------------------------------------------------------------
    order = list(range(P))
    rng.shuffle(order)
    n_nat = int(round(params.nat_share * P))
    nat_group = array("i", [-1]) * P
    addresses: list[str] = [""] * P
    g = 0
    pos = 0
    while pos < n_nat:
        size = min(n_nat - pos, rng.randint(params.nat_group_min, params.nat_group_max))
        pool = g // params.nat_addresses_per_24
        address = f"30.{(pool >> 8) & 255}.{pool & 255}.{10 + g % params.nat_addresses_per_24}"
        for p in order[pos:pos + size]:
            nat_group[p] = g
            addresses[p] = address
        pos += size
        g += 1
    for rank, p in enumerate(order[n_nat:]):
        h = rank // params.homes_per_24
        addresses[p] = f"{20 + (h >> 16)}.{(h >> 8) & 255}.{h & 255}.{10 + rank % params.homes_per_24}"
    attacker_addresses = [f"40.{(i >> 8) & 255}.{i & 255}.7" for i in range(ATTACKER_ADDRESSES)]

    # --- the static event stream: joins, reinstalls, new contacts --------------------------------
    ev: list[tuple[float, int, int, int, int]] = []
    for p in joiners:
        ev.append((joined_at[p], World.EV_JOIN, p, 0, 0))
    for p, t in reinstall_at.items():
        ev.append((t, World.EV_REINSTALL, p, 0, 0))
    lo_c, hi_c = params.new_contacts_per_week
    mutual_p = params.new_contact_mutual
    n_newc = 0
    for p in range(P):
        start = joined_at[p]
        t = start + rng.uniform(0.0, WEEK)
        half = mean_k * max(window, 2 * target_m[p])
        center = cum[p] - k[p] / 2
        while t < horizon:
            for _ in range(rng.randint(lo_c, hi_c)):
                contact = -1
                if rand() < share[p]:
                    for _try in range(4):
                        u = (center + (2.0 * rand() - 1.0) * half) % total_k
                        j = min(last, bis(cum, u))
                        if j != p and kind[j] != JOINER:
                            contact = j
                            break
                if contact >= 0:
                    ev.append((t, World.EV_NEWC, p, contact, 1 if rand() < mutual_p else 0))
                else:
                    while True:
                        idx = rng.randrange(N)
                        if owner[idx] < 0:
                            break
                    ev.append((t, World.EV_NEWC, p, -1 - idx, 0))
                n_newc += 1
            t += WEEK
    ev.sort()
    events = (array("d", (e[0] for e in ev)), bytearray(e[1] for e in ev),
              array("i", (e[2] for e in ev)), array("q", (e[3] for e in ev)),
              bytearray(e[4] for e in ev))
    del ev

    world = World(params=params, range_keys=range_keys, e164=e164, owner=owner,
                  number_of=number_of, kind=kind, joined_at=joined_at,
                  reinstall_at=reinstall_at, phase=phase, age0=age0, book=book,
                  friends0=friends0, known_by0=known_by0, nat_group=nat_group,
                  out_adj=out_adj, in_adj=in_adj, nonmember_numbers=nonmember_numbers,
                  events=events, addresses=addresses, attacker_addresses=attacker_addresses,
                  person_keys=[f"p{p}" for p in range(P)])

    # --- statistics (for the report and for checking the model) ----------------------------------
    books = sorted(book)
    syncers = list(out_adj)
    out_deg = sorted(len(out_adj[p][0]) for p in syncers)
    member_share_obs = sum(len(out_adj[p][0]) for p in syncers) / max(1, sum(book[p]
                                                                           for p in syncers))
    back = sum(sum(f & 1 for f in out_adj[p][1]) for p in syncers)
    reciprocity_obs = back / max(1, sum(out_deg))
    pre_people = [p for p in range(P) if kind[p] != JOINER]
    fr = sorted(friends0[p] for p in pre_people)
    kb = sorted(known_by0[p] for p in pre_people)
    world.stats = {
        "numbers": N, "people": P, "joiners": len(joiners), "reinstallers": len(reinstall_at),
        "nat_people": n_nat, "nat_groups": g,
        "book_p50": _quantile(books, 0.5), "book_p90": _quantile(books, 0.9),
        "book_p99": _quantile(books, 0.99), "book_mean": round(sum(books) / P, 1),
        "books_over_10000": sum(1 for b in books if b > 10_000),
        "member_contacts_p50_syncers": _quantile(out_deg, 0.5),
        "member_contacts_p99_syncers": _quantile(out_deg, 0.99),
        "member_share_syncers": round(member_share_obs, 3),
        "reciprocity_syncers": round(reciprocity_obs, 3),
        "friends_p50": _quantile(fr, 0.5), "friends_mean": round(sum(fr) / len(fr), 1),
        "known_by_p50": _quantile(kb, 0.5), "known_by_p99": _quantile(kb, 0.99),
        "new_contacts": n_newc,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    _log(f"built in {world.stats['build_seconds']} s: book p50/p90/p99 "
         f"{world.stats['book_p50']}/{world.stats['book_p90']}/{world.stats['book_p99']}, "
         f"registered share {member_share_obs:.2f}, reciprocity {reciprocity_obs:.2f}, "
         f"{n_newc:,} new contacts")
    return world
