"""Lossy, per-person tags that say "this person has sent this identifier before".

Contact discovery charges only identifiers an account has not sent before, so it must
remember what each account sent, including non-members' numbers, which must never be kept
in a reversible form: a full keyed hash of a phone number is reversed by whoever holds the
key, because the number space is small. So the tag keeps only TAG_BITS bits of
HMAC-SHA-256(key, person id || identifier): with 2**20 tags, each tag stands for about one
in a million numbers, i.e. hundreds of possible numbers in even a small country's plan, and
a person's tag set cannot be turned back into their address book. The price is a small rate
of false "seen" answers (about n / 2**20 for an account that sent n identifiers), which only
ever makes a lookup free, never reveals anything.

The key is derived (HKDF-SHA-256, RFC 5869) from the blind-index secret with its own label,
so the keyring needs no new entry and the two uses never share a key.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from palisade.adapters.crypto.rfc2104 import HmacSha256
from palisade.domain.identifiers import Identifier

TAG_BITS = 20


class SeenTags:
    def __init__(self, blind_index_secret: bytes) -> None:
        self._hmac = HmacSha256(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                     info=b"palisade/discovery-seen-tags/v1"
                                     ).derive(blind_index_secret))

    def of(self, person_id: str, identifier: Identifier) -> int:
        msg = (person_id.encode() + b"\x00" + identifier.kind.value.encode() + b"\x00"
               + identifier.value.encode())
        digest = self._hmac.digest(msg)
        return int.from_bytes(digest[:4], "big") >> (32 - TAG_BITS)


def pack(tags: Iterable[int]) -> bytes:
    """A person's tag set as stored: sorted, 4 bytes each, little-endian (one row a person,
    read and written whole, instead of a row a tag)."""
    packed = array("I", sorted(tags))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes | None) -> set[int]:
    if not blob:
        return set()
    tags = array("I")
    tags.frombytes(blob)
    if sys.byteorder == "big":
        tags.byteswap()
    return set(tags)
