"""The DPoP client used by the tests: the product's own proof maker (RFC 9449 §4.2)."""

from palisade.adapters.oauth.rfc9449_dpop import ProofKey as DPoPKey

__all__ = ["DPoPKey"]
