"""Budgets for discovery, and how they grow with an account's standing.

Two budgets per account, both token buckets that refill continuously:

- **Identifiers**: every identifier the account has not sent before costs one token (re-sent
  identifiers are free, so re-syncing an address book costs nothing). It bounds the raw
  lookup volume. The capacity fits a large address book on the first sync and grows with age.
- **Strangers**: revealing a person who does *not* already know the searcher (not a friend,
  and the searcher is not in that person's synced address book) costs one token. This is the
  budget a scraper needs and an honest person barely uses: most of an honest address book
  knows its owner back. Its capacity grows only with evidence that real people know the
  account (friendships, and people who have the account in their own address book), which
  a freshly verified sybil account does not have and cannot buy by waiting or by changing
  address; a thousand sybils get a thousand near-empty stranger budgets.

Standing cannot be manufactured by accounts vouching for each other: a friendship counts
only if the friend's account is old enough, and a place in someone's synced book counts only
if its owner *vouches* - was established, or old enough, when the book was synced (`vouches`).
A ring of fresh sybils that put each other in their books and befriend each other earns
nothing; a ring must first age, and aged accounts are what the detectors and the per-person
cap watch (docs/threat-model.md, A6/A7).

Per-address groups (/24, /64) get an identifier budget too, charged only by accounts without
standing, so that carrier-NAT addresses shared by many established people are never limited.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Standing:
    """Evidence that an account belongs to a real, known person."""

    age_days: float
    friends: int  # confirmed friendships
    known_by: int  # distinct people whose synced address book contains this account

    @property
    def score(self) -> int:
        return self.friends + self.known_by


@dataclass(frozen=True, slots=True)
class Bucket:
    capacity: float
    refill_per_second: float


@dataclass(frozen=True)
class DiscoveryLimits:
    """Every threshold of the discovery defences, with its default. Deployments override
    them with PALISADE_DISCOVERY_LIMITS (a JSON object of field -> value)."""

    # identifier budget (per account)
    # a new account's first full sync: the largest address book phones keep in practice
    # (Google Contacts stops at 25,000), so no honest book is ever refused; lookups alone
    # reveal nobody, the stranger budget below is what bounds a scraper
    identifiers_initial: int = 25_000
    identifiers_per_day: int = 1_000
    identifiers_per_age_day: int = 100  # capacity grows with age ...
    identifiers_max: int = 50_000  # ... up to this

    # stranger budget (per account)
    strangers_base: int = 0  # an account nobody knows finds only people who know it
    # One stranger per voucher per window. Honest books need about 0.4 (about 70% of the
    # members in a book have its owner back, and those are free); every extra token per
    # voucher is one more person for each member of a ring of aged accounts (A7 in
    # bench/enumeration.py): 2 gave the ring twice the harvest, for 99.84% instead of 99.77%
    # of honest newcomers complete within 24 h where everyone is findable.
    strangers_per_friend: int = 1
    strangers_per_known_by: int = 1
    strangers_max: int = 2_000
    strangers_refill_days: float = 30.0  # the whole capacity refills over this many days

    # an account with at least this standing score is "established"
    established_score: int = 5
    # a vouch (a friendship, a place in a synced book) counts only from an account this old,
    # or from one that was established when it vouched: fresh sybils cannot vouch for each other
    voucher_min_age_days: float = 30.0

    # per address group (/24, /64), charged by accounts that are not established
    address_identifiers_per_day: int = 30_000
    address_new_accounts_per_day: int = 20  # distinct non-established accounts -> finding

    # per person found: strangers *without standing* who found them in the window, then
    # hidden from every stranger. Established strangers are not counted: they are people
    # who have this person in their own book (a plumber's customers, a popular person's
    # acquaintances) and find them for that reason every day on a platform where many are
    # `everyone`-discoverable; accounts nobody vouches for are what a scraping fleet is.
    person_strangers_per_window: int = 20
    person_window_days: float = 30.0

    # detectors (window for per-account detectors)
    detector_window_days: float = 30.0
    sweep_block_numbers: int = 100  # new numbers in one 1000-number block by one account
    unallocated_min: int = 50  # new identifiers before the unallocated ratio is judged
    unallocated_ratio: float = 0.2
    # whether a number is allocated is the costly half of reading it: a sync checks at most
    # this many of its new non-member numbers, chosen at random, and the detector sees the
    # sample's count scaled to all of them (detectors.estimate_unallocated)
    allocation_checks_per_sync: int = 64
    hit_rate_min: int = 300  # new identifiers before the hit rate is judged
    # honest address books are about 40% members; about 1% of books over 300 entries are
    # above 50%, none above 60% in the benchmark's world: only unpadded lists stand out
    hit_rate_ratio: float = 0.65
    withheld_strangers: int = 200  # strangers withheld in the window ...
    # ... counted only once the account is this old: on its first day nobody has synced a
    # newcomer back yet, so most of an honest book is withheld until its contacts re-sync
    withheld_grace_days: float = 1.0
    platform_block_numbers_per_day: int = 300  # distinct numbers in one block, all low-standing

    # escalation
    slowed_interval_seconds: int = 60  # a slowed account may sync once per interval
    slowed_days: float = 7.0

    @classmethod
    def from_overrides(cls, overrides: dict[str, object]) -> DiscoveryLimits:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown discovery limit(s): {', '.join(unknown)}")
        values: dict[str, object] = {}
        for name, value in overrides.items():
            default = getattr(cls, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"discovery limit {name} must be a non-negative number")
            values[name] = type(default)(value)
        return cls(**values)  # type: ignore[arg-type]

    def is_established(self, standing: Standing) -> bool:
        return standing.score >= self.established_score

    def vouches(self, standing: Standing) -> bool:
        """Does this account's synced book count toward the standing of the people in it?"""
        return standing.age_days >= self.voucher_min_age_days or self.is_established(standing)

    def identifier_bucket(self, standing: Standing) -> Bucket:
        capacity = min(self.identifiers_max,
                       self.identifiers_initial + self.identifiers_per_age_day
                       * int(standing.age_days))
        return Bucket(capacity, self.identifiers_per_day / DAY)

    def stranger_bucket(self, standing: Standing) -> Bucket:
        capacity = min(self.strangers_max,
                       self.strangers_base + self.strangers_per_friend * standing.friends
                       + self.strangers_per_known_by * standing.known_by)
        return Bucket(capacity, capacity / (self.strangers_refill_days * DAY))

    def address_bucket(self) -> Bucket:
        return Bucket(self.address_identifiers_per_day, self.address_identifiers_per_day / DAY)
