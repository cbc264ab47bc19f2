"""Honest people: a steady-state platform over the simulated days, and the honest metrics.

Behaviour (the client is the same for every defence):

- **Pre-installed people** (95%) installed before day 0. Their day-0 books are synced and, as
  in a steady state, they have been shown every member they were entitled to at day 0; every
  budget starts full. They sync daily at their own time of day.
- **Joiners** (5%) register at a uniform time and do their first full sync at once: the whole
  book is new (charged); a book over 10,000 entries (the server's per-sync maximum) goes in
  several requests of at most 10,000, one after the other. Their daily syncs follow at
  join + k x 24 h.
- **Daily sync.** The client re-sends its whole book (re-sent identifiers are free for the
  defences that keep a seen-set; B1 and B3 charge them as their designs say). For speed the
  simulation sends only what can change an answer: identifiers new to the account (new
  contacts) and members of the book not shown yet whose situation changed - a contact who
  registered, a contact whose own sync just put this person in their synced book (has_you),
  or a member withheld earlier (retried every day). A sync with nothing of that is skipped,
  except for accounts the defence says must be paced or charged (Palisade accounts at level
  SLOWED or above; B1 accounts on a shared NAT address; books above a bucket's capacity).
- **New contacts**: 1-3 a week in one weekly batch, sent as new identifiers at the next
  daily sync (a registered contact adds the person back with probability 0.7).
- **Reinstall** (3% of pre-installed people): a full sync of an aged account; its seen-set and
  reveals persist server-side, so nothing is charged by seen-set defences.
- **Refusals.** Palisade `slowed` (pacing): wait `retry_after`, retry. `reverify`: the person
  re-verifies (5 minutes) and retries. `identifiers`/`address`/`frozen`, or a baseline refusal
  whose wait exceeds an hour (or whose waits for one sync add up to more than an hour): the
  person is *blocked*; the client retries after `retry_after`, backing off exponentially
  over consecutive blocking refusals (at least 1, 2, 4, ... minutes, as mobile clients back
  off from a server that keeps refusing), or at its next daily sync, whichever is sooner.
  A shorter baseline wait is waited out (added delay).

Metrics (over honest people whose first sync falls in the window: joiners and reinstallers):

- `first_sync`: the first sync (all its requests) went through without a blocking refusal and
  returned every member that `may_find` allowed at that moment.
- `24h`: every member `may_find` allowed at any of the person's syncs from the first one up to
  and including the one 24 h later was returned by then (the +24 h sync is always made).
  This is stricter than "every match entitled at the first sync": under the defaults a
  joiner is entitled to nobody at the first sync (no synced book holds a new number yet); the
  literal figure is reported too (`honest_24h_first_entitled_pct`).
- `blocked`: honest accounts (all of them, not only joiners) that ever got a blocking refusal.
- `p99 delay`: 99th percentile over every honest sync with content of the time from its
  first attempt to its acceptance (unaccepted by the end: the time until the end).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from palisade.domain.discovery.discoverability import Discoverability, may_find

from .defences import Outcome, Request, Who
from .platform import MAX_CONTACTS_PER_SYNC, Platform, next_daily
from .world import DAY, JOINER, REINSTALLER, World

_NO_LOOKUPS: Callable[[], tuple] = lambda: ()
SHORT_WAIT = 3_600.0  # a baseline refusal up to this long is waited out, not "blocked"
REVERIFY_DELAY = 300.0
FINAL_GRACE = 3_600.0  # the +24 h sync may be accepted up to this late (pacing)
BACKOFF_BASE = 60.0  # after the k-th blocking refusal in a row, wait at least 60 s x 2^(k-1)


@dataclass(slots=True)
class Chunk:
    members: list[int]
    nonmembers: list[int]  # number indices (joiners' first sync); count only for reinstalls
    n_nonmembers: int
    is_new: bool


@dataclass(slots=True)
class Track:
    first_t: float
    first_done: bool = False
    first_blocked: bool = False
    first_ok: bool = False
    first_ent: set[int] = field(default_factory=set)
    first_ret: set[int] = field(default_factory=set)
    ent: set[int] = field(default_factory=set)
    ret: set[int] = field(default_factory=set)
    final: bool = False
    ok24: bool = False
    ok24_literal: bool = False


_NONE: frozenset[int] = frozenset()


def _release(tr: Track) -> None:
    """Drop the sets of a track that nothing reads any more (tens of thousands of tracks of
    hundreds of members each at --size large). Once the first sync is done, `first_ret` is
    not read; once the track is also final, `ent` and `ret` are not, and of `first_ent` only
    whether it is empty (`honest_first_syncs_entitled`): one member is kept."""
    if tr.first_done:
        tr.first_ret = _NONE
    if tr.final:
        tr.ent = tr.ret = _NONE
        if tr.first_done and len(tr.first_ent) > 1:
            tr.first_ent = {next(iter(tr.first_ent))}


class Honest:
    def __init__(self, world: World, platform: Platform,
                 push: Callable[[float, int, int], None], horizon: float) -> None:
        self.w = world
        self.pf = platform
        self.defence = platform.defence
        self.push = push  # push(time, kind, person)
        self.horizon = horizon
        self.everyone = platform.setting is Discoverability.EVERYONE
        P = world.people
        self.phase = array("d", world.phase)
        # person -> members to re-send at the next sync; an entry is dropped once sent (an
        # empty set per person adds up to 200 MB at --size large)
        self.pending: dict[int, set[int]] = {}
        self.newq: dict[int, list[int]] = {}  # person -> member pids (>=0) / -1-number index
        # new contacts that are members (in the book), kept only for reinstallers until they
        # reinstall: nothing else reads them
        self.added: dict[int, list[int]] = {}
        self.nadded = array("i", bytes(4 * P))  # person -> new contacts added in the run
        self.full: dict[int, list[Chunk]] = {}
        self.sched: dict[int, float] = {}
        self.since: dict[int, float] = {}  # first refused attempt of the current content
        self.waited: dict[int, float] = {}
        self.streak: Counter[int] = Counter()  # blocking refusals in a row (client backoff)
        self.track: dict[int, Track] = {}
        self.every: set[int] = set()
        self.slowed: set[int] = set()
        self.ever_slowed: set[int] = set()
        self.blocked: set[int] = set()
        self.refusals: Counter[str] = Counter()
        self.reverifications = 0
        self.delays = array("d")
        self.syncs = 0
        self.pacing = self.defence.pacing_reasons
        platform.on_new_edge = self._on_new_edge
        for p in range(P):
            if world.kind[p] != JOINER and platform.needs_every_sync(self._who(p, 0.0),
                                                                     world.book[p]):
                self.every.add(p)
                self._schedule(p, 0.0)

    # --- helpers ----------------------------------------------------------------------------------
    def _who(self, p: int, now: float) -> Who:
        w = self.w
        if w.kind[p] == JOINER:
            age = max(0.0, (now - w.joined_at[p]) / DAY)
        else:
            age = w.age0[p] + now / DAY
        return Who(w.person_keys[p], w.addresses[p], age, w.friends0[p], self.pf.known_by[p],
                   w.nat_group[p] >= 0)

    def _schedule(self, p: int, t: float) -> None:
        """Make sure p syncs at its next daily time at the latest. Anything already scheduled
        is a retry or that daily sync, so it is never later (pacing waits are under 60 s)."""
        if p in self.sched:
            return
        nt = next_daily(self.phase[p], t)
        self.sched[p] = nt
        self.push(nt, 0, p)

    def _schedule_at(self, p: int, at: float) -> None:
        cur = self.sched.get(p)
        if cur is not None and cur <= at:
            return
        self.sched[p] = at
        self.push(at, 0, p)

    def _on_new_edge(self, a: int, b: int) -> None:
        """a's synced book now holds b: b may now find a (has_you); b's client re-sends a."""
        pf = self.pf
        if b >= pf.P or a >= pf.P or not pf.member[b]:
            return
        if pf.shown.has(b, a) or not pf.book_has(b, a):
            return
        s = self.pending.get(b)
        if s is None:
            s = self.pending[b] = set()
        s.add(a)
        self._schedule(b, self._now)

    _now = 0.0

    # --- static events ------------------------------------------------------------------------------
    def on_join(self, x: int, t: float) -> None:
        self._now = t
        pf, w = self.pf, self.w
        pf.member[x] = 1
        pf.registered_at[x] = t
        member = pf.member
        for m in w.in_adj[x]:  # their clients re-send x's number: now a member
            if member[m]:
                s = self.pending.get(m)
                if s is None:
                    s = self.pending[m] = set()
                s.add(x)
                self._schedule(m, t)
        targets = w.out_adj[x][0]
        members = [m for m in targets if member[m]]
        non = list(w.nonmember_numbers[x])
        # not-yet-registered contacts are non-members at this sync (their numbers)
        non.extend(w.number_of[m] for m in targets if not member[m])
        self.full[x] = self._chunks(members, non, len(non), True)
        self.track[x] = Track(t)
        if self.pf.needs_every_sync(self._who(x, t), w.book[x]):
            self.every.add(x)
        self.push(t + DAY, 1, x)  # the +24 h sync, always made
        self.push(t + DAY + FINAL_GRACE, 2, x)
        self._attempt(x, t)

    def on_reinstall(self, r: int, t: float) -> None:
        self._now = t
        w = self.w
        self.phase[r] = t % DAY
        members = [m for m in w.out_adj[r][0] if self.pf.member[m]]
        members.extend(self.added.pop(r, ()))
        n_non = max(0, w.book[r] + self.nadded[r] - len(members))
        self.full[r] = self._chunks(members, [], n_non, False)
        self.track[r] = Track(t)
        self.push(t + DAY, 1, r)
        self.push(t + DAY + FINAL_GRACE, 2, r)
        self._attempt(r, t)

    def on_new_contact(self, p: int, code: int, mutual: int, t: float) -> None:
        self._now = t
        pf = self.pf
        if not pf.member[p]:
            return  # not registered yet: the contact is simply in the book at install
        self.nadded[p] += 1
        self.newq.setdefault(p, []).append(code)
        kind = self.w.kind
        if code >= 0:
            if kind[p] == REINSTALLER:
                self.added.setdefault(p, []).append(code)
            pf.book_extra.add(p, code)
            if mutual:
                pf.book_extra.add(code, p)
                self.nadded[code] += 1
                self.newq.setdefault(code, []).append(p)
                if kind[code] == REINSTALLER:
                    self.added.setdefault(code, []).append(p)
                self._schedule(code, t)
        self._schedule(p, t)

    # --- dynamic events -------------------------------------------------------------------------------
    def on_event(self, kind: int, p: int, t: float) -> None:
        self._now = t
        if kind == 0:
            if self.sched.get(p) != t:
                return  # superseded
            del self.sched[p]
            self._attempt(p, t)
        elif kind == 1:
            self._attempt(p, t, forced=True)
        else:
            self._finalize(p)

    def _chunks(self, members: list[int], non: list[int], n_non: int, is_new: bool
                ) -> list[Chunk]:
        total = len(members) + n_non
        if total <= MAX_CONTACTS_PER_SYNC:
            return [Chunk(members, non, n_non, is_new)]
        parts = -(-total // MAX_CONTACTS_PER_SYNC)
        out = []
        for i in range(parts):
            ms = members[i::parts]
            lo, hi = n_non * i // parts, n_non * (i + 1) // parts
            out.append(Chunk(ms, non[lo:hi] if non else [], hi - lo, is_new))
        return out

    def _refused(self, p: int, out: Outcome, t: float) -> None:
        reason = out.reason
        self.refusals[reason] += 1
        self.since.setdefault(p, t)
        tr = self.track.get(p)
        if reason in self.pacing:
            self._schedule_at(p, t + max(out.retry_after, 0.001))
            return
        waited = self.waited.get(p, 0.0)
        if not self.pacing and reason not in ("reverify", "frozen") \
                and out.retry_after <= SHORT_WAIT and waited + out.retry_after <= SHORT_WAIT:
            self.waited[p] = waited + out.retry_after
            self._schedule_at(p, t + max(out.retry_after, 0.001))
            return
        # blocking
        self.blocked.add(p)
        if tr is not None and not tr.first_done:
            tr.first_blocked = True
        if reason == "reverify":
            self.reverifications += 1
            self.pf.reverified(self.w.person_keys[p], t)
            self._schedule_at(p, t + REVERIFY_DELAY)
            return
        retry = next_daily(self.phase[p], t)
        # a frozen account has nothing to wait for (retry_after 0): its client tries again
        # at its next daily sync, not at once
        self.streak[p] += 1
        wait = max(out.retry_after, BACKOFF_BASE * 2.0 ** min(self.streak[p] - 1, 20))
        if reason != "frozen" and wait < retry - t:
            retry = t + wait
        self._schedule_at(p, retry)

    def _accepted(self, p: int, t: float) -> None:
        since = self.since.pop(p, None)
        self.waited.pop(p, None)
        self.streak.pop(p, None)
        self.delays.append(0.0 if since is None else t - since)

    def _level(self, p: int, out: Outcome) -> None:
        if out.level >= 1:
            self.slowed.add(p)
            self.ever_slowed.add(p)
        else:
            self.slowed.discard(p)

    def _attempt(self, p: int, t: float, forced: bool = False) -> None:
        tr = self.track.get(p)
        in_window = tr is not None and not tr.final
        sent = False
        if p in self.full:  # an outstanding full sync (first sync or reinstall)
            if not self._full_sync(p, t, tr, in_window):
                return
            sent = True
        pend = self.pending.get(p)
        newq = self.newq.get(p)
        if pend or newq or p in self.slowed or p in self.every:
            pf = self.pf
            if newq:
                new_members = [c for c in newq if c >= 0]
                members = list(pend.difference(new_members) if pend and new_members
                               else pend or ())
            else:
                new_members = []
                members = list(pend) if pend else []
            cand = pf.cand
            cands = [cand(p, m, t) for m in members]
            if new_members:
                cands.extend([cand(p, m, t, is_new=True) for m in new_members])
                members.extend(new_members)
            w = self.w
            req = Request("daily", w.book[p] + self.nadded[p], len(newq) if newq else 0,
                          self._lookups_new(newq) if newq else _NO_LOOKUPS)
            out = pf.submit(p, self._who(p, t), req, cands, members, t)
            self.syncs += 1
            if out.level:
                self.slowed.add(p)
                self.ever_slowed.add(p)
            elif self.slowed:
                self.slowed.discard(p)
            if not out.allowed:
                self._refused(p, out, t)
                return
            if newq:
                del self.newq[p]
            if pend is not None:
                del self.pending[p]  # sent (an empty set and no entry mean the same)
            self._after(p, cands, out, tr, in_window)
            sent = True
        if forced and tr is not None:
            self._finalize(p)
        if sent:
            self._accepted(p, t)
        if self.pending.get(p) or p in self.slowed or p in self.every:
            self._schedule(p, t)

    def _full_sync(self, p: int, t: float, tr: Track | None, in_window: bool) -> bool:
        """Send the outstanding full sync request by request; False if one was refused."""
        pf, w = self.pf, self.w
        chunks = self.full[p]
        static = w.kind[p] != JOINER
        flags_of: dict[int, int] = {}
        if static:
            targets, flags = w.out_adj[p]
            flags_of = dict(zip(targets, flags))
        kind = w.kind
        while chunks:
            ch = chunks[0]
            cands = []
            record = []
            for m in ch.members:
                f = flags_of.get(m) if static else None
                if f is not None and kind[m] != JOINER:
                    back = bool(f & 1)
                    cands.append(pf.cand(p, m, t, back, bool(f & 2), self.everyone or back,
                                         ch.is_new))
                else:
                    cands.append(pf.cand(p, m, t, is_new=ch.is_new))
                    record.append(m)
            total = len(ch.members) + ch.n_nonmembers
            lookups = self._lookups_full(ch) if ch.is_new else _NO_LOOKUPS
            req = Request("full", total, total if ch.is_new else 0, lookups)
            out = pf.submit(p, self._who(p, t), req, cands, record, t)
            self.syncs += 1
            self._level(p, out)
            if not out.allowed:
                self._refused(p, out, t)
                return False
            self._after(p, cands, out, tr, in_window)
            if tr is not None and not tr.first_done:
                for c in cands:
                    if may_find(c.setting, c.tie):
                        tr.first_ent.add(c.pid)
                tr.first_ret.update(out.found)
            chunks.pop(0)
        del self.full[p]
        if tr is not None and not tr.first_done:
            tr.first_done = True
            tr.first_ok = not tr.first_blocked and tr.first_ent <= tr.first_ret
            _release(tr)
        return True

    def _after(self, p: int, cands, out: Outcome, tr: Track | None, in_window: bool) -> None:
        if out.withheld:
            s = self.pending.get(p)
            if s is None:
                s = self.pending[p] = set()
            s.update(out.withheld)
        if in_window:
            for c in cands:
                if may_find(c.setting, c.tie):
                    tr.ent.add(c.pid)
            tr.ret.update(out.found)

    def _lookups_full(self, ch: Chunk):
        w = self.w
        e164 = w.e164

        def build():
            out = [(w.number(m), True, True) for m in ch.members]
            out.extend((e164[i], True, False) for i in ch.nonmembers)
            return out
        return build

    def _lookups_new(self, newq: list[int]):
        w = self.w

        def build():
            return [(w.number(c), True, True) if c >= 0 else (w.e164[-1 - c], True, False)
                    for c in newq]
        return build

    def _finalize(self, p: int) -> None:
        tr = self.track.get(p)
        if tr is None or tr.final:
            return
        tr.final = True
        tr.ok24 = tr.first_done and tr.ent <= tr.ret
        tr.ok24_literal = tr.first_done and tr.first_ent <= tr.ret
        _release(tr)

    # --- results -----------------------------------------------------------------------------------
    def results(self) -> dict:
        w, horizon = self.w, self.horizon
        for p, since in self.since.items():
            self.delays.append(horizon - since)
        tracked = list(self.track.items())
        first = [(p, tr) for p, tr in tracked]
        in24 = [(p, tr) for p, tr in tracked if tr.first_t + DAY + FINAL_GRACE <= horizon]
        nat = w.nat_group

        def pct(part: int, whole: int) -> float:
            return round(100.0 * part / whole, 3) if whole else 100.0

        delays = sorted(self.delays)
        p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))] if delays else 0.0
        nat_first = [(p, tr) for p, tr in first if nat[p] >= 0]
        nat_24 = [(p, tr) for p, tr in in24 if nat[p] >= 0]
        return {
            "honest_first_sync_pct": pct(sum(tr.first_ok for _, tr in first), len(first)),
            "honest_24h_pct": pct(sum(tr.ok24 for _, tr in in24), len(in24)),
            "honest_blocked": len(self.blocked),
            "honest_p99_delay_s": round(p99, 1),
            "honest_24h_first_entitled_pct": pct(sum(tr.ok24_literal for _, tr in in24),
                                                 len(in24)),
            "honest_first_syncs": len(first),
            "honest_first_syncs_entitled": sum(1 for _, tr in first if tr.first_ent),
            "honest_24h_people": len(in24),
            "honest_max_delay_s": round(delays[-1], 1) if delays else 0.0,
            "honest_delayed_syncs": sum(1 for d in delays if d > 0),
            "honest_syncs": self.syncs,
            "honest_slowed": len(self.ever_slowed),
            "honest_reverifications": self.reverifications,
            "honest_refusals": dict(sorted(self.refusals.items())),
            "honest_nat_people": sum(1 for p in range(w.people) if nat[p] >= 0),
            "honest_nat_blocked": sum(1 for p in self.blocked if nat[p] >= 0),
            "honest_nat_slowed": sum(1 for p in self.ever_slowed if nat[p] >= 0),
            "honest_nat_first_sync_pct": pct(sum(tr.first_ok for _, tr in nat_first),
                                             len(nat_first)),
            "honest_nat_24h_pct": pct(sum(tr.ok24 for _, tr in nat_24), len(nat_24)),
        }
