"""The pure discovery core, exhaustively and by property: who may find whom, the guard's
budgets and caps, the detectors' thresholds, escalation, and address aggregation. Also checks
that the Redis counter store gives the same answers as the in-process one."""

from __future__ import annotations

import ipaddress
import itertools
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.adapters.limits.counter_store import MemoryCounterStore, RedisCounterStore
from palisade.domain.discovery import detectors
from palisade.domain.discovery.aggregation import address_group, number_block
from palisade.domain.discovery.discoverability import Discoverability as D
from palisade.domain.discovery.discoverability import Tie, may_find
from palisade.domain.discovery.escalation import Level, escalate
from palisade.domain.discovery.quotas import DAY, DiscoveryLimits, Standing
from palisade.services.discovery.guard import Candidate, DiscoveryGuard, Lookup, Searcher

# Written by hand from the product rule, independently of the code: (setting, relation) ->
# may the searcher find the person? Relations are the single facts; blocks override all.
RULE = {
    (D.EVERYONE, "none"): True, (D.EVERYONE, "friend"): True,
    (D.EVERYONE, "fof"): True, (D.EVERYONE, "has_you"): True,
    (D.FRIENDS_OF_FRIENDS, "none"): False, (D.FRIENDS_OF_FRIENDS, "friend"): True,
    (D.FRIENDS_OF_FRIENDS, "fof"): True, (D.FRIENDS_OF_FRIENDS, "has_you"): False,
    (D.MUTUAL_CONTACTS, "none"): False, (D.MUTUAL_CONTACTS, "friend"): False,
    (D.MUTUAL_CONTACTS, "fof"): False, (D.MUTUAL_CONTACTS, "has_you"): True,
    (D.NOBODY, "none"): False, (D.NOBODY, "friend"): False,
    (D.NOBODY, "fof"): False, (D.NOBODY, "has_you"): False,
}


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)))
@pytest.mark.parametrize("setting", list(D))
def test_may_find_matches_the_rule_table(setting: D, flags: tuple[bool, ...]) -> None:
    friend, fof, has_you, blocked = flags
    tie = Tie(friend, fof, has_you, blocked)
    relations = [r for r, on in (("friend", friend), ("fof", fof), ("has_you", has_you)) if on]
    expected = not blocked and any(RULE[(setting, r)] for r in relations or ["none"])
    assert may_find(setting, tie) is expected


ties = st.builds(Tie, st.booleans(), st.booleans(), st.booleans(), st.booleans())
candidates = st.builds(Candidate, person=st.text("abcdefgh", min_size=1, max_size=3),
                       setting=st.sampled_from(list(D)), tie=ties,
                       revealed_before=st.booleans(), hidden_from_strangers=st.booleans())
standings = st.builds(Standing, age_days=st.floats(0, 2000), friends=st.integers(0, 50),
                      known_by=st.integers(0, 50))


def unique_people(max_size: int) -> st.SearchStrategy[list[Candidate]]:
    return st.lists(candidates, max_size=max_size, unique_by=lambda c: c.person)


@settings(max_examples=300, deadline=None)
@given(standing=standings, batches=st.lists(
    st.tuples(unique_people(12), st.floats(0, 3 * DAY)), max_size=8))
def test_guard_reveals_only_what_the_rule_allows_and_strangers_within_budget(
        standing: Standing, batches: list[tuple[list[Candidate], float]]) -> None:
    """Nobody the rule forbids; everyone who knows the searcher (or was shown before);
    never a hidden person to a stranger; strangers within the bucket's capacity + refill."""
    limits = DiscoveryLimits()
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    searcher = Searcher("acct", "192.0.2.1", standing)
    bucket = limits.stranger_bucket(standing)
    now, strangers_shown = 1_000_000.0, 0
    for batch, gap in batches:
        now += gap
        out = guard.reveal(searcher, batch, now)
        assert len(out.found) == len(set(out.found))
        for c in batch:
            allowed = may_find(c.setting, c.tie)
            free = c.tie.friend or c.tie.has_you or c.revealed_before  # not the code's own
            if c.person in out.found:
                assert allowed, "revealed someone the rule does not allow"
                assert free or not c.hidden_from_strangers
                strangers_shown += not free
            elif allowed:
                assert not free, "a person who knows the searcher was held back"
    elapsed = sum(g for _, g in batches)
    assert strangers_shown <= bucket.capacity + bucket.refill_per_second * elapsed + 1e-6


