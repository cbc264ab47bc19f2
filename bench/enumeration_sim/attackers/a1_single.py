"""A1: one account, one address, full speed over the valid number ranges, in order.

Batches of up to 10,000 numbers (the server's per-sync maximum), one request a second while
accepted; on a refusal it waits what it is told (halving the batch if the refusal is about
volume); it re-verifies whenever asked."""

from __future__ import annotations

from .base import Fleet, register


@register
class SingleAccount(Fleet):
    name = "A1"
    label = "A1 one account, one address, full speed"
    n_accounts = 1
    fixed_fleet = True
    address_policy = "single"
    order = "sequential"
    start_batch = 10_000
