"""A2: five accounts rotating over 10,000 addresses (every request from the next address),
full speed over the valid ranges in order, sharing one queue of numbers."""

from __future__ import annotations

from .base import Fleet, register


@register
class RotatingAccounts(Fleet):
    name = "A2"
    label = "A2 5 accounts rotating over 10,000 addresses"
    n_accounts = 5
    fixed_fleet = True
    address_policy = "rotate"
    order = "sequential"
    start_batch = 10_000
