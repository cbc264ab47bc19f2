"""Engine creation, migrations, and the unit of work (one transaction per use case)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # A serving process copies the log back into the database file from a background
            # thread (checkpoint_wal); a commit does it itself only past this many pages
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _postgresql_session(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Every request-path query touches at most a few thousand rows; starting parallel
        # workers for one (which the planner did for a sync's union of small index scans)
        # costs more than the query, and takes cores from the other requests.
        with dbapi_conn.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_conn.commit()
        # Lists (every `= ANY(:array)` of ids or blind indexes) are sent in PostgreSQL's
        # binary array format: psycopg's default text format quotes and escapes each element
        # in Python (2 ms for a sync's 1,000 blind indexes, 0.16 ms in binary). SQLAlchemy
        # renders a cast on every array parameter, so the element type is never guessed.
        dbapi_conn.adapters.register_dumper(list, ListBinaryDumper)

    return engine


# SQLite's own default is 1,000 pages (4 MB): with it, every few syncs that write a few hundred
# address-book rows, one of them stops to copy the whole log into the database file and sync
# it to disk inside its own request. See checkpoint_wal.
WAL_AUTOCHECKPOINT_PAGES = 16_000


def checkpoint_wal(engine: Engine) -> None:
    """SQLite: copy what the write-ahead log holds into the database file, without waiting
    for readers or writers (PASSIVE); nothing on other databases. The serving process runs
    this every second from a background thread (sqlite3 releases the GIL while SQLite works),
    as SQLite's documentation suggests for applications that want to keep checkpoints out of
    their commits (https://sqlite.org/wal.html, "Application-Initiated Checkpoints"). The work
    is the same as automatic checkpointing; it is no longer done inside a request, and pages
    that several commits changed are copied once."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(url), "head")


class UnitOfWork:
    """Hands out a session whose changes commit together or not at all."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
