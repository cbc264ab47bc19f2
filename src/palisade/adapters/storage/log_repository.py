"""Storage for the tamper-evident access log: pending events, leaves, the hashes of complete
subtrees and signed heads. Bulk statements (executemany), because the sequencer appends
thousands of leaves per transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Row, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from palisade.adapters.storage.repository import any_of
from palisade.adapters.storage.tables import (
    AccessEventRow,
    DailyTallyRow,
    DataKey,
    LogHeadRow,
    LogLeafRow,
    LogNodeRow,
    Person,
    TallyBatchRow,
)

_APPEND_LOCK = 0x70616C6C6F67  # "pallog": the advisory lock that serializes appends
# who a day's tally is about: people who found the person, or friends who viewed them
TALLY_ACTORS = {"discovery_finds": "discovery", "friend_views": "friends"}

@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An access event waiting for its place in the log (the columns the entry needs)."""

    id: int
    person_id: str
    kind: str
    actor_kind: str
    actor_id: str
    fields: list[str]
    purpose: str
    outcome: str
    route: str
    at: datetime
    detail: dict | None


def _utc(raw: object) -> datetime:
    """A timestamp as the driver returns it (SQLite: text without a zone) in UTC."""
    value = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LogRepository:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._pg = session.get_bind().dialect.name == "postgresql"

    def _in(self, column, values: Sequence[str]):  # type: ignore[no-untyped-def]
        return any_of(column, values, self._pg)

    def lock_appends(self) -> None:
        """Serialize appenders for the rest of the transaction (SQLite has one writer)."""
        if self._pg:
            self.s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _APPEND_LOCK})

    def pending_events(self, limit: int) -> list[PendingEvent]:
        """The oldest access events not yet in the log. Read through the driver: this is the
        sequencer's hot path, and the ORM's per-row type processing (JSON, datetimes) cost as
        much as the hashing and sealing. Equal `fields` lists are decoded once."""
        rows = self.s.connection().exec_driver_sql(
            "SELECT id, person_id, kind, actor_kind, actor_id, fields, purpose, outcome, route, "
            "at, detail FROM access_events WHERE log_index IS NULL AND person_id IS NOT NULL "
            f"ORDER BY id LIMIT {int(limit)}").fetchall()
        decoded: dict[str, list[str]] = {}

        def fields(raw: object) -> list[str]:
            if not isinstance(raw, str):
                return list(raw)  # type: ignore[call-overload]  # psycopg decodes JSON
            if raw not in decoded:
                decoded[raw] = json.loads(raw)
            return decoded[raw]

        return [PendingEvent(r[0], r[1], r[2], r[3], r[4], fields(r[5]), r[6], r[7], r[8],
                             _utc(r[9]), json.loads(r[10]) if isinstance(r[10], str) else r[10])
                for r in rows]

    def chain_ends(self, person_ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """Each person's last leaf: (its per-person number, its leaf hash)."""
        if not person_ids:
            return {}
        last = (select(LogLeafRow.person_id, func.max(LogLeafRow.index).label("idx"))
                .where(self._in(LogLeafRow.person_id, person_ids))
                .group_by(LogLeafRow.person_id).subquery())
        rows = self.s.execute(select(LogLeafRow.person_id, LogLeafRow.person_seq,
                                     LogLeafRow.leaf_hash)
                              .join(last, LogLeafRow.index == last.c.idx))
        return {r.person_id: (r.person_seq, r.leaf_hash) for r in rows}

    def wrapped_keys(self, person_ids: Sequence[str]) -> dict[str, Row]:
        if not person_ids:
            return {}
        rows = self.s.execute(select(DataKey.person_id, DataKey.master_key_id, DataKey.wrapped)
                              .where(self._in(DataKey.person_id, person_ids)))
        return {r.person_id: r for r in rows}

    def add_leaves(self, leaves: list[tuple], nodes: list[tuple],
                   placed: list[tuple]) -> None:
        """Leaves as (index, person_id, person_seq, entry_ct, leaf_hash, public); nodes as
        (level, index, hash); placed as (log_index, event_id). Straight to the driver's
        executemany: these are the hot path of the sequencer, and SQLAlchemy's per-row
        parameter processing would cost more than the hashing and sealing."""
        conn = self.s.connection()
        p = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            "INSERT INTO log_leaves (index_, person_id, person_seq, entry_ct, leaf_hash, public) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})".replace("index_", '"index"'), leaves)
        if nodes:
            conn.exec_driver_sql(
                f'INSERT INTO log_nodes (level, "index", hash) VALUES ({p}, {p}, {p})', nodes)
        if placed:
            conn.exec_driver_sql(f"UPDATE access_events SET log_index = {p} WHERE id = {p}",
                                 placed)

    def close_tallies(self, today: date) -> int:
        """Fold the waiting batches, then turn the tallies of days before `today` into
        access events (one per person, day and kind) and delete them, in the caller's
        transaction."""
        fold_tallies(self.s)  # a day is closed only with every batch of it added
        t = DailyTallyRow
        rows = self.s.execute(select(t.person_id, t.day, t.kind, t.count, t.strangers)
                              .where(t.day < today).order_by(t.day, t.person_id)).all()
        if not rows:
            return 0
        self.s.add_all([AccessEventRow(
            person_id=r.person_id, kind=r.kind, actor_kind="counted",
            actor_id=TALLY_ACTORS[r.kind], fields=[], purpose=r.kind, outcome="counted",
            route="", at=datetime.combine(r.day, time.max, UTC),
            detail={"day": r.day.isoformat(), "count": r.count, "strangers": r.strangers})
            for r in rows])
        self.s.execute(delete(t).where(t.day < today))
        self.s.flush()
        return len(rows)

    def add_head(self, size: int, root: bytes, timestamp_ms: int, signature: bytes) -> None:
        self.s.add(LogHeadRow(size=size, root=root, timestamp_ms=timestamp_ms,
                              signature=signature))

    def size(self) -> int:
        return self.s.scalar(select(func.coalesce(func.max(LogHeadRow.size), 0))) or 0

    def head(self, size: int) -> LogHeadRow | None:
        return self.s.get(LogHeadRow, size)

    def node(self, level: int, index: int) -> bytes | None:
        if level == 0:  # a leaf is its own level-0 node
            return self.s.scalar(select(LogLeafRow.leaf_hash).where(LogLeafRow.index == index))
        return self.s.scalar(select(LogNodeRow.hash).where(LogNodeRow.level == level,
                                                           LogNodeRow.index == index))

    def leaves_of(self, person_id: str, below: int) -> list[LogLeafRow]:
        return list(self.s.scalars(select(LogLeafRow).where(
            LogLeafRow.person_id == person_id, LogLeafRow.index < below)
            .order_by(LogLeafRow.index)))


