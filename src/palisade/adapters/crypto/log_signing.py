"""The access log's signing key: Ed25519 (RFC 8032), derived from configuration, and signing tree heads;
verifying them is `domain.transparency.verify.signature_ok`.

The private key is derived with HKDF-SHA-256 (RFC 5869) from the keyring's one-time-code
secret under its own label, so it comes from configuration like every other key and needs no
new keyring field; the public key is published for verifiers (`palisade verify`)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from palisade.domain.transparency.verify import head_message

LABEL = b"palisade/access-log-signing/v1"


class LogSigner:
    def __init__(self, secret: bytes) -> None:
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(secret)
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, size: int, timestamp_ms: int, root: bytes) -> bytes:
        return self._key.sign(head_message(size, timestamp_ms, root))
