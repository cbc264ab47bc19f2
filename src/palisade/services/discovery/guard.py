"""The discovery guard: budgets, caps, detectors and escalation, over a shared CounterStore.

This is the defence itself. The HTTP sync service (`sync.py`) and the enumeration benchmark
(`bench/enumeration.py`) both drive this class, so what the benchmark measures is what the
server runs. The guard never sees a phone number or an email address: callers give it
account ids, address text, number blocks and the last digits of numbers, and facts about
candidates (their setting and tie), which it turns into decisions.

Order of use for one sync: `admit` (before any lookup; refuses as a whole or not at all),
then `reveal` (which candidates the searcher gets), then `observe` (detectors, escalation).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from palisade.adapters.limits.counter_store import CounterStore
from palisade.domain.discovery import detectors
from palisade.domain.discovery.aggregation import address_group
from palisade.domain.discovery.detectors import Finding
from palisade.domain.discovery.discoverability import Discoverability, Tie, may_find
from palisade.domain.discovery.escalation import Level, alerts_operator, escalate
from palisade.domain.discovery.quotas import DAY, DiscoveryLimits, Standing


@dataclass(frozen=True, slots=True)
class Searcher:
    account: str
    address: str  # the client address, already resolved through trusted proxies only
    standing: Standing
    level_floor: Level = Level.NORMAL  # a level persisted elsewhere (e.g. frozen in the DB)


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    reason: str  # ok | slowed | reverify | frozen | identifiers | address
    retry_after: float
    level: Level


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member that one of the searcher's identifiers belongs to."""

    person: str
    setting: Discoverability
    tie: Tie
    revealed_before: bool = False  # this searcher was already shown this person
    hidden_from_strangers: bool = False  # too many strangers found them recently


@dataclass(slots=True)  # not frozen: a first sync builds a thousand of them
class Lookup:
    """One identifier the searcher had not sent before, as the detectors see it."""

    block: str | None  # number block for a phone number; None for an email
    suffix: str | None  # the block's last digits of that number
    # a number in a range an operator assigns (always True for emails and members); None for
    # a non-member number left out of the sync's random sample (see allocation_sample)
    allocated: bool | None
    member: bool  # it belongs to someone here, whatever their setting


@dataclass
class Reveal:
    found: list[str] = field(default_factory=list)
    withheld: int = 0  # allowed by the setting, held back by the stranger budget or cap
    overexposed: list[str] = field(default_factory=list)  # now hidden from strangers: tell them


@dataclass(frozen=True, slots=True)
class Alert:
    finding: Finding
    account: str | None
    level: Level | None


@dataclass
class Observation:
    findings: list[Finding] = field(default_factory=list)
    level: Level = Level.NORMAL
    alerts: list[Alert] = field(default_factory=list)


def unallocated_estimate(lookups: Sequence[Lookup]) -> int:
    """The unallocated numbers among a sync's new non-member numbers, from those checked."""
    eligible = checked = unallocated = 0
    for x in lookups:
        if x.block is not None and not x.member:
            eligible += 1
            if x.allocated is not None:
                checked += 1
                unallocated += not x.allocated
    return detectors.estimate_unallocated(eligible, checked, unallocated)


