"""How discovery traffic is grouped so that defences see across accounts and addresses.

- Addresses: an IPv4 address counts as its /24 and an IPv6 address as its /64, because one
  subscriber or one rented server usually controls a whole such block; cycling addresses
  inside it does not buy a fresh budget.
- Phone numbers: a number belongs to the block of 10**BLOCK_DIGITS consecutive numbers that
  share everything but its last digits, the unit in which ranges are allocated and swept.
"""

from __future__ import annotations

import ipaddress

BLOCK_DIGITS = 3


def address_group(address: str) -> str:
    """`203.0.113.0/24` for any address in it; `2001:db8::/64` likewise; unparseable input
    (which a trusted proxy never sends) is its own group."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid:" + address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def number_block(e164: str) -> str:
    """The allocation block of an E.164 number: '+12015550123' -> '+12015550xxx'."""
    return e164[:-BLOCK_DIGITS] + "x" * BLOCK_DIGITS
