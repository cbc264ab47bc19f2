"""What a serving process sets up for itself (docs/operations.md): SQLite checkpoints off the
request path, no parallel workers and binary array parameters for PostgreSQL sessions, a
settled garbage collector."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sqlalchemy import text

from palisade.adapters.storage.database import (
    WAL_AUTOCHECKPOINT_PAGES,
    checkpoint_wal,
    make_engine,
)
from palisade.entrypoints.http.app import GC_YOUNG_THRESHOLD, settle_garbage_collector


def test_sqlite_checkpoints_are_left_to_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == \
                WAL_AUTOCHECKPOINT_PAGES
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
        with engine.begin() as conn:  # about 2,000 pages: past SQLite's own 1,000 default
            for _ in range(200):
                conn.execute(text("INSERT INTO t VALUES (randomblob(40000))"))
        assert path.stat().st_size < 1_000_000  # the commit left the pages in the log ...
        checkpoint_wal(engine)  # ... for the serving process's thread
        assert path.stat().st_size > 8_000_000
        with engine.connect() as conn:
            _, in_log, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            assert copied == in_log > 1_000
    finally:
        engine.dispose()


def test_postgresql_sessions_plan_without_parallel_workers(migrated: str) -> None:
    if not migrated.startswith("postgresql"):
        pytest.skip("PostgreSQL setting")
    engine = make_engine(migrated)
    try:
        checkpoint_wal(engine)  # nothing to do on PostgreSQL
        for _ in range(2):  # also after the pool has rolled the connection back
            with engine.connect() as conn:
                assert conn.exec_driver_sql(
                    "SHOW max_parallel_workers_per_gather").scalar() == "0"
                conn.rollback()
    finally:
        engine.dispose()


def test_postgresql_sessions_send_lists_as_binary_arrays(migrated: str) -> None:
    """Every `= ANY(:array)` parameter (a sync's 1,000 blind indexes, hundreds of ids) goes in
    PostgreSQL's binary array format, which psycopg packs without escaping each element in
    Python; the values arrive unchanged whatever they hold."""
    if not migrated.startswith("postgresql"):
        pytest.skip("PostgreSQL setting")
    from psycopg.adapt import PyFormat
    from psycopg.types.array import ListBinaryDumper

    engine = make_engine(migrated)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            assert raw.adapters.get_dumper(list, PyFormat.AUTO) is ListBinaryDumper
            texts = ["a", "b'c", 'd"e', "{f,g}", "h\\i", "", None]
            assert conn.exec_driver_sql("SELECT %(v)s::text[]", {"v": texts}).scalar() == texts
            blobs = [b"\x00\xff", b"", bytes(range(256))]
            assert [bytes(b) for b in conn.exec_driver_sql(
                "SELECT %(v)s::bytea[]", {"v": blobs}).scalar()] == blobs
            assert conn.exec_driver_sql("SELECT cardinality(%(v)s::text[])",
                                        {"v": []}).scalar() == 0
    finally:
        engine.dispose()


def test_the_garbage_collector_is_settled_once_the_app_is_wired() -> None:
    before = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_serving_app_checkpoints_sqlite_in_the_background(platform, monkeypatch) -> None:
    import time

    from fastapi.testclient import TestClient

    from palisade.entrypoints.http import app as app_module

    calls: list[object] = []
    monkeypatch.setattr(app_module, "WAL_CHECKPOINT_SECONDS", 0.02)
    monkeypatch.setattr(app_module, "checkpoint_wal", calls.append)
    with TestClient(app_module.create_app(platform)):
        time.sleep(0.3)
    sqlite = platform.engine.dialect.name == "sqlite"
    assert (len(calls) >= 2 and set(map(id, calls)) == {id(platform.engine)}) if sqlite \
        else calls == []
