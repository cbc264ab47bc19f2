"""Housekeeping and whole-store operations: purge, erasure, master-key rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from palisade.adapters.crypto.envelope import Envelope
from palisade.adapters.crypto.keyring import KeyringSource
from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import LogRepository
from palisade.adapters.storage.repository import Repository
from palisade.domain.errors import NotFound
from palisade.services.apps.callbacks import queue as queue_callbacks
from palisade.services.clock import Clock
from palisade.services.transparency.log import ProvenEntry, TransparencyLog, TreeHead


@dataclass(frozen=True)
class PurgeReport:
    messages: int
    codes: int
    sessions: int
    oauth: int  # OAuth codes and tokens nobody can use any more


@dataclass(frozen=True)
class Erasure:
    rows_deleted: dict[str, int]
    log_entry: ProvenEntry  # the erasure's own entry, with its inclusion proof against head
    head: TreeHead

    @property
    def data_key_destroyed(self) -> bool:
        return self.rows_deleted.get("data_keys", 0) == 1


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    rewrapped: int


class Maintenance:
    def __init__(self, uow: UnitOfWork, envelope: Envelope, keyrings: KeyringSource,
                 log: TransparencyLog, clock: Clock) -> None:
        self.uow = uow
        self.log = log
        self.envelope = envelope
        self.keyrings = keyrings
        self.clock = clock

    def purge(self) -> PurgeReport:
        """Delete disappeared messages, dead codes, ended sessions and expired OAuth codes and
        tokens."""
        now = self.clock()
        with self.uow() as session:
            repo = Repository(session)
            return PurgeReport(repo.purge_messages(now), repo.purge_codes(now),
                               repo.purge_sessions(now),
                               AppsRepository(session).purge_expired(now))

    def erase(self, person_id: str) -> Erasure:
        """Crypto-shred and delete everything about a person, in one transaction that also
        appends the erasure, step by step, to the access log and signs the new head: the
        receipt proves the erasure is on the record."""
        # what is still waiting for the log goes in first, while it can still be sealed
        self.log.sequence_all()
        with self.uow() as session:
            repo = Repository(session)
            if not repo.lock_person(person_id):  # first: see AddressBookEdge
                raise NotFound("No such person.")
            log_repo = LogRepository(session)
            log_repo.lock_appends()
            chain_end = log_repo.chain_ends([person_id]).get(person_id)
            # apps are told by app-scoped id (meaningless once the person is gone); their
            # authorizations, tokens and access events go with the person (ON DELETE CASCADE)
            queued = queue_callbacks(AppsRepository(session), person_id, "erased", self.clock())
            counts = repo.erase_person(person_id)
            counts["app_deletion_callbacks"] = queued
            entry = self.log.append_erasure(session, person_id, counts, chain_end)
            head = LogRepository(session).head(entry.index + 1)
            assert head is not None  # signed by append_erasure in this transaction
            return Erasure(counts, entry, TreeHead(head.size, head.root, head.timestamp_ms,
                                                   head.signature))

    def rotate_master_key(self, batch: int = 500,
                          progress: Callable[[int, int], None] | None = None) -> RotationReport:
        """Make a new current master key, then re-wrap every data key under it, batch by
        batch, each batch its own short transaction. Reads go on throughout: a data key is
        readable under its old master key until its batch commits, and other processes pick up
        the new keyring from the file. Old master keys stay in the keyring until `prune`."""
        ring = self.keyrings.get().with_new_master()
        self.keyrings.replace(ring)
        with self.uow() as session:
            total = Repository(session).count_people()
        done = 0
        while True:
            with self.uow() as session:
                rows = Repository(session).data_keys_not_under(ring.current, batch)
                for row in rows:
                    key = self.envelope.unwrap(row.person_id, row.master_key_id, row.wrapped)
                    row.master_key_id, row.wrapped = self.envelope.wrap(row.person_id, key)
            done += len(rows)
            if progress:
                progress(done, total)
            if len(rows) < batch:
                break
        return RotationReport(ring.current, done)

    def prune_master_keys(self) -> list[str]:
        """Remove master keys that no data key is wrapped under any more."""
        ring = self.keyrings.refresh()
        with self.uow() as session:
            in_use = Repository(session).master_key_ids_in_use()
        unused = {k for k in ring.master_keys if k not in in_use and k != ring.current}
        if unused:
            self.keyrings.replace(ring.without_masters(unused))
        return sorted(unused)
