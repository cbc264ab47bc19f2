"""A7 (extra, not in the issue): A6 with bought aged accounts. 200 accounts registered 1-3
years ago (like A4), each holding the numbers of all the others in its plausible address
book, then validating the leaked list like A5. Old accounts vouch (DiscoveryLimits.vouches),
so unlike A6's fresh sybils this ring does manufacture standing: the residual risk of
vouching, measured rather than assumed (docs/threat-model.md)."""

from __future__ import annotations

from .a4_aged import AgedAccounts
from .a6_sybil_ring import SybilRing
from .base import register


@register
class AgedRing(SybilRing):
    name = "A7"
    label = "A7 (extra) A4's aged accounts in each other's books"
    n_accounts, age_days = AgedAccounts.n_accounts, AgedAccounts.age_days