class DiscoveryGuard:
    def __init__(self, limits: DiscoveryLimits, store: CounterStore,
                 rng: random.Random | None = None) -> None:
        self.limits = limits
        self.store = store
        # which numbers get the allocation check: unpredictable to the searcher (seeded from
        # os.urandom); the benchmark injects a seeded one
        self.rng = rng if rng is not None else random.Random()

    def allocation_sample(self, eligible: int) -> range | set[int]:
        """Positions, among a sync's `eligible` new non-member numbers, to check for
        allocation: all of them up to `allocation_checks_per_sync`, else that many at
        random. The rest go to `observe` with `allocated=None`."""
        k = self.limits.allocation_checks_per_sync
        return range(eligible) if eligible <= k else set(self.rng.sample(range(eligible), k))

    # --- escalation state -----------------------------------------------------------------
    def level(self, account: str, now: float, floor: Level = Level.NORMAL) -> Level:
        return max(floor, Level(min(Level.FROZEN, self.store.get(f"level:{account}", now))))

    def _set_level(self, account: str, level: Level, now: float) -> Level:
        ttl = self.limits.slowed_days * DAY if level is Level.SLOWED else None
        return Level(self.store.raise_to(f"level:{account}", int(level), ttl, now))

    def reverified(self, account: str, now: float) -> None:
        """The person proved control of an identifier again: back to SLOWED (not NORMAL),
        and any further finding counts as a repeat."""
        if self.level(account, now) is not Level.REVERIFY:
            return  # nothing was asked: a voluntary confirmation changes nothing
        self.store.put(f"level:{account}", int(Level.SLOWED), self.limits.slowed_days * DAY, now)
        generation = self.store.get(f"reverified:{account}", now)
        self.store.put(f"reverified:{account}", generation + 1, None, now)

    def lift(self, account: str, now: float) -> None:
        """An operator lifts every restriction (after review)."""
        self.store.put(f"level:{account}", int(Level.NORMAL), None, now)

    # --- admission ------------------------------------------------------------------------
    def admit(self, searcher: Searcher, new_identifiers: int, now: float) -> Admission:
        """May this sync go ahead, charging `new_identifiers`? All or nothing."""
        limits, store = self.limits, self.store
        account = searcher.account
        level = self.level(account, now, searcher.level_floor)
        if level is Level.FROZEN:
            return Admission(False, "frozen", 0.0, level)
        if level is Level.REVERIFY:
            return Admission(False, "reverify", 0.0, level)
        established = limits.is_established(searcher.standing)
        group = address_group(searcher.address)
        slowed = level is Level.SLOWED or (
            not established and store.get(f"group-slowed:{group}", now) > 0)
        if slowed:
            interval = limits.slowed_interval_seconds
            pace = store.take(f"pace:{account}", 1, 1, 1 / interval, now)
            if not pace.granted:
                return Admission(False, "slowed", pace.retry_after, max(level, Level.SLOWED))
        if new_identifiers:
            if not established:
                bucket = limits.address_bucket()
                take = store.take(f"addr:{group}", new_identifiers, bucket.capacity,
                                  bucket.refill_per_second, now)
                if not take.granted:
                    return Admission(False, "address", take.retry_after, level)
            bucket = limits.identifier_bucket(searcher.standing)
            take = store.take(f"ids:{account}", new_identifiers, bucket.capacity,
                              bucket.refill_per_second, now)
            if not take.granted:
                return Admission(False, "identifiers", take.retry_after, level)
        return Admission(True, "ok", 0.0, level)

    # --- revealing ------------------------------------------------------------------------
    def reveal(self, searcher: Searcher, candidates: Sequence[Candidate], now: float) -> Reveal:
        """Which candidates the searcher gets. People who know the searcher (friends, or with
        the searcher in their own address book) and people shown before are free; everyone
        else allowed by their setting costs one stranger token, and a person found by too
        many strangers in the window is hidden from further strangers."""
        limits = self.limits
        out = Reveal()
        strangers: list[Candidate] = []
        for c in candidates:
            if not may_find(c.setting, c.tie):
                continue
            if c.tie.known or c.revealed_before:
                out.found.append(c.person)
            elif c.hidden_from_strangers:
                out.withheld += 1
            else:
                strangers.append(c)
        # One budget call per sync whatever the batch holds, so the work done (and the time
        # taken) does not depend on how many strangers were in it.
        bucket = limits.stranger_bucket(searcher.standing)
        take = self.store.take(f"strangers:{searcher.account}", len(strangers),
                               bucket.capacity, bucket.refill_per_second, now, partial=True)
        window = limits.person_window_days * DAY
        shown = strangers[: take.granted]
        out.found.extend(c.person for c in shown)
        if not limits.is_established(searcher.standing):
            # Only strangers without standing count toward a person's cap (see
            # DiscoveryLimits.person_strangers_per_window).
            counts = self.store.add_distinct_many(
                [(f"found-by:{c.person}", [searcher.account]) for c in shown], window, now)
            for c, seen_by in zip(shown, counts, strict=True):
                if seen_by >= limits.person_strangers_per_window and self.store.first_time(
                        f"overexposed:{c.person}", window, now):
                    out.overexposed.append(c.person)
        out.withheld += len(strangers) - take.granted
        return out

    # --- detection and escalation ------------------------------------------------------------
    def observe(self, searcher: Searcher, lookups: Sequence[Lookup], withheld: int,
                now: float, admitted: Level | None = None) -> Observation:
        """`admitted`: the level `admit` returned for this sync, if the caller has it; with
        nothing found, that is the level reported (not read again)."""
        limits, store = self.limits, self.store
        account = searcher.account
        # Withheld strangers count only after the account's first day: before its contacts
        # re-sync, most of an honest newcomer's book is withheld.
        held_now = withheld if searcher.standing.age_days >= limits.withheld_grace_days else 0
        if not lookups and not held_now:
            # Nothing added to any count (most syncs are such re-syncs): no round trips.
            return Observation(level=admitted if admitted is not None
                               else self.level(account, now, searcher.level_floor))
        established = limits.is_established(searcher.standing)
        window = limits.detector_window_days * DAY
        found: list[Finding] = []
        blocks = Counter(x.block for x in lookups if x.block is not None)
        block_keys = sorted(blocks)
        totals = store.add(
            [(f"blk:{account}:{b}", blocks[b]) for b in block_keys]
            + [(f"new:{account}", len(lookups)),
               (f"unalloc:{account}", unallocated_estimate(lookups)),
               (f"members:{account}", sum(x.member for x in lookups)),
               (f"withheld:{account}", held_now)],
            window, now)
        per_block, (new, unallocated, members, held) = totals[:len(block_keys)], totals[-4:]
        # A detector is judged only when this sync added to its own counts: old counts are
        # never judged again (after a re-verification that would be taken as a repeat).
        for b, count in zip(block_keys, per_block, strict=True):
            if (f := detectors.range_sweep(limits, account, b, count)) is not None:
                found.append(f)
                break  # one sweep finding per sync is enough
        judged = ([detectors.unallocated_numbers(limits, account, new, unallocated),
                   detectors.leaked_list_validation(limits, account, established, new,
                                                    members)] if lookups else [])
        if held_now:
            judged.append(detectors.stranger_harvest(limits, account, held))
        found.extend(f for f in judged if f is not None)
        platform: list[Finding] = []
        if not established and lookups:
            # a crowd is accounts without standing looking up *new* identifiers from one
            # group; re-syncs of known books (every client, daily) are not a crowd
            group = address_group(searcher.address)
            crowd = store.add_distinct(f"group-accounts:{group}", [account], DAY, now)
            if (f := detectors.crowded_address(limits, group, crowd)) is not None:
                store.put(f"group-slowed:{group}", 1, DAY, now)
                found.append(f)
                platform.append(f)
            suffixes: dict[str, list[str]] = {b: [] for b in block_keys}
            for x in lookups:
                if x.block is not None and x.suffix:
                    suffixes[x.block].append(x.suffix)
            distinct = store.add_distinct_many(
                [(f"block-numbers:{b}", suffixes[b]) for b in block_keys], DAY, now)
            for b, count in zip(block_keys, distinct, strict=True):
                if (f := detectors.platform_range_coverage(limits, b, count)) is not None:
                    platform.append(f)
        return self._escalate(searcher, found, platform, now, admitted)

    def _escalate(self, searcher: Searcher, found: list[Finding], platform: list[Finding],
                  now: float, admitted: Level | None = None) -> Observation:
        account = searcher.account
        if not found and not platform and admitted is not None:
            return Observation(level=admitted)  # nothing to escalate: no round trips
        store = self.store
        window = self.limits.detector_window_days * DAY
        level = self.level(account, now, searcher.level_floor)
        obs = Observation(findings=list(found), level=level)
        for f in platform:  # findings about a block or address group go to the operator once
            if f.subject != account and store.first_time(f"alerted:{f.kind}:{f.subject}",
                                                         DAY, now):
                obs.alerts.append(Alert(f, None, None))
        generation = store.get(f"reverified:{account}", now) if found else 0
        for f in found:
            if not store.first_time(f"finding:{account}:{f.kind}:{generation}", window, now):
                continue  # already escalated for this kind since the last re-verification
            repeat = generation > 0
            new_level = escalate(level, f.severity, repeat)
            if new_level > level:
                level = self._set_level(account, new_level, now)
                if alerts_operator(level):
                    obs.alerts.append(Alert(f, account, level))
        obs.level = level
        return obs
