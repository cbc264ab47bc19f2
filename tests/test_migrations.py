"""Alembic migrations: they build the schema on both backends, run twice safely, and match
the models exactly (so no change to the models ships without its migration)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column, create_engine, table, text

from palisade.adapters.crypto.seen_tags import unpack
from palisade.adapters.storage.database import alembic_config, migrate
from palisade.adapters.storage.tables import Base, UTCDateTime
from tests.conftest import drop_postgres_database, fresh_postgres_database


def test_models_match_migrations(migrated: str) -> None:
    migrate(migrated)  # a second run is a no-op
    engine = create_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    name, url = fresh_postgres_database(admin)
    yield url
    drop_postgres_database(admin, name)


def test_0003_moves_seen_tags_and_marks_old_owners_as_vouching(empty_database: str) -> None:
    """Data written under 0002 survives 0003 and its downgrade: seen tags packed one row a
    person and back; an old account's edges vouch, a fresh account's do not."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0002")
    engine = create_engine(empty_database)
    now = datetime.now(UTC)
    persons = table("persons", column("id"), column("created_at", UTCDateTime()),
                    column("password_hash"))
    with engine.begin() as conn:
        conn.execute(persons.insert(), [
            {"id": "old", "created_at": now - timedelta(days=400), "password_hash": None},
            {"id": "new", "created_at": now - timedelta(days=2), "password_hash": None}])
        conn.execute(text("INSERT INTO address_book_edges (owner_id, contact_id, created_at) "
                          "VALUES ('old', 'new', :t), ('new', 'old', :t)"), {"t": now})
        conn.execute(text("INSERT INTO discovery_seen (person_id, tag) VALUES "
                          "('old', 7), ('old', 1048575), ('new', 3)"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        vouches = dict(conn.execute(text(
            "SELECT owner_id, vouches FROM address_book_edges")).all())
        sets = {p: unpack(b) for p, b in conn.execute(text(
            "SELECT person_id, tags FROM discovery_seen_sets")).all()}
    assert vouches == {"old": True, "new": False}
    assert sets == {"old": {7, 1048575}, "new": {3}}
    command.downgrade(config, "0002")
    with engine.connect() as conn:
        rows = set(conn.execute(text("SELECT person_id, tag FROM discovery_seen")).all())
    assert rows == {("old", 7), ("old", 1048575), ("new", 3)}
    engine.dispose()
