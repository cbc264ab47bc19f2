"""Contact discovery: who may find whom by phone number or email, and the defences that keep
a scraper from turning address-book sync into an enumeration oracle.

Everything here is pure (no I/O): the server's sync service and the enumeration benchmark
drive the same functions and the same `DiscoveryGuard` (in `palisade.services.discovery`).
"""
