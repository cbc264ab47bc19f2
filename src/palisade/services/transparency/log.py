"""The tamper-evident access log: an append-only Merkle log (RFC 6962 / RFC 9162) of every
access to a person's data by an app or partner, with signed tree heads and proofs.

Reads never wait for the log: the read path writes an access event in its own transaction
(`services.apps.access_events`), and the sequencer appends pending events in batches. One
batch is one transaction — its leaves, the hashes of the subtrees it completes, the signed
head over the new size, and each event's place in the log — so a crash leaves either all of
it or none: never a signed head that the stored leaves do not match. Appends are serialized
(a PostgreSQL advisory lock; SQLite has one writer), so two sequencers cannot fork the tree.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from palisade.adapters.crypto.envelope import open_sealed, sealer
from palisade.adapters.crypto.log_signing import LogSigner
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import LogRepository, PendingEvent
from palisade.adapters.storage.repository import Repository
from palisade.domain.errors import InvalidInput, NotFound
from palisade.domain.transparency import rfc6962
from palisade.domain.transparency.entries import LogEntry, decode, encode
from palisade.services.clock import Clock
from palisade.services.people import PersonKeys


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def entry_context(person_id: str, index: int) -> bytes:
    return f"log-entry/v1:{person_id}:{index}".encode()


@dataclass(frozen=True, slots=True)
class Pending:
    """An entry waiting for its place in the log."""

    person_id: str
    kind: str
    body: dict
    event_id: int | None  # the access event it comes from, if any
    public: bool = False


def event_body(e: PendingEvent) -> dict:
    """What an entry says about an access event: who, which fields, why, the outcome, when,
    and the kind's own details (counts; an operator's reason reference)."""
    return {"actor_kind": e.actor_kind, "actor": e.actor_id, "fields": list(e.fields),
            "purpose": e.purpose, "outcome": e.outcome, "route": e.route,
            "at": e.at.isoformat(), **(e.detail or {})}


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    timestamp_ms: int
    signature: bytes


@dataclass(frozen=True)
class ProvenEntry:
    index: int
    entry: dict
    leaf_hash: bytes
    inclusion: list[bytes]  # against the head it was exported with


class StoredTree:
    """Subtree hashes from the stored complete subtrees, cached for one operation."""

    def __init__(self, session: Session) -> None:
        self.repo = LogRepository(session)
        self.cache: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            found = self.repo.node(level, index)
            if found is None:
                raise NotFound("That part of the log does not exist.")
            self.cache[key] = found
        return self.cache[key]

    def __call__(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return rfc6962.EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:  # complete and aligned: stored
            return self.node(n.bit_length() - 1, start // n)
        k = rfc6962.split_point(n)
        return rfc6962.node_hash(self(start, start + k), self(start + k, end))


class TransparencyLog:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, signer: LogSigner,
                 clock: Clock) -> None:
        self.uow = uow
        self.keys = keys
        self.signer = signer
        self.clock = clock

    # -- appending
    def sequence(self, limit: int = 5000) -> int:
        """Append up to `limit` pending events (closing yesterday's tallies into events
        first); returns how many were appended."""
        with self.uow() as session:
            repo = LogRepository(session)
            repo.lock_appends()
            repo.close_tallies(self.clock().date())
            events = repo.pending_events(limit)
            if not events:
                return 0
            pending = [Pending(e.person_id, e.kind, event_body(e), e.id) for e in events]
            return len(self._append(session, repo, pending))

    def sequence_all(self) -> int:
        """Append everything pending, batch after batch (before an export or an erasure,
        whose record must be complete)."""
        total = 0
        while appended := self.sequence():
            total += appended
        return total

    def append_erasure(self, session: Session, person_id: str, counts: dict[str, int],
                       chain_end: tuple[int, bytes] | None) -> ProvenEntry:
        """Record an erasure in the caller's transaction (the erasure's own), in the clear:
        the key that sealed the person's other entries is being destroyed in the same
        transaction, and this entry names only an opaque id and counts. `chain_end` is the
        person's last entry, read (under the append lock) before their rows went. Returns the
        entry with its inclusion proof against the head signed in that transaction."""
        repo = LogRepository(session)
        body = {"steps": dict(sorted(counts.items())), "at": self.clock().isoformat()}
        [(index, raw, leaf)] = self._append(session, repo, [Pending(
            person_id, "erasure", body, None, public=True)],
            {person_id: chain_end} if chain_end else {})
        return ProvenEntry(index, decode(raw), leaf,
                           rfc6962.inclusion_proof(index, index + 1, StoredTree(session)))

    def _append(self, session: Session, repo: LogRepository, pending: list[Pending],
                known_ends: dict[str, tuple[int, bytes]] | None = None
                ) -> list[tuple[int, bytes, bytes]]:
        """Append entries as leaves, sign the new head, mark the events placed: all in the
        caller's transaction. Returns (index, entry bytes, leaf hash) per entry."""
        size = repo.size()
        pids = sorted({e.person_id for e in pending})
        ends = {**repo.chain_ends(pids), **(known_ends or {})}
        chains: dict[str, tuple[int, str | None]] = {
            pid: ((ends[pid][0] + 1, ends[pid][1].hex()) if pid in ends else (0, None))
            for pid in pids}
        envelope = self.keys.envelope
        sealed_for = sorted({e.person_id for e in pending if not e.public})
        seal_for = {pid: sealer(envelope.unwrap(pid, row.master_key_id, row.wrapped))
                    for pid, row in repo.wrapped_keys(sealed_for).items()}
        leaves, placed, out = [], [], []
        for offset, event in enumerate(pending):
            pid, index = event.person_id, size + offset
            seq, prev = chains[pid]
            raw = encode(LogEntry(event.kind, pid, event.body, seq, prev))
            leaf = rfc6962.leaf_hash(raw)
            chains[pid] = (seq + 1, leaf.hex())
            stored = raw if event.public else seal_for[pid](raw, entry_context(pid, index))
            # an erased person's leaf keeps no link to a row (there is none left)
            leaves.append((index, None if event.public else pid, seq, stored, leaf,
                           event.public))
            if event.event_id is not None:
                placed.append((index, event.event_id))
            out.append((index, raw, leaf))
        tree = StoredTree(session)
        nodes = self._completed_nodes(tree, size, [x[4] for x in leaves])
        repo.add_leaves(leaves, nodes, placed)
        new_size = size + len(leaves)
        root = rfc6962.root(new_size, tree)
        now_ms = int(self.clock().timestamp() * 1000)
        repo.add_head(new_size, root, now_ms, self.signer.sign(new_size, now_ms, root))
        return out

    @staticmethod
    def _completed_nodes(tree: StoredTree, size: int, new: list[bytes]) -> list[tuple]:
        """Every node above the leaves that the new leaves complete (a leaf is its own
        level-0 node); they also go into the tree's cache, so the new root needs no read."""
        rows = []
        for offset, leaf in enumerate(new):
            i = size + offset
            tree.cache[(0, i)] = leaf
            level, j = 0, i
            while j & 1:  # leaf i completes the subtree at (level + 1, j // 2)
                h = rfc6962.node_hash(tree.node(level, j - 1), tree.node(level, j))
                level, j = level + 1, j // 2
                tree.cache[(level, j)] = h
                rows.append((level, j, h))
        return rows

    # -- reading
    def head(self, size: int | None = None) -> TreeHead:
        with self.uow() as session:
            repo = LogRepository(session)
            if size is None:
                size = repo.size()
            row = repo.head(size)
            if row is None:
                if size == 0:
                    return TreeHead(0, rfc6962.EMPTY_ROOT, 0, b"")
                raise NotFound("No signed head of that size.")
            return TreeHead(row.size, row.root, row.timestamp_ms, row.signature)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        with self.uow() as session:
            return rfc6962.inclusion_proof(index, size, StoredTree(session))

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        with self.uow() as session:
            return rfc6962.consistency_proof(size1, size2, StoredTree(session))

    # -- documents (what `GET /v1/me/access-log`, the export and `palisade verify` share)
    def head_document(self, head: TreeHead) -> dict:
        return {"size": head.size, "root": b64(head.root), "timestamp_ms": head.timestamp_ms,
                "signature": b64(head.signature), "public_key": b64(self.signer.public_key)}

    @staticmethod
    def entry_document(e: ProvenEntry) -> dict:
        return {"index": e.index, "entry": e.entry, "leaf_hash": b64(e.leaf_hash),
                "inclusion_proof": [b64(x) for x in e.inclusion]}

    def document(self, person_id: str, earlier_size: int | None = None) -> dict:
        """A person's entries with their inclusion proofs against the latest signed head;
        with `earlier_size`, also that earlier head and the proof that the log only grew
        since (RFC 9162 §2.1.4). This is the file `palisade verify` checks."""
        head, entries = self.entries_of(person_id)
        earlier = None
        if earlier_size is not None:
            if not 1 <= earlier_size <= head.size:
                raise InvalidInput("earlier_size must be between 1 and the latest size.")
            earlier = {"head": self.head_document(self.head(earlier_size)),
                       "consistency_proof": [b64(x) for x in
                                             self.consistency(earlier_size, head.size)]}
        return {"head": self.head_document(head), "earlier": earlier,
                "entries": [self.entry_document(e) for e in entries]}

    def entries_of(self, person_id: str) -> tuple[TreeHead, list[ProvenEntry]]:
        """Every entry about a person, opened with their data key, each with its inclusion
        proof against the latest signed head."""
        head = self.head()
        with self.uow() as session:
            rows = LogRepository(session).leaves_of(person_id, head.size)
            if not rows:
                return head, []
            key = self.keys.data_key(Repository(session), person_id)
            tree = StoredTree(session)
            return head, [ProvenEntry(
                r.index, decode(open_sealed(key, r.entry_ct, entry_context(person_id, r.index))),
                r.leaf_hash, rfc6962.inclusion_proof(r.index, head.size, tree)) for r in rows]
