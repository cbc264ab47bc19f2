"""Address-book edges hold only people, without foreign keys (both backends; the races on
PostgreSQL, where two transactions really run at once).

The one statement that writes edges takes the owner and the contacts from `persons` and locks
those rows FOR KEY SHARE; erasure takes the person's row FOR UPDATE before anything else. So
an erasure waits for a sync that is writing edges to or from the person, then deletes those
edges, and a sync that comes after the erasure finds nobody to write an edge to.
"""

from __future__ import annotations

import threading

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


def test_only_people_get_edges(platform: Platform) -> None:
    a, b = register(platform), register(platform)
    now = platform.clock()
    with platform.uow() as session:
        repo = Repository(session)
        repo.add_edges_always(a.id, [b.id, "nobody-has-this-id"], now, True, revealed=[b.id])
        repo.add_edges_always("nobody-has-this-id", [a.id, b.id], now, True)
        repo.add_edges_always(a.id, [], now, True)  # runs, writes nothing
    with platform.uow() as session:
        rows = session.execute(text(
            "SELECT owner_id, contact_id, revealed_at IS NOT NULL FROM address_book_edges "
            "WHERE owner_id IN (:a, :b, 'nobody-has-this-id') "
            "OR contact_id = 'nobody-has-this-id'"), {"a": a.id, "b": b.id}).all()
    assert [tuple(r) for r in rows] == [(a.id, b.id, True)]


def _postgresql_only(platform: Platform) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: no race to test")


def test_erasure_waits_for_a_sync_writing_edges_to_the_person(platform: Platform) -> None:
    _postgresql_only(platform)
    a, b, c = register(platform), register(platform), register(platform)
    done = threading.Event()
    errors: list[Exception] = []

    def erase_b() -> None:
        try:
            platform.maintenance.erase(b.id)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    with platform.uow() as session:  # a sync of a's book, mid-transaction
        Repository(session).add_edges_always(a.id, [b.id, c.id], platform.clock(), True)
        eraser = threading.Thread(target=erase_b)
        eraser.start()
        assert not done.wait(1.0), "the erasure did not wait for the sync holding b's row"
    eraser.join(30)
    assert done.is_set() and not errors
    assert edges_touching(platform, b.id) == 0  # the sync's edge to b went with b
    assert edges_touching(platform, c.id) == 1  # a's edge to c stays


def test_a_sync_after_an_erasure_writes_no_edge_to_the_erased(platform: Platform) -> None:
    _postgresql_only(platform)
    a, b = register(platform), register(platform)
    done = threading.Event()

    def sync_a() -> None:
        try:
            with platform.uow() as session:
                Repository(session).add_edges_always(a.id, [b.id], platform.clock(), True)
        finally:
            done.set()

    with platform.uow() as session:  # an erasure of b, mid-transaction
        repo = Repository(session)
        assert repo.lock_person(b.id)
        repo.erase_person(b.id)
        syncer = threading.Thread(target=sync_a)
        syncer.start()
        assert not done.wait(1.0), "the sync did not wait for the erasure holding b's row"
    syncer.join(30)
    assert done.is_set()
    assert edges_touching(platform, b.id) == 0
    with platform.uow() as session:
        assert not Repository(session).lock_person(b.id)


def test_syncs_sharing_a_contact_do_not_wait_for_each_other(platform: Platform) -> None:
    """The lock is FOR KEY SHARE (what a foreign-key check takes), which other syncs' locks
    do not conflict with: two people with the same contact in their books sync at once."""
    _postgresql_only(platform)
    a, b, c = register(platform), register(platform), register(platform)
    done = threading.Event()

    def sync_b() -> None:
        with platform.uow() as session:
            Repository(session).add_edges_always(b.id, [c.id, a.id], platform.clock(), True)
        done.set()

    with platform.uow() as session:  # a's sync, mid-transaction, holding c's and a's rows
        Repository(session).add_edges_always(a.id, [c.id, b.id], platform.clock(), True)
        other = threading.Thread(target=sync_b)
        other.start()
        assert done.wait(10), "a sync waited for another sync's locks"
    other.join(30)
    assert edges_touching(platform, c.id) == 2
