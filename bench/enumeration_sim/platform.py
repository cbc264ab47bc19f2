"""The simulated server: the state the real sync service keeps, and one `submit` that mirrors
`palisade.services.discovery.sync.Discovery.sync` for whichever defence is plugged in.

Per sync: (1) the seen-set says which identifiers are new (for honest accounts this is
implicit: everything in the book was sent at install and only new contacts are new since;
attacker accounts have explicit seen-sets); (2) the defence admits or refuses the whole
request; (3) every member behind an identifier becomes a candidate with its setting and tie
(friend; has_you = the member's own synced book holds the searcher; revealed before; hidden
from strangers if reported overexposed within the person window); the defence reveals;
(4) on an admitted sync the searcher's synced book gains every member of the request (the
server keeps member edges only, never other identifiers), which may give them `has_you`
toward the searcher and, if the searcher vouches (`DiscoveryLimits.vouches`: an account at
least 30 days old or established), raises their `known_by`; edges of a searcher who could
not vouch count from its first sync at which it can; (5) the defence's detectors see the new
identifiers (inside `Defence.sync`).

State is shared by the honest model and the attacker of the same run (one server), so the
only couplings between them are the real ones: synced edges (known_by) and, for Palisade,
per-person overexposure. Accounts and addresses never overlap.

Ids: honest people are 0..P-1; attacker accounts P, P+1, ...; sets of pairs (a, b) are
`packed.PairSet`s (grouped by a, compact: tens of millions of pairs at --size large).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from palisade.domain.discovery.discoverability import Discoverability, Tie
from palisade.domain.discovery.quotas import DiscoveryLimits, Standing

from .defences import Cand, Defence, Outcome, Request, Who
from .packed import IntSet, PairSet
from .world import JOINER, World

MAX_CONTACTS_PER_SYNC = 10_000  # palisade.domain.discovery.address_book: the server refuses more
NEVER = -1e18

LIMITS = DiscoveryLimits()  # the server's rule for who vouches (standing facts, not a defence)

# TIES[friend][has_you]
TIES = [[Tie(friend=f, friend_of_friend=False, has_you=h, blocked=False) for h in (False, True)]
        for f in (False, True)]


@dataclass(slots=True)
class AttackerAccount:
    id: int
    key: str
    number: int
    created: float
    age0: float
    friends: int
    seen: IntSet  # every number this account sent (packed: A1 sends millions)


class Platform:
    def __init__(self, world: World, setting: Discoverability, defence: Defence,
                 max_attacker_accounts: int) -> None:
        P = world.people
        self.world = world
        self.P = P
        self.setting = setting
        self.defence = defence
        self.member = bytearray(0 if world.kind[p] == JOINER else 1 for p in range(P))
        self.registered_at = array("d", (world.joined_at[p] if world.kind[p] == JOINER
                                         else NEVER for p in range(P)))
        self.known_by = array("i", world.known_by0)
        self.known_by.extend(array("i", bytes(4 * max_attacker_accounts)))
        # The pair sets below are the bulk of a run's state (tens of millions of pairs at
        # --size large) and are only added to and asked about: packed (see packed.PairSet).
        self.synced = PairSet()  # dynamic synced-book edges (a's book holds b)
        self.unvouched: dict[int, list[int]] = {}  # owner -> contacts its edges do not count for
        self.shown = PairSet()  # (searcher, person) revealed during the run
        # person -> (from, until): hidden from strangers (reported overexposed at `from`)
        self.hidden: dict[int, tuple[float, float]] = {}
        self.hidden_log: list[tuple[int, float]] = []  # (person, from), for replays
        self.keys = world.person_keys
        self.book_extra = PairSet()  # (a, b): a added b as a new contact in the run
        self.window = getattr(defence, "person_window", 30 * 86_400.0)
        self.on_new_edge: Callable[[int, int], None] | None = None
        # Shadow defences (honest runs of the baselines): each sees every request the
        # primary defence sees; the first time one would answer differently it is marked
        # diverged and dropped. A shadow that never diverged saw exactly the run it would
        # have had alone, so the primary's honest results are its own (see runner.py).
        self.shadows: list[Defence] = []
        self.diverged: set[str] = set()
        # attacker side
        self.accounts: dict[int, AttackerAccount] = {}
        self.account_by_number: dict[int, int] = {}
        self.attacker_settings: dict[int, Discoverability] = {}
        self.harvested: set[int] = set()
        self.requests = 0

    # --- facts ----------------------------------------------------------------------------------
    def book_has(self, a: int, b: int) -> bool:
        """Does a's address book hold b's number (at t=0, or added during the run)?"""
        if self.book_extra.has(a, b):
            return True
        if a >= self.P or b >= self.P:
            return False
        try:
            return self.world.book_has(a, b)
        except KeyError:
            return False  # two people outside every full sync: new contacts are new pairs

    def cand(self, s: int, m: int, now: float, static_has: bool = False, friend: bool = False,
             static_shown: bool = False, is_new: bool = False) -> Cand:
        has = static_has or self.synced.has(m, s)
        h = self.hidden.get(m)
        hidden = h is not None and h[0] <= now < h[1]
        shown = static_shown or self.shown.has(s, m)
        if m < self.P:
            return Cand(m, self.keys[m], self.setting, TIES[friend][has], shown, hidden,
                        self.registered_at[m], is_new)
        acct = self.accounts[m]
        return Cand(m, acct.key, self.attacker_settings.get(m, Discoverability.NOBODY),
                    TIES[friend][has], shown, hidden, acct.created, is_new)

    def replay_hidden(self, log: Sequence[tuple[int, float]]) -> None:
        """Hide people from strangers at the times another run (the honest traffic) did."""
        for person, start in log:
            self.hidden[person] = (start, start + self.window)

    def add_edge(self, a: int, b: int, vouches: bool = True) -> None:
        if not self.synced.add(a, b):
            return  # already there
        if vouches:
            self.known_by[b] += 1
        else:
            self.unvouched.setdefault(a, []).append(b)
        if self.on_new_edge is not None:
            self.on_new_edge(a, b)

    # --- one sync -----------------------------------------------------------------------------------
    def submit(self, searcher: int, who: Who, req: Request, cands: Sequence[Cand],
               record: Sequence[int], now: float) -> Outcome:
        """`record`: the members whose edge from the searcher is not already in the synced book
        (the caller leaves out day-0 edges, which are counted in known_by already)."""
        self.requests += 1
        out = self.defence.sync(who, req, cands, now)
        for shadow in self.shadows:
            if shadow.name not in self.diverged and _answer(shadow.sync(who, req, cands, now)) \
                    != _answer(out):
                self.diverged.add(shadow.name)
        if out.allowed:
            vouches = LIMITS.vouches(Standing(who.age_days, who.friends, who.known_by))
            if vouches and searcher in self.unvouched:
                for m in self.unvouched.pop(searcher):
                    self.known_by[m] += 1
            for m in record:
                self.add_edge(searcher, m, vouches)
            shown = self.shown
            for m in out.found:
                shown.add(searcher, m)
            if out.overexposed:
                until = now + self.window
                for m in out.overexposed:
                    self.hidden[m] = (now, until)
                    self.hidden_log.append((m, now))
        return out

    def reverified(self, account: str, now: float) -> None:
        self.defence.reverified(account, now)
        for shadow in self.shadows:
            shadow.reverified(account, now)

    def needs_every_sync(self, who: Who, book_size: int) -> bool:
        answer = self.defence.needs_every_sync(who, book_size)
        for shadow in self.shadows:
            if shadow.needs_every_sync(who, book_size) != answer:
                self.diverged.add(shadow.name)
        return answer

    # --- attacker accounts ----------------------------------------------------------------------------
    def new_account(self, number: int, now: float, age_days: float = 0.0, friends: int = 0,
                    setting: Discoverability = Discoverability.NOBODY) -> int:
        aid = self.P + len(self.accounts)
        if aid - self.P >= len(self.known_by) - self.P:
            raise RuntimeError("too many attacker accounts")
        self.accounts[aid] = AttackerAccount(aid, f"x{aid - self.P}", number, now, age_days,
                                             friends, IntSet())
        self.account_by_number[number] = aid
        self.attacker_settings[aid] = setting
        return aid

    def attacker_sync(self, aid: int, address: str, numbers: Sequence[int], now: float
                      ) -> tuple[Outcome, list[int]]:
        acct = self.accounts[aid]
        world = self.world
        owner, member, index_of = world.owner, self.member, world.index_of
        seen = acct.seen
        unique: list[int] = []
        dedupe: set[int] = set()
        new: list[tuple[int, bool, bool]] = []
        cands: list[Cand] = []
        record: list[int] = []
        for n in numbers:
            if n in dedupe:
                continue
            dedupe.add(n)
            unique.append(n)
            idx = index_of(n)
            m = -1
            if idx >= 0:
                p = owner[idx]
                if p >= 0 and member[p]:
                    m = p
                allocated = True
            else:
                m = self.account_by_number.get(n, -1)
                allocated = m >= 0
            if n not in seen:
                new.append((n, allocated, m >= 0))
            if m >= 0 and m != aid:
                cands.append(self.cand(aid, m, now, is_new=n not in seen))
                record.append(m)
        who = Who(acct.key, address, acct.age0 + (now - acct.created) / 86_400.0, acct.friends,
                  self.known_by[aid])
        req = Request("full", len(unique), len(new), lambda: new)
        out = self.submit(aid, who, req, cands, record, now)
        matches: list[int] = []
        if out.allowed:
            seen.update(dedupe)
            P = self.P
            for m in out.found:
                if m < P:
                    self.harvested.add(m)
                    matches.append(world.number(m))
                else:
                    matches.append(self.accounts[m].number)
        return out, matches


def _answer(out: Outcome) -> tuple:
    return (out.allowed, out.reason, out.retry_after, out.found, out.withheld, out.overexposed,
            out.level)


def next_daily(phase: float, t: float, day: float = 86_400.0) -> float:
    """The first daily sync time strictly after t for a client syncing at `phase` + k days."""
    k = math.floor((t - phase) / day) + 1
    nt = phase + k * day
    return nt if nt > t else nt + day
