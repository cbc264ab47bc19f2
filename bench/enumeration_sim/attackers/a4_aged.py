"""A4: 200 aged accounts (bought: registered 1-3 years ago, no friends, nobody has them)
staying under refill rates: each syncs once an hour from its own fixed address, starting at
40 numbers and growing the batch by 10% per accepted sync, halving it on any refusal, so it
settles around the highest rate that is never refused."""

from __future__ import annotations

from .base import Fleet, register


@register
class AgedAccounts(Fleet):
    name = "A4"
    label = "A4 200 aged accounts under refill rates"
    n_accounts = 200
    age_days = (365.0, 1_095.0)
    shares = True
    address_policy = "fixed"
    order = "interleaved"
    start_batch = 40
    min_batch = 10
    growth = 1.1
    pace = 3_600.0
    stagger = 17.0
