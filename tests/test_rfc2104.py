"""The precomputed-pad HMAC is exactly HMAC-SHA-256 (RFC 2104), for any key and message."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.crypto.rfc2104 import HmacSha256
from palisade.adapters.crypto.seen_tags import SeenTags
from palisade.domain.identifiers import Identifier, IdentifierKind


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_equals_the_standard_library(key: bytes, message: bytes) -> None:
    mac = HmacSha256(key)
    expected = hmac.new(key, message, hashlib.sha256).digest()
    assert mac.digest(message) == expected
    assert mac.digest(message) == expected  # the saved states are copied, never consumed


def test_rfc4231_test_case_2() -> None:
    # RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?"
    assert HmacSha256(b"Jefe").digest(b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_blind_index_and_seen_tags_are_unchanged() -> None:
    """Stored blind indexes and tags stay valid: both are still HMAC over the same message."""
    key = bytes(range(32))
    ident = Identifier(IdentifierKind.PHONE, "+12015550123")
    assert BlindIndex(key).of(ident) == hmac.new(key, b"phone\x00+12015550123",
                                                 hashlib.sha256).digest()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"palisade/discovery-seen-tags/v1").derive(key)
    digest = hmac.new(derived, b"p1\x00phone\x00+12015550123", hashlib.sha256).digest()
    assert SeenTags(key).of("p1", ident) == int.from_bytes(digest[:4], "big") >> 12
