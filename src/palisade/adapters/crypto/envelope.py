"""Envelope encryption with AES-256-GCM (NIST SP 800-38D) via pyca/cryptography.

Each person has a random 256-bit data key; every PII field and message body of theirs is
sealed under it. The data key is stored only wrapped (AES-256-GCM) by a master key from the
keyring. Destroying a person's wrapped data key makes all their ciphertext unreadable
(crypto-shredding). Every ciphertext is bound to its owner and purpose with associated data,
so a ciphertext moved to another row or person fails to open instead of leaking.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from palisade.adapters.crypto.keyring import KEY_BYTES, KeyringSource

NONCE_BYTES = 12  # 96-bit random nonces; fine far below 2**32 messages per key


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong key, wrong context, or tampering."""


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def sealer(key: bytes) -> Callable[[bytes, bytes], bytes]:
    """`seal` under one key, for many plaintexts: the cipher is set up once (bulk paths)."""
    cipher = AESGCM(key)

    def seal_one(plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + cipher.encrypt(nonce, plaintext, context)

    return seal_one


def open_sealed(key: bytes, blob: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
    except (InvalidTag, ValueError):
        raise DecryptionError("ciphertext failed authentication") from None


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class Envelope:
    def __init__(self, keyrings: KeyringSource) -> None:
        self._keyrings = keyrings

    @staticmethod
    def _wrap_context(person_id: str) -> bytes:
        return b"palisade/data-key/v1:" + person_id.encode()

    def wrap(self, person_id: str, data_key: bytes) -> tuple[str, bytes]:
        ring = self._keyrings.get()
        return ring.current, seal(ring.master_keys[ring.current], data_key,
                                  self._wrap_context(person_id))

    def unwrap(self, person_id: str, key_id: str, wrapped: bytes) -> bytes:
        ring = self._keyrings.get()
        master = ring.master_keys.get(key_id)
        if master is None:  # rotated by another process since we last looked
            master = self._keyrings.refresh().master_keys.get(key_id)
            if master is None:
                raise DecryptionError(f"master key {key_id} is not in the keyring")
        return open_sealed(master, wrapped, self._wrap_context(person_id))

    @property
    def current_key_id(self) -> str:
        return self._keyrings.get().current