_ADD_BATCH = insert(TallyBatchRow.__table__)
FOLD_BATCHES = 1000  # batches read per fold statement round


def add_to_tallies(session: Session, kind: str, day: date,
                   counts: dict[str, tuple[int, int]]) -> None:
    """Add (count, strangers) to each person's tally of `kind` for `day`, in the caller's
    transaction: one row in `tally_batches`, which `fold_tallies` adds to `daily_tallies`
    (the background job, each interval; and before a day is closed, an export or an
    erasure). A sync that finds 300 people writes one row instead of 300 upserts."""
    if not counts:
        return
    session.connection().execute(_ADD_BATCH, {"kind": kind, "day": day, "counts": json.dumps(
        counts, separators=(",", ":"))})


def fold_tallies(session: Session) -> int:
    """Add every waiting batch to `daily_tallies` and delete it, in the caller's transaction
    (run under the log's append lock, so two processes never fold the same batch). People
    erased since are skipped: their tallies went with them. Returns the batches folded."""
    b, t = TallyBatchRow, DailyTallyRow.__table__
    pg = session.get_bind().dialect.name == "postgresql"
    folded = 0
    while True:
        batches = session.execute(select(b.id, b.kind, b.day, b.counts).order_by(b.id)
                                  .limit(FOLD_BATCHES)).all()
        if not batches:
            return folded
        totals: dict[tuple[str, date, str], list[int]] = {}
        for batch in batches:
            for pid, (count, strangers) in json.loads(batch.counts).items():
                total = totals.setdefault((pid, batch.day, batch.kind), [0, 0])
                total[0] += count
                total[1] += strangers
        people = sorted({pid for pid, _, _ in totals})
        alive: set[str] = set()
        for k in range(0, len(people), 5000):
            alive.update(session.scalars(select(Person.id).where(
                any_of(Person.id, people[k:k + 5000], pg))))
        stmt = (pg_insert if pg else sqlite_insert)(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.person_id, t.c.day, t.c.kind],
            set_={"count": t.c.count + stmt.excluded.count,
                  "strangers": t.c.strangers + stmt.excluded.strangers})
        rows = [{"person_id": pid, "day": day, "kind": kind, "count": c, "strangers": s}
                for (pid, day, kind), (c, s) in sorted(totals.items()) if pid in alive]
        if rows:
            session.execute(stmt, rows)
        session.execute(delete(b).where(any_of(b.id, [x.id for x in batches], pg)))
        folded += len(batches)


def tallies_of(session: Session, person_id: str) -> list[Row]:
    """The person's running tallies (today's, until the sequencer logs them)."""
    t = DailyTallyRow
    return list(session.execute(select(t.day, t.kind, t.count, t.strangers)
                                .where(t.person_id == person_id).order_by(t.day, t.kind)))