@given(st.integers(0, 1000))
def test_detector_thresholds_are_monotone(n: int) -> None:
    limits = DiscoveryLimits()
    sweep = detectors.range_sweep(limits, "a", "+1201555xxx", n)
    assert (sweep is not None) == (n >= limits.sweep_block_numbers)
    assert (detectors.person_overexposed(limits, "p", n) is not None) == \
        (n >= limits.person_strangers_per_window)
    crowd = detectors.crowded_address(limits, "192.0.2.0/24", n)
    assert (crowd is not None) == (n >= limits.address_new_accounts_per_day)


@given(new=st.integers(0, 2000), frac=st.floats(0, 1))
def test_leaked_list_detector_ignores_established_accounts(new: int, frac: float) -> None:
    limits = DiscoveryLimits()
    members = int(new * frac)
    assert detectors.leaked_list_validation(limits, "a", True, new, members) is None
    fired = detectors.leaked_list_validation(limits, "a", False, new, members) is not None
    assert fired == (new >= limits.hit_rate_min and members > limits.hit_rate_ratio * new)


@given(st.sampled_from(list(Level)), st.integers(1, 3), st.booleans())
def test_escalation_never_lowers_and_repeats_climb(current: Level, severity: int,
                                                   repeat: bool) -> None:
    after = escalate(current, severity, repeat)
    assert after >= current and after >= Level.SLOWED
    if repeat and current < Level.FROZEN:
        assert after > current
    assert escalate(Level.FROZEN, severity, repeat) is Level.FROZEN


@given(st.integers(0, 2**32 - 1), st.integers(0, 255))
def test_ipv4_addresses_aggregate_to_their_24(address: int, last: int) -> None:
    ip = ipaddress.IPv4Address(address)
    sibling = ipaddress.IPv4Address((address & ~0xFF) | last)
    assert address_group(str(ip)) == address_group(str(sibling))
    assert address_group(f"::ffff:{ip}") == address_group(str(ip))
    other = ipaddress.IPv4Address(address ^ 0x100)
    assert address_group(str(other)) != address_group(str(ip))


