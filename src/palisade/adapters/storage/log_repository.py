"""Storage for the tamper-evident access log: pending events, leaves, the hashes of complete
subtrees and signed heads. Bulk statements (executemany), because the sequencer appends
thousands of leaves per transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session

from palisade.adapters.storage.repository import any_of
from palisade.adapters.storage.tables import (
    AccessEventRow,
    DataKey,
    LogHeadRow,
    LogLeafRow,
    LogNodeRow,
)

_APPEND_LOCK = 0x70616C6C6F67  # "pallog": the advisory lock that serializes appends
_EVENTS = AccessEventRow.__table__

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

    def pending_events(self, limit: int) -> Sequence[Row]:
        e = AccessEventRow
        return self.s.execute(
            select(e.id, e.person_id, e.actor_kind, e.actor_id, e.fields, e.purpose, e.outcome,
                   e.route, e.at)
            .where(e.log_index.is_(None), e.person_id.is_not(None))
            .order_by(e.id).limit(limit)).all()

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
        """Leaves as (index, person_id, person_seq, entry_ct, leaf_hash); nodes as
        (level, index, hash); placed as (log_index, event_id). Straight to the driver's
        executemany: these are the hot path of the sequencer, and SQLAlchemy's per-row
        parameter processing would cost more than the hashing and sealing."""
        conn = self.s.connection()
        p = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            "INSERT INTO log_leaves (index_, person_id, person_seq, entry_ct, leaf_hash) "
            f"VALUES ({p}, {p}, {p}, {p}, {p})".replace("index_", '"index"'), leaves)
        if nodes:
            conn.exec_driver_sql(
                f'INSERT INTO log_nodes (level, "index", hash) VALUES ({p}, {p}, {p})', nodes)
        conn.exec_driver_sql(f"UPDATE access_events SET log_index = {p} WHERE id = {p}",
                             placed)

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
