"""Alembic migrations: they build the schema on both backends, run twice safely, and match
the models exactly (so no change to the models ships without its migration)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from palisade.adapters.storage.database import migrate
from palisade.adapters.storage.tables import Base


def test_models_match_migrations(migrated: str) -> None:
    migrate(migrated)  # a second run is a no-op
    engine = create_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