@given(st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
def test_ipv6_addresses_aggregate_to_their_64(address: int, low: int) -> None:
    ip = ipaddress.IPv6Address(address)
    if ip.ipv4_mapped is not None:
        return
    sibling = ipaddress.IPv6Address((address >> 64 << 64) | low)
    assert address_group(str(ip)) == address_group(str(sibling))


def test_number_blocks() -> None:
    assert number_block("+12015550123") == "+12015550xxx"
    assert number_block("+12015550999") == number_block("+12015550000")


def test_observe_never_sees_an_identifier() -> None:
    """Lookups carry a block and three digits, nothing that identifies a number alone."""
    guard = DiscoveryGuard(DiscoveryLimits(), MemoryCounterStore())
    searcher = Searcher("acct", "192.0.2.1", Standing(0, 0, 0))
    obs = guard.observe(searcher, [Lookup("+12015550xxx", f"{i:03d}", True, False)
                                   for i in range(150)], 0, 0.0)
    assert [f.kind for f in obs.findings] == [detectors.FindingKind.RANGE_SWEEP]
    assert obs.level is Level.REVERIFY


def test_withheld_strangers_count_only_after_the_first_day() -> None:
    """On its first day nobody has synced a newcomer back, so most of an honest book is
    withheld; the stranger-harvest detector starts counting after `withheld_grace_days`."""
    limits = DiscoveryLimits()
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    newcomer = Searcher("new", "192.0.2.1", Standing(0.5, 0, 0))
    assert guard.observe(newcomer, [], 5 * limits.withheld_strangers, 0.0).findings == []
    later = Searcher("new", "192.0.2.1", Standing(1.5, 0, 0))
    obs = guard.observe(later, [], limits.withheld_strangers, DAY)
    assert [f.kind for f in obs.findings] == [detectors.FindingKind.STRANGER_HARVEST]


def test_a_sync_with_nothing_new_is_never_a_finding() -> None:
    """Old counts are not judged again: after a re-verification an empty re-sync must not be
    taken for a repeat offence."""
    limits = DiscoveryLimits()
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    searcher = Searcher("acct", "192.0.2.1", Standing(0, 0, 0))
    unallocated = [Lookup(f"+1999555{i:01d}xxx", "000", False, False)
                   for i in range(limits.unallocated_min)]
    assert guard.observe(searcher, unallocated, 0, 0.0).level is Level.REVERIFY
    guard.reverified("acct", 60.0)
    assert guard.observe(searcher, [], 0, 120.0).findings == []
    # nor a sync that only withheld strangers: that judges the stranger count, not the others
    aged = Searcher("acct", "192.0.2.1", Standing(2, 0, 0))
    assert guard.observe(aged, [], 1, 150.0).findings == []
    assert guard.level("acct", 150.0) is Level.SLOWED
    # new unallocated look-ups after re-verifying are a repeat: one step further
    assert guard.observe(searcher, unallocated, 0, 180.0).level is Level.FROZEN


def test_a_new_account_may_send_the_largest_address_book() -> None:
    """25,000 entries (Google Contacts' limit) in syncs of at most 10,000, all at once: an
    honest newcomer's first sync is never refused for volume."""
    guard = DiscoveryGuard(DiscoveryLimits(), MemoryCounterStore())
    newcomer = Searcher("new", "192.0.2.1", Standing(0, 0, 0))
    assert [guard.admit(newcomer, n, 0.0).allowed for n in (10_000, 10_000, 5_000)] == \
        [True, True, True]
    assert not guard.admit(newcomer, 1_000, 0.0).allowed  # and not a 26,000th


def test_crowds_are_accounts_looking_up_new_identifiers() -> None:
    limits = DiscoveryLimits()
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    nat = "198.51.100.7"
    for i in range(2 * limits.address_new_accounts_per_day):  # daily re-syncs behind a NAT
        assert guard.observe(Searcher(f"p{i}", nat, Standing(0, 0, 0)), [], 0, 10.0).findings \
            == []
    found = []
    for i in range(limits.address_new_accounts_per_day):
        obs = guard.observe(Searcher(f"s{i}", nat, Standing(0, 0, 0)),
                            [Lookup("+12015550xxx", f"{i:03d}", True, False)], 0, 20.0)
        found.extend(f.kind for f in obs.findings)
    assert found == [detectors.FindingKind.CROWDED_ADDRESS]


@settings(max_examples=100, deadline=None)
@given(standing=standings, n=st.integers(1, 40))
def test_only_strangers_without_standing_count_toward_a_persons_cap(
        standing: Standing, n: int) -> None:
    limits = DiscoveryLimits(person_strangers_per_window=1, strangers_per_known_by=50)
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    everyone = Tie(friend=False, friend_of_friend=False, has_you=False, blocked=False)
    searcher = Searcher("acct", "192.0.2.1", standing)
    out = guard.reveal(searcher, [Candidate(f"p{i}", D.EVERYONE, everyone) for i in range(n)],
                       0.0)
    if limits.is_established(standing):
        assert out.overexposed == []
    else:
        assert out.overexposed == out.found


# --- the Redis store answers like the in-process one -------------------------------------------------

operations = st.lists(st.tuples(st.integers(0, 30), st.floats(0, 5000), st.booleans(),
                                st.integers(1, 40)), min_size=1, max_size=25)


@pytest.mark.redis
@settings(max_examples=40, deadline=None)
@given(ops=operations)
def test_redis_and_memory_token_buckets_agree(redis_client, ops) -> None:
    memory, shared = MemoryCounterStore(), RedisCounterStore(
        redis_client, prefix=f"test:{uuid.uuid4().hex}:")
    now = 1_000_000.0
    for cost, gap, partial, capacity in ops:
        now += gap
        a = memory.take("k", cost, capacity, capacity / 3600, now, partial)
        b = shared.take("k", cost, capacity, capacity / 3600, now, partial)
        assert a.granted == b.granted
        assert a.retry_after == pytest.approx(b.retry_after, rel=1e-6, abs=1e-6)


@pytest.mark.redis
def test_redis_store_counts_and_levels(redis_client) -> None:
    store = RedisCounterStore(redis_client, prefix=f"test:{uuid.uuid4().hex}:")
    assert store.add([("a", 2), ("b", 1)], 60, 0.0) == [2, 1]
    assert store.add([("a", 3)], 60, 30.0) == [5]
    assert store.add([("a", 1)], 60, 61.0) == [1]  # next window
    assert store.add_distinct("d", ["x", "y", "x"], 60, 0.0) == 2
    assert store.add_distinct_many([("d", ["z"]), ("e", []), ("f", ["1", "2", "3"])],
                                   60, 0.0) == [3, 0, 3]
    assert store.raise_to("l", 2, None, 0.0) == 2 and store.raise_to("l", 1, None, 0.0) == 2
    assert store.first_time("f", 60, 0.0) and not store.first_time("f", 60, 0.0)
    store.put("l", 0, None, 0.0)
    assert store.get("l", 0.0) == 0


# --- reading address-book entries ----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(country=st.sampled_from(["1", "44", "49", "33", "91", "234", "55", "81"]),
       digits=st.text("0123456789", min_size=6, max_size=12),
       region=st.sampled_from(["US", "GB", "DE", "JM", "IN"]))
