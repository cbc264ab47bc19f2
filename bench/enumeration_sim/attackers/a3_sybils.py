"""A3: 1,000 freshly verified sybil accounts on 10,000 addresses, each staying just under
every per-account limit: a batch starts at 1,000 and doubles while accepted, halves on a
volume refusal (then waits what it is told); numbers are taken in block-interleaved order,
so no account ever asks for many numbers of one 1,000-number block."""

from __future__ import annotations

from .base import Fleet, register


@register
class Sybils(Fleet):
    name = "A3"
    label = "A3 1,000 fresh sybils, just under per-account limits"
    n_accounts = 1_000
    shares = True
    address_policy = "rotate"
    order = "interleaved"
    start_batch = 1_000
