"""Who a dump came from (pure): canaries and natural fingerprints found in it, the chance of
finding that many by accident, and a verdict that never rests on one weak hit.

A canary is a synthetic person minted for exactly one recipient (a discovery account, an
app, a partner) and shown to nobody else. Finding k of a recipient's n canaries in a dump is
evidence against that recipient unless the dump could contain them by accident: a canary's
email is random and unguessable (chance ~0), but its phone number is a real, valid number
that someone enumerating the same range could have generated without ever being shown it.
So each canary carries its own chance of appearing by accident, estimated from the dump
itself (the share of its number block the dump covers), and the p-value is the probability
of at least k hits among n canaries with those chances (Poisson binomial, computed exactly),
corrected for the number of recipients tested (Bonferroni): testing many recipients must not
make an accusation likely by luck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

ATTRIBUTE_BELOW = 1e-6  # corrected p-value under which a recipient is named
SUSPECT_BELOW = 1e-3
MIN_HITS_TO_ATTRIBUTE = 2  # never accuse on a single hit, however unlikely


class Verdict(StrEnum):
    ATTRIBUTED = "attributed"
    SUSPECTED = "suspected"  # worth a look, not an accusation
    NOT_ATTRIBUTED = "not_attributed"


@dataclass(frozen=True)
class Evidence:
    recipient: str  # "discovery:<account>", "app:<client_id>", "partner:<client_id>"
    chances: Sequence[float]  # per marker shown to the recipient: P(in the dump by accident)
    hits: Sequence[bool]  # per marker: found in the dump
    kind: str = "canary"  # or "scoped_id" (natural fingerprints: an app's own ids)


@dataclass(frozen=True)
class Attribution:
    recipient: str
    kind: str
    shown: int
    found: int
    p_value: float  # corrected for the number of recipients tested
    verdict: Verdict


def tail_probability(chances: Sequence[float], k: int) -> float:
    """P(at least k of independent events with these probabilities happen): the Poisson
    binomial tail, by dynamic programming over the count (exact, O(n·k))."""
    if k <= 0:
        return 1.0
    # dist[j] = P(exactly j so far) for j < k; `done` accumulates P(>= k)
    dist = [1.0] + [0.0] * (k - 1)
    done = 0.0
    for p in chances:
        p = min(max(p, 0.0), 1.0)
        done += dist[k - 1] * p
        for j in range(k - 1, 0, -1):
            dist[j] = dist[j] * (1 - p) + dist[j - 1] * p
        dist[0] *= 1 - p
    return min(1.0, done)


def attribute(evidence: Sequence[Evidence]) -> list[Attribution]:
    """One attribution per recipient with at least one hit, strongest first."""
    tested = max(1, len(evidence))
    out = []
    for e in evidence:
        found = sum(1 for h in e.hits if h)
        if not found:
            continue
        p = min(1.0, tail_probability(e.chances, found) * tested)
        if found >= MIN_HITS_TO_ATTRIBUTE and p < ATTRIBUTE_BELOW:
            verdict = Verdict.ATTRIBUTED
        elif p < SUSPECT_BELOW:
            verdict = Verdict.SUSPECTED
        else:
            verdict = Verdict.NOT_ATTRIBUTED
        out.append(Attribution(e.recipient, e.kind, len(e.hits), found, p, verdict))
    return sorted(out, key=lambda a: (a.p_value, -a.found, a.recipient))


def chance_in_block(numbers_in_dump: int, block_size: int) -> float:
    """The chance that one given number of a block is in a dump that holds
    `numbers_in_dump` distinct numbers of that block by accident (drawn without knowing it)."""
    if block_size <= 0:
        return 1.0
    return min(1.0, numbers_in_dump / block_size)


UNGUESSABLE = 2.0 ** -64  # a random 64-bit email local part, or a 128-bit app-scoped id
