"""The scanner's index of what this service holds: every member's phone numbers and emails
(opened with each person's data key), every canary, every app-scoped id and person id it has
handed out. Built in the scanning process, kept in memory only for the scan.

Why decrypt instead of matching by blind index: a keyed hash of every identifier in a
10-million-row dump costs more than the whole rest of the scan (about a microsecond each,
twice a row). The operator's process already holds the keyring; the plaintext never leaves
its memory and is gone when the scan ends."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from palisade.adapters.crypto.envelope import open_sealed
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import (
    AppAuthorizationRow,
    CanaryRow,
    DataKey,
    IdentifierRow,
)
from palisade.services.leaks.scanner import MatchIndex
from palisade.services.people import PersonKeys, identifier_context

BATCH = 5_000


def build_index(uow: UnitOfWork, keys: PersonKeys,
                progress: Callable[[int], None] | None = None) -> MatchIndex:
    index = MatchIndex()
    envelope = keys.envelope
    with uow() as session:
        # members, ordered by person so each data key is unwrapped once
        rows = session.execute(
            select(IdentifierRow.person_id, IdentifierRow.kind, IdentifierRow.value_ct,
                   DataKey.master_key_id, DataKey.wrapped)
            .join(DataKey, DataKey.person_id == IdentifierRow.person_id)
            .order_by(IdentifierRow.person_id).execution_options(yield_per=BATCH))
        current, key, phones, emails = None, b"", [], []
        done = 0
        for person_id, kind, value_ct, key_id, wrapped in rows:
            if person_id != current:
                if current is not None:
                    index.add("person", current, phones, emails, ids=[current])
                    done += 1
                    if progress and done % BATCH == 0:
                        progress(BATCH)
                current, phones, emails = person_id, [], []
                key = envelope.unwrap(person_id, key_id, wrapped)
            value = open_sealed(key, value_ct, identifier_context(person_id, kind)).decode()
            (phones if kind == "phone" else emails).append(value)
        if current is not None:
            index.add("person", current, phones, emails, ids=[current])
        # canaries: their phone, email and (for apps) the scoped id the app was shown
        for c in session.scalars(select(CanaryRow)):
            target = index.add("canary", c.id, [c.phone], [c.email], ids=[c.scoped_id])
            index.canary_names[target] = c.profile["name"].lower().encode()
        # natural fingerprints: each app-scoped id names its app
        for app_id, person_id, scoped in session.execute(select(
                AppAuthorizationRow.app_id, AppAuthorizationRow.person_id,
                AppAuthorizationRow.scoped_id)):
            index.add("scoped_id", f"{app_id}/{person_id}", ids=[scoped])
    index.phone_keys()  # made once here, shared by every file and worker of the scan
    return index
