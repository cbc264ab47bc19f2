"""Shared fixtures: a fresh database per backend (SQLite always; PostgreSQL when it answers,
required when CI=true), a movable clock, a platform wired like production, a live server."""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa
from argon2 import PasswordHasher

from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.adapters.passwords import Passwords
from palisade.adapters.storage.repository import Repository
from palisade.bootstrap import Platform, build, initialise
from palisade.config import Settings

CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("PALISADE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PALISADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def positive_figure(value: object) -> bool:
    """A benchmark figure that is a finite number above zero."""
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _service_missing(what: str, why: Exception) -> None:
    message = f"{what} is not reachable ({type(why).__name__}: {why})"
    if CI:
        pytest.fail(f"{message}; with CI=true the {what} tests are required", pytrace=False)
    pytest.skip(f"{message}; set it up to run these tests")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        engine.dispose()
        _service_missing("PostgreSQL", exc)
    yield engine
    engine.dispose()


def fresh_postgres_database(admin: sa.Engine) -> tuple[str, str]:
    name = "palisade_test_" + secrets.token_hex(6)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name, admin.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def module_postgres(postgres_admin: sa.Engine) -> Iterator[str]:
    """A fresh PostgreSQL database for one test module, dropped afterwards."""
    name, url = fresh_postgres_database(postgres_admin)
    yield url
    drop_postgres_database(postgres_admin, name)


def drop_postgres_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """One migrated database per backend for the session; tests make their own people."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'palisade.db'}"
        yield url
        return
    admin = request.getfixturevalue("postgres_admin")
    name, url = fresh_postgres_database(admin)
    yield url
    drop_postgres_database(admin, name)


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _service_missing("Redis", exc)
    yield client
    client.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Path:
    """One home (keyring) per database: a key rotation in one cannot strand the other."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def migrated(database_url: str, home: Path) -> str:
    initialise(Settings(home=home, database_url=database_url, _env_file=None))
    return database_url


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    # Cheap argon2id parameters for tests only; production uses the library's RFC 9106 profile.
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def settings(migrated: str, home: Path) -> Settings:
    return Settings(home=home, database_url=migrated, _env_file=None,
                    code_sends_per_address_per_hour=10_000)


@pytest.fixture
def app_world(settings: Settings, clock: FakeClock, passwords: Passwords):  # type: ignore[no-untyped-def]
    """A platform whose public URL is the TestClient's, wrapped for the app tests."""
    from tests.apps_world import BASE, AppWorld

    p = build(settings.model_copy(update={"public_url": BASE}), clock=clock,
              limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    yield AppWorld(p)
    p.close()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock, passwords: Passwords) -> Iterator[Platform]:
    p = build(settings, clock=clock, limiter=MemoryRateLimiter(clock.timestamp),
              passwords=passwords)
    yield p
    p.close()


_numbers = iter(range(10**9))


_run_offset = secrets.randbelow(2000) * 1000  # separate runs against one database differ


def unique_phone() -> str:
    """A fresh synthetic number (NANP 555 exchange) no other test uses in this session."""
    n = next(_numbers) + _run_offset
    codes = _area_codes()
    return f"+1{codes[n % len(codes)]}555{(n // len(codes)) % 9900 + 100:04d}"


_AREA_CODES: list[int] = []


def _area_codes() -> list[int]:
    if not _AREA_CODES:
        from palisade.demo.population import synthetic_area_codes

        _AREA_CODES.extend(synthetic_area_codes())
    return _AREA_CODES


def unique_email() -> str:
    return f"person.{secrets.token_hex(6)}@example.org"


CODE = re.compile(r"code is (\d{6})")


def last_code(platform: Platform, to: str) -> str:
    with platform.uow() as session:
        for row in platform.outbox.read(Repository(session), 50):
            if row["to"] == to:
                match = CODE.search(row["text"])
                assert match
                return match.group(1)
    raise AssertionError("no code was sent")


def wrong_code(code: str) -> str:
    """A well-formed code that is certainly not `code`."""
    return f"{(int(code) + 1) % 10**6:06d}"


@dataclass
class Person:
    id: str
    token: str
    phone: str


def register(platform: Platform, phone: str | None = None, name: str | None = None) -> Person:
    """Register through the real code flow, optionally setting a name."""
    phone = phone or unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    result = platform.accounts.sign_in_with_code(phone, last_code(platform, phone))
    if name:
        platform.profiles.update(result.person_id, {"name": name}, {})
    return Person(result.person_id, result.token, phone)


def age_account(platform: Platform, person: Person, days: float = 60.0) -> Person:
    """Backdate an account's creation (a member for `days` already): old accounts vouch for
    the people in their synced books, fresh ones do not (DiscoveryLimits.vouches)."""
    from palisade.adapters.storage.tables import Person as PersonRow

    with platform.uow() as session:
        session.execute(sa.update(PersonRow).where(PersonRow.id == person.id).values(
            created_at=platform.clock() - timedelta(days=days)))
    return person


def befriend(platform: Platform, a: Person, b: Person) -> None:
    platform.social.send_request(a.id, b.id)
    assert platform.social.send_request(b.id, a.id).status == "friends"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A `palisade serve` subprocess. Its output is drained by a thread as it comes, so a
    burst of log lines can never fill the pipe and block the server mid-request."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    lines: list[bytes]
    drainer: threading.Thread

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def output(self) -> str:
        return b"".join(self.lines).decode(errors="replace")


def start_server(env_overrides: dict[str, str], home: Path, workers: int = 1) -> LiveServer:
    port = free_port()
    env = {**os.environ, "PALISADE_HOME": str(home),
           "PALISADE_PUBLIC_URL": f"http://127.0.0.1:{port}", **env_overrides}
    cmd = [sys.executable, "-m", "palisade.entrypoints.cli", "serve", "--port", str(port),
           "--workers", str(workers)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[bytes] = []
    assert process.stdout is not None
    drainer = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, b"")),
                               daemon=True)
    drainer.start()
    server = LiveServer(f"http://127.0.0.1:{port}", env, process, lines, drainer)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            drainer.join(timeout=5)
            raise RuntimeError("server exited: " + server.output()[-2000:])
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("server did not start")


def stop_server(server: LiveServer) -> str:
    """Stop the server and return everything it printed."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.drainer.join(timeout=5)
    return server.output()


# Limits wide enough that a test flow is never throttled (the limits have their own tests).
RELAXED_LIMITS = {
    "PALISADE_CODE_SENDS_PER_ADDRESS_PER_HOUR": "100000",
    "PALISADE_CODE_SENDS_PER_IDENTIFIER_PER_HOUR": "100000",
    "PALISADE_CODE_RESEND_INTERVAL_SECONDS": "0",
    "PALISADE_PASSWORD_ATTEMPTS_PER_IDENTIFIER_PER_15MIN": "100000",
}


@contextmanager
def serving(home: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """A live server with relaxed limits for the duration of the block."""
    live = start_server({**RELAXED_LIMITS, **(env or {})}, home)
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server (SQLite, relaxed limits) per test module that asks for it."""
    with serving(tmp_path_factory.mktemp("live-home")) as live:
        yield live


@pytest.fixture(scope="module")
def live_platform(live_server: LiveServer) -> Iterator[Platform]:
    """The live server's home and database, read directly: only to read codes from the
    outbox, as a person would read their phone."""
    p = build(Settings(home=Path(live_server.env["PALISADE_HOME"]), _env_file=None))
    yield p
    p.close()


CHROMIUM = os.environ.get("PALISADE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if CI:
            pytest.fail(f"Chromium is required with CI=true ({CHROMIUM})", pytrace=False)
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