def test_is_allocated_is_exactly_phonenumbers_validity(country, digits, region) -> None:
    """The default-region shortcut never changes the answer: allocated == is_valid_number."""
    import phonenumbers

    from palisade.domain.discovery.address_book import is_allocated, read_entry

    entry = read_entry(f"+{country}{digits}", region)
    if entry is None:
        return
    assert is_allocated(entry, region) == phonenumbers.is_valid_number(entry.number)


@pytest.mark.parametrize("raw,allocated", [
    ("+1 201 555 0123", True), ("(876) 927 1234", True),  # US; Jamaica shares +1
    ("+44 20 7946 0958", True), ("+1 999 555 0123", False), ("alice@example.com", True),
])
def test_is_allocated_examples(raw, allocated) -> None:
    from palisade.domain.discovery.address_book import is_allocated, read_entry

    entry = read_entry(raw, "US")
    assert entry is not None and is_allocated(entry, "US") is allocated


def test_only_old_or_established_accounts_vouch() -> None:
    limits = DiscoveryLimits()
    assert not limits.vouches(Standing(age_days=0.0, friends=0, known_by=4))  # a fresh sybil
    assert limits.vouches(Standing(age_days=0.0, friends=3, known_by=2))  # established
    assert limits.vouches(Standing(age_days=limits.voucher_min_age_days, friends=0, known_by=0))
    assert not limits.vouches(Standing(age_days=limits.voucher_min_age_days - 0.01, friends=0,
                                       known_by=0))


@given(eligible=st.integers(0, 20_000), data=st.data())
def test_the_unallocated_estimate_is_exact_when_all_are_checked_and_bounded(
        eligible: int, data) -> None:
    checked = data.draw(st.integers(0, eligible))
    unallocated = data.draw(st.integers(0, checked))
    estimate = detectors.estimate_unallocated(eligible, checked, unallocated)
    assert 0 <= estimate <= eligible
    if checked == eligible:
        assert estimate == unallocated
    if checked and unallocated == checked:  # every checked number unallocated: all of them
        assert estimate == eligible
    if unallocated == 0:
        assert estimate == 0


@settings(max_examples=200, deadline=None)
@given(eligible=st.integers(0, 3 * DiscoveryLimits().allocation_checks_per_sync),
       seed=st.integers(0, 2**32 - 1))
def test_the_allocation_sample_is_all_or_exactly_the_per_sync_checks(eligible: int,
                                                                     seed: int) -> None:
    import random

    limits = DiscoveryLimits()
    sample = DiscoveryGuard(limits, MemoryCounterStore(), random.Random(seed)) \
        .allocation_sample(eligible)
    k = limits.allocation_checks_per_sync
    assert len(sample) == min(eligible, k)
    assert all(0 <= i < eligible for i in sample)


def test_a_sweep_of_unallocated_numbers_is_seen_through_the_sample() -> None:
    """Only 64 numbers of a large batch are checked, yet a batch of unallocated numbers is
    counted in full and a batch of allocated ones not at all."""
    limits = DiscoveryLimits()
    guard = DiscoveryGuard(limits, MemoryCounterStore())
    n = 10 * limits.allocation_checks_per_sync
    batch = [Lookup(f"+1999555{i % 10}xxx", f"{i:03d}", None, False) for i in range(n)]
    for i in guard.allocation_sample(n):
        batch[i].allocated = False
    obs = guard.observe(Searcher("sweeper", "192.0.2.1", Standing(0, 0, 0)), batch, 0, 0.0)
    assert detectors.FindingKind.UNALLOCATED_NUMBERS in {f.kind for f in obs.findings}
    for x in batch:
        x.allocated = None
    for i in guard.allocation_sample(n):
        batch[i].allocated = True
    obs = guard.observe(Searcher("honest", "192.0.2.2", Standing(0, 0, 0)), batch, 0, 0.0)
    assert detectors.FindingKind.UNALLOCATED_NUMBERS not in {f.kind for f in obs.findings}
