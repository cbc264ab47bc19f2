"""Apps on the production path for real: two `palisade serve` workers on PostgreSQL and Redis.
A DPoP proof is accepted once across both processes (the jti seen-set is in Redis), and
revoking everyone's tokens is one write that every process honours on its next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from palisade.bootstrap import Platform, build
from palisade.config import Settings
from tests.apps_helpers import graph_me, http_person, issue_over_http, register_app
from tests.conftest import REDIS_URL, LiveServer, start_server, stop_server
from tests.dpop_client import DPoPKey

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ADMIN = "operator-token-for-tests"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apps-production")


@pytest.fixture(scope="module")
def production(module_postgres: str, home: Path, redis_client: redis.Redis
               ) -> Iterator[LiveServer]:
    running = start_server({
        "PALISADE_DATABASE_URL": module_postgres, "PALISADE_REDIS_URL": REDIS_URL,
        "PALISADE_ADMIN_TOKEN": ADMIN,
        "PALISADE_CODE_SENDS_PER_ADDRESS_PER_HOUR": "100000",
        "PALISADE_PASSWORD_ATTEMPTS_PER_IDENTIFIER_PER_15MIN": "100000",
        "PALISADE_CODE_RESEND_INTERVAL_SECONDS": "0"}, home, workers=2)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def outbox(production: LiveServer, home: Path, module_postgres: str) -> Iterator[Platform]:
    p = build(Settings(home=home, database_url=module_postgres, _env_file=None))
    yield p
    p.close()


def fresh(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request over a connection of its own, so the kernel spreads them over workers."""
    with httpx.Client(base_url=url, timeout=30) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def issue(production: LiveServer, outbox: Platform) -> tuple[str, DPoPKey]:
    with production.client() as client:
        dev = http_person(client, outbox, "Dev")
        ada = http_person(client, outbox, "Ada")
        client_id, secret = register_app(client, dev, {"name": ["personalisation"]})
    return issue_over_http(production.url, client_id, secret, ada, "name:personalisation")


def test_a_proof_is_accepted_once_across_processes(production: LiveServer,
                                                   outbox: Platform) -> None:
    token, key = issue(production, outbox)
    for _ in range(8):  # new connections: replays land on either worker
        proof = key.proof("GET", production.url + "/v1/graph/me", token)
        assert graph_me(production.url, token, key, proof).status_code == 200
        replay = graph_me(production.url, token, key, proof)
        assert replay.status_code == 401
        assert 'error="invalid_dpop_proof"' in replay.headers["www-authenticate"]


def test_revoking_everyone_is_one_write_seen_by_every_process(production: LiveServer,
                                                               outbox: Platform) -> None:
    token, key = issue(production, outbox)
    assert all(graph_me(production.url, token, key).status_code == 200 for _ in range(6))
    r = fresh(production.url, "POST", "/v1/admin/tokens/revoke",
              headers={"Authorization": f"Bearer {ADMIN}"}, json={"everyone": True})
    assert r.status_code == 200, r.text
    revoked_at = time.monotonic()
    statuses = [graph_me(production.url, token, key).status_code for _ in range(10)]
    assert statuses == [401] * 10
    assert time.monotonic() - revoked_at < 5  # ten round trips; the first was already refused
