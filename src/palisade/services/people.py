"""Shared helpers: ids, creating a person with their data key, and opening their ciphertext."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from palisade.adapters.crypto.envelope import Envelope, new_data_key, open_sealed, seal
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import DataKey, IdentifierRow, Person, ProfileRow
from palisade.domain.errors import NotFound
from palisade.domain.identifiers import Identifier


def new_id() -> str:
    """128 random bits, url-safe: ids reveal nothing and cannot be guessed or walked."""
    return secrets.token_urlsafe(16)


def profile_context(person_id: str) -> bytes:
    return b"palisade/profile/v1:" + person_id.encode()


def identifier_context(person_id: str, kind: str) -> bytes:
    return f"palisade/identifier/v1:{person_id}:{kind}".encode()


def message_context(conversation_id: str, sender_id: str) -> bytes:
    return f"palisade/message/v1:{conversation_id}:{sender_id}".encode()


class PersonKeys:
    """Per-person data keys: create, and unwrap for one use case."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope

    def data_key(self, repo: Repository, person_id: str) -> bytes:
        row = repo.data_key(person_id)
        if row is None:
            raise NotFound("No such person.")
        return self.envelope.unwrap(person_id, row.master_key_id, row.wrapped)

    def create_person(self, repo: Repository, identifier: Identifier, bidx: bytes,
                      now: datetime, fields: dict[str, str] | None = None,
                      audiences: dict[str, str] | None = None,
                      password_hash: str | None = None) -> str:
        person_id = new_id()
        key = new_data_key()
        key_id, wrapped = self.envelope.wrap(person_id, key)
        repo.add(Person(id=person_id, created_at=now, password_hash=password_hash))
        repo.add(
            DataKey(person_id=person_id, master_key_id=key_id, wrapped=wrapped),
            IdentifierRow(id=new_id(), person_id=person_id, kind=identifier.kind.value,
                          value_bidx=bidx, verified_at=now,
                          value_ct=seal(key, identifier.value.encode(),
                                        identifier_context(person_id, identifier.kind.value))),
            ProfileRow(person_id=person_id, audiences=dict(audiences or {}), updated_at=now,
                       fields_ct=seal(key, json.dumps(fields or {}).encode(),
                                      profile_context(person_id))),
        )
        return person_id

    @staticmethod
    def open_fields(key: bytes, person_id: str, fields_ct: bytes) -> dict[str, str]:
        return json.loads(open_sealed(key, fields_ct, profile_context(person_id)).decode())

    @staticmethod
    def seal_fields(key: bytes, person_id: str, fields: dict[str, str]) -> bytes:
        return seal(key, json.dumps(fields).encode(), profile_context(person_id))

    @staticmethod
    def open_identifier(key: bytes, row: IdentifierRow) -> str:
        return open_sealed(key, row.value_ct, identifier_context(row.person_id, row.kind)).decode()
