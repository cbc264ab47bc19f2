"""Address-book edges hold only people, without foreign keys (both backends; the races on
PostgreSQL, where two transactions really run at once).

A sync holds what its edges point at until it commits: the searcher's own row (FOR KEY SHARE,
read with the searcher's facts) and the identifier rows of the others its book matched (FOR
KEY SHARE, read by the look-up). Erasure first takes the person's identifier rows, then their
row, FOR UPDATE: the order a sync takes them in. So an erasure waits for a sync that found the
person (or is the person's own), then deletes that sync's edges with the rest, a sync that
comes after the erasure finds nobody to write an edge to, and neither ever waits for the other
while holding what the other needs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text

from palisade.adapters.storage.repository import Repository
from palisade.bootstrap import Platform
from tests.conftest import register


def edges_touching(platform: Platform, person_id: str) -> int:
    with platform.uow() as session:
        return session.execute(text(
            "SELECT count(*) FROM address_book_edges WHERE owner_id = :p OR contact_id = :p"),
            {"p": person_id}).scalar_one()


def bidxs_of(platform: Platform, *person_ids: str) -> list[bytes]:
    with platform.uow() as session:
        repo = Repository(session)
        return [row.value_bidx for pid in person_ids for row in repo.identifiers_of(pid)]


def test_edges_are_written_once_with_what_was_shown(platform: Platform) -> None:
    a, b, c = register(platform), register(platform), register(platform)
    now = platform.clock()
    with platform.uow() as session:
        repo = Repository(session)
        repo.add_edges_always(a.id, [b.id, c.id], now, True, revealed=[b.id])
        repo.add_edges_always(a.id, [b.id], now, False)  # already there: left as it is
        repo.add_edges_always(a.id, [], now, True)  # runs, writes nothing
    with platform.uow() as session:
        rows = session.execute(text(
            "SELECT contact_id, revealed_at IS NOT NULL, vouches FROM address_book_edges "
            "WHERE owner_id = :a ORDER BY contact_id = :b DESC"), {"a": a.id, "b": b.id}).all()
    assert [tuple(r) for r in rows] == [(b.id, True, True), (c.id, False, True)]


def _postgresql_only(platform: Platform) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: no race to test")


def _in_background(work: Callable[[], object]) -> tuple[threading.Thread, threading.Event,
                                                        list[object]]:
    done, out = threading.Event(), []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertions
            out.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, out


def test_erasure_waits_for_a_sync_that_found_the_person(platform: Platform) -> None:
    _postgresql_only(platform)
    a, b, c = register(platform), register(platform), register(platform)
    with platform.uow() as session:  # a's sync, mid-transaction: found b and c, wrote edges
        repo = Repository(session)
        found = {r.person_id for r in repo.members_by_bidx(bidxs_of(platform, b.id, c.id),
                                                           hold_for=a.id)}
        assert found == {b.id, c.id}
        repo.add_edges_always(a.id, sorted(found), platform.clock(), True)
        eraser, done, out = _in_background(lambda: platform.maintenance.erase(b.id))
        assert not done.wait(1.0), "the erasure did not wait for the sync that found b"
    eraser.join(30)
    assert done.is_set() and not isinstance(out[0], Exception), out
    assert edges_touching(platform, b.id) == 0  # the sync's edge to b went with b
    assert edges_touching(platform, c.id) == 1  # a's edge to c stays


def test_erasure_of_the_searcher_waits_for_their_own_sync(platform: Platform) -> None:
    _postgresql_only(platform)
    a, c = register(platform), register(platform)
    now = platform.clock()
    with platform.uow() as session:  # a's own sync, mid-transaction
        repo = Repository(session)
        assert repo.sync_facts(a.id, now) is not None
        repo.add_edges_always(a.id, [c.id], now, True)
        eraser, done, out = _in_background(lambda: platform.maintenance.erase(a.id))
        assert not done.wait(1.0), "the erasure did not wait for the searcher's sync"
    eraser.join(30)
    assert done.is_set() and not isinstance(out[0], Exception), out
    assert edges_touching(platform, a.id) == 0


def test_a_sync_after_an_erasure_finds_nobody_to_write_an_edge_to(platform: Platform) -> None:
    _postgresql_only(platform)
    a, b = register(platform), register(platform)
    b_bidxs = bidxs_of(platform, b.id)

    def sync_a() -> list[str]:
        with platform.uow() as session:
            repo = Repository(session)
            found = [r.person_id for r in repo.members_by_bidx(b_bidxs, hold_for=a.id)]
            repo.add_edges_always(a.id, found, platform.clock(), True)
            return found

    def sync_b() -> object:
        with platform.uow() as session:
            return Repository(session).sync_facts(b.id, platform.clock())

    with platform.uow() as session:  # an erasure of b, mid-transaction
        repo = Repository(session)
        assert repo.lock_person(b.id)
        repo.erase_person(b.id)
        finder, found_done, found = _in_background(sync_a)
        own, own_done, own_facts = _in_background(sync_b)
        assert not found_done.wait(1.0), "a sync looked b up during b's erasure"
        assert not own_done.wait(0.1), "b's own sync read b's facts during the erasure"
    finder.join(30)
    own.join(30)
    assert found == [[]] and own_facts == [None]
    assert edges_touching(platform, b.id) == 0


def test_syncs_sharing_a_contact_do_not_wait_for_each_other(platform: Platform) -> None:
    """The locks are FOR KEY SHARE (what a foreign-key check takes), which other syncs' locks
    do not conflict with: two people with the same contact in their books sync at once."""
    _postgresql_only(platform)
    a, b, c = register(platform), register(platform), register(platform)
    now = platform.clock()

    def sync(owner: str, others: list[str]) -> None:
        with platform.uow() as session:
            repo = Repository(session)
            repo.sync_facts(owner, now)
            found = [r.person_id for r in repo.members_by_bidx(bidxs_of(platform, *others),
                                                               hold_for=owner)]
            repo.add_edges_always(owner, found, now, True)

    with platform.uow() as session:  # a's sync, mid-transaction, holding a, b and c
        repo = Repository(session)
        repo.sync_facts(a.id, now)
        repo.members_by_bidx(bidxs_of(platform, b.id, c.id), hold_for=a.id)
        repo.add_edges_always(a.id, [b.id, c.id], now, True)
        other, done, out = _in_background(lambda: sync(b.id, [c.id, a.id]))
        assert done.wait(10), "a sync waited for another sync's locks"
    other.join(30)
    assert not any(isinstance(x, Exception) for x in out), out
    assert edges_touching(platform, c.id) == 2


def test_a_sync_that_hides_a_person_being_erased_does_not_deadlock(platform: Platform) -> None:
    """A sync that found b may write rows about b after its look-up (b hidden from strangers:
    a discovery state and a notice, whose foreign keys take b's row FOR KEY SHARE). Erasure
    takes b's identifiers before b's row, in the order a sync takes them, so it waits for the
    sync instead of holding b's row while the sync waits for it."""
    _postgresql_only(platform)
    a, b = register(platform), register(platform)
    now = platform.clock()
    with platform.uow() as session:  # a's sync, mid-transaction: found b
        repo = Repository(session)
        repo.sync_facts(a.id, now)
        assert [r.person_id for r in repo.members_by_bidx(bidxs_of(platform, b.id),
                                                          hold_for=a.id)] == [b.id]
        eraser, done, out = _in_background(lambda: platform.maintenance.erase(b.id))
        assert not done.wait(0.5)
        repo.upsert_discovery_state(b.id, now, hidden_until=now)  # takes b's row (FK)
    eraser.join(30)
    assert done.is_set() and not isinstance(out[0], Exception), out
    with platform.uow() as session:
        assert Repository(session).discovery_state(b.id) is None


def test_a_persons_own_sync_and_their_erasure_do_not_deadlock(platform: Platform) -> None:
    """The searcher's own identifiers are read, never held, by their sync: it holds the
    searcher's row already, and erasure takes the identifiers first."""
    _postgresql_only(platform)
    b = register(platform)
    now = platform.clock()
    with platform.uow() as session:  # b's own sync, with b's own number in the book
        repo = Repository(session)
        assert repo.sync_facts(b.id, now) is not None
        eraser, done, out = _in_background(lambda: platform.maintenance.erase(b.id))
        assert not done.wait(0.5), "the erasure did not wait for the person's own sync"
        own = repo.members_by_bidx(bidxs_of(platform, b.id), hold_for=b.id)
        assert [r.person_id for r in own] == [b.id]
        repo.add_edges_always(b.id, [], now, True)
    eraser.join(30)
    assert done.is_set() and not isinstance(out[0], Exception), out


def test_an_erasure_waiting_for_a_sync_does_not_hold_up_the_access_log(
        platform: Platform) -> None:
    _postgresql_only(platform)
    from palisade.adapters.storage.log_repository import LogRepository

    a, b = register(platform), register(platform)
    with platform.uow() as session:  # a's sync, mid-transaction: found b
        repo = Repository(session)
        repo.members_by_bidx(bidxs_of(platform, b.id), hold_for=a.id)
        eraser, done, out = _in_background(lambda: platform.maintenance.erase(b.id))
        assert not done.wait(0.5)
        with platform.uow() as other:  # the log's sequencer, meanwhile
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            LogRepository(other).lock_appends()
    eraser.join(30)
    assert done.is_set() and not isinstance(out[0], Exception), out


def test_syncs_and_erasures_take_a_persons_identifiers_in_one_order(platform: Platform) -> None:
    """A sync locks the identifier rows it found, and erasure a person's, sorted by id (as
    bytes): with a person's phone and email in one book, a sync can never hold one of them
    while the erasure holds the other. Checked on PostgreSQL's plans: the rows are locked
    above the sort."""
    _postgresql_only(platform)
    from palisade.adapters.storage import repository as storage

    a, b = register(platform), register(platform)
    with platform.uow() as session:
        repo = Repository(session)
        repo.members_by_bidx(bidxs_of(platform, b.id), hold_for=a.id)
        conn = session.connection()
        keys = []
        for stmt, params in ((storage._members_statement("held"),
                              {"bidxs": bidxs_of(platform, b.id), "searcher": a.id}),
                             (storage.TAKE_IDENTIFIERS, {"person": b.id})):
            compiled = stmt.compile(dialect=conn.dialect)
            plan = [re.sub(r"\w+\.", "", line.strip()) for line in conn.exec_driver_sql(
                "EXPLAIN (COSTS OFF) " + str(compiled),
                {**compiled.params, **params}).scalars()]
            lock = next(i for i, line in enumerate(plan) if "LockRows" in line)
            key = next(line for line in plan[lock:] if line.startswith("Sort Key:"))
            keys.append(re.sub(r"::character varying\(\d+\)|[()]", "", key))
        assert keys == ['Sort Key: id COLLATE "C"'] * 2, keys
