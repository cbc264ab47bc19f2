"""Detectors over discovery traffic: pure functions from counts to findings.

Each looks at counts the guard keeps across every server process (per account, per address
group, per number block, platform-wide) and says whether they look like enumeration. They
return findings; the guard decides what to do with them (see `escalation`). Thresholds are in
`DiscoveryLimits`. A finding's `subject` is an account id, an address group or a number
block: never a phone number or an email address.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from palisade.domain.discovery.quotas import DiscoveryLimits


class FindingKind(StrEnum):
    RANGE_SWEEP = "range_sweep"  # one account walks consecutive numbers
    UNALLOCATED_NUMBERS = "unallocated_numbers"  # many numbers that no operator assigns
    LEAKED_LIST_VALIDATION = "leaked_list_validation"  # member hit rate far above a real book
    STRANGER_HARVEST = "stranger_harvest"  # keeps asking for people who do not know it
    CROWDED_ADDRESS = "crowded_address"  # many new accounts from one address group
    PLATFORM_RANGE_COVERAGE = "platform_range_coverage"  # many accounts together cover a block
    PERSON_OVEREXPOSED = "person_overexposed"  # many strangers found one person


# How hard each kind of account finding escalates (see escalation.escalate).
SEVERITY: dict[FindingKind, int] = {
    FindingKind.RANGE_SWEEP: 2,
    FindingKind.UNALLOCATED_NUMBERS: 2,
    FindingKind.LEAKED_LIST_VALIDATION: 1,
    FindingKind.STRANGER_HARVEST: 1,
    FindingKind.CROWDED_ADDRESS: 1,
    FindingKind.PLATFORM_RANGE_COVERAGE: 2,
    FindingKind.PERSON_OVEREXPOSED: 1,
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    subject: str  # account id, address group or number block
    detail: str  # counts and thresholds, for the operator

    @property
    def severity(self) -> int:
        return SEVERITY[self.kind]


def range_sweep(limits: DiscoveryLimits, account: str, block: str,
                numbers_in_block: int) -> Finding | None:
    if numbers_in_block < limits.sweep_block_numbers:
        return None
    return Finding(FindingKind.RANGE_SWEEP, account,
                   f"{numbers_in_block} new numbers in block {block} "
                   f"(threshold {limits.sweep_block_numbers})")


def unallocated_numbers(limits: DiscoveryLimits, account: str, new: int,
                        unallocated: int) -> Finding | None:
    if new < limits.unallocated_min or unallocated < limits.unallocated_ratio * new:
        return None
    return Finding(FindingKind.UNALLOCATED_NUMBERS, account,
                   f"{unallocated} of {new} new numbers are not assigned to any operator")


def estimate_unallocated(eligible: int, checked: int, unallocated: int) -> int:
    """Unallocated numbers among `eligible` new non-member numbers, from a uniform random
    sample of `checked` of them in which `unallocated` were found (exact when all were
    checked). Scaling a uniform sample is unbiased; an account cannot choose which of its
    numbers are checked, so it cannot hide unallocated ones from the count."""
    if checked >= eligible or checked == 0:
        return unallocated
    return round(unallocated * eligible / checked)


def leaked_list_validation(limits: DiscoveryLimits, account: str, established: bool,
                           new: int, members: int) -> Finding | None:
    """An account without standing whose new identifiers are members far more often than in
    a real address book: the signature of checking a list of known-good numbers."""
    if established or new < limits.hit_rate_min or members <= limits.hit_rate_ratio * new:
        return None
    return Finding(FindingKind.LEAKED_LIST_VALIDATION, account,
                   f"{members} of {new} new identifiers are members "
                   f"(threshold {limits.hit_rate_ratio:.0%})")


def stranger_harvest(limits: DiscoveryLimits, account: str, withheld: int) -> Finding | None:
    if withheld < limits.withheld_strangers:
        return None
    return Finding(FindingKind.STRANGER_HARVEST, account,
                   f"{withheld} people it may not yet find were held back in the window")


def crowded_address(limits: DiscoveryLimits, group: str, new_accounts: int) -> Finding | None:
    if new_accounts < limits.address_new_accounts_per_day:
        return None
    return Finding(FindingKind.CROWDED_ADDRESS, group,
                   f"{new_accounts} accounts without standing synced from {group} today")


def platform_range_coverage(limits: DiscoveryLimits, block: str,
                            distinct_numbers: int) -> Finding | None:
    if distinct_numbers < limits.platform_block_numbers_per_day:
        return None
    return Finding(FindingKind.PLATFORM_RANGE_COVERAGE, block,
                   f"{distinct_numbers} distinct numbers of block {block} looked up today by "
                   "accounts without standing")


def person_overexposed(limits: DiscoveryLimits, person: str, strangers: int) -> Finding | None:
    if strangers < limits.person_strangers_per_window:
        return None
    return Finding(FindingKind.PERSON_OVEREXPOSED, person,
                   f"found by {strangers} strangers in the window; now hidden from strangers")
