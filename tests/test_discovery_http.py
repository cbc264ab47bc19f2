"""Contact discovery over HTTP against real `palisade serve` processes: the sync contract,
settings, escalation to re-verification with the operator's alert list, addresses that cannot
be spoofed, and one account's budget shared by several server processes through Redis."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from palisade.bootstrap import Platform, build
from palisade.config import Settings
from tests.conftest import (
    REDIS_URL,
    LiveServer,
    Person,
    age_account,
    last_code,
    serving,
    start_server,
    stop_server,
    unique_phone,
)

ADMIN = "operator-" + secrets.token_urlsafe(16)
PROBLEM_JSON = "application/problem+json"


def new_address() -> str:
    return "2001:db8:{}:{}::1".format(*(secrets.token_hex(2) for _ in range(2)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    limits = {"sweep_block_numbers": 20}
    with serving(tmp_path_factory.mktemp("discovery-home"), {
            "PALISADE_ADMIN_TOKEN": ADMIN, "PALISADE_DISCOVERY_LIMITS": json.dumps(limits),
            "PALISADE_TRUSTED_PROXIES": '["127.0.0.1/32"]'}) as live:
        yield live


@pytest.fixture(scope="module")
def outbox(server: LiveServer) -> Iterator[Platform]:
    p = build(Settings(home=Path(server.env["PALISADE_HOME"]), _env_file=None))
    yield p
    p.close()


class Client:
    def __init__(self, url: str, platform: Platform, address: str | None = None) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.platform = platform
        self.address = address or new_address()
        self.phone = unique_phone()
        self.http.headers["X-Forwarded-For"] = self.address
        self.http.post("/v1/auth/codes", json={"identifier": self.phone}).raise_for_status()
        signed = self.http.post("/v1/auth/sessions", json={
            "identifier": self.phone, "code": last_code(platform, self.phone)})
        signed.raise_for_status()
        self.id = signed.json()["person_id"]
        self.http.headers["Authorization"] = "Bearer " + signed.json()["token"]

    def sync(self, contacts: list[str], **extra: object) -> httpx.Response:
        return self.http.post("/v1/discovery/sync", json={"contacts": contacts, **extra})


def test_sync_finds_who_allows_it_with_only_their_public_fields(server, outbox) -> None:
    a, b = Client(server.url, outbox), Client(server.url, outbox)
    b.http.patch("/v1/me/profile", json={"fields": {"name": "Bea", "bio": "private"}}
                 ).raise_for_status()
    assert a.sync([b.phone]).json()["matches"] == []  # default: mutual contacts only
    [setting] = b.http.get("/v1/discovery/settings").json()
    assert setting["discoverability"] == "mutual_contacts"
    changed = b.http.put(f"/v1/discovery/settings/{setting['identifier_id']}",
                         json={"discoverability": "everyone"})
    assert changed.json()[0]["discoverability"] == "everyone"
    national = f"({b.phone[2:5]}) {b.phone[5:8]}-{b.phone[8:]}"
    assert a.sync([national]).json()["matches"] == []  # nobody knows a yet: no strangers
    knows_a = Client(server.url, outbox)  # a long-standing member (its vouch counts) ...
    age_account(outbox, Person(knows_a.id, "", knows_a.phone))
    knows_a.sync([a.phone]).raise_for_status()  # ... has a in their book: now someone does
    body = a.sync([national, "call me maybe", unique_phone()]).json()
    assert body["received"] == 3 and body["unreadable"] == 1
    assert body["matches"] == [{"person_id": b.id, "relationship": "stranger",
                                "identifiers": [b.phone], "fields": {"name": "Bea"}}]
    assert set(body) == {"matches", "received", "unreadable", "charged"}  # no hidden counts


def test_bad_input_is_a_clear_4xx(server, outbox) -> None:
    a = Client(server.url, outbox)
    r = a.sync(["x" * 321])
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM_JSON)
    r = a.http.post("/v1/discovery/sync", json={"mode": "sideways", "contacts": []})
    assert r.status_code == 422
    r = a.http.put("/v1/discovery/settings/abc", json={"discoverability": "everyone"})
    assert r.status_code == 404
    assert a.http.post("/v1/discovery/sync", json={}).status_code == 200  # nothing to do


def test_sweep_requires_reverification_and_alerts_the_operator(server, outbox) -> None:
    a = Client(server.url, outbox)
    area = unique_phone()[2:5]
    assert a.sync([f"+1{area}555{n:04d}" for n in range(100, 130)]).status_code == 200
    refused = a.sync([])
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/reverification-required")

    admin = httpx.Client(base_url=server.url, timeout=30)
    assert admin.get("/v1/admin/alerts").status_code == 401
    assert admin.get("/v1/admin/alerts", headers={"Authorization": "Bearer nope"}
                     ).status_code == 401
    alerts = admin.get("/v1/admin/alerts?limit=1000",
                       headers={"Authorization": f"Bearer {ADMIN}"}).json()
    mine = [x for x in alerts if x["account_id"] == a.id]
    assert [x["kind"] for x in mine] == ["range_sweep"] and mine[0]["level"] == "reverify"
    assert a.phone not in json.dumps(alerts)  # alerts never carry identifiers

    assert a.http.post("/v1/discovery/reverify/code", json={"identifier": a.phone}
                       ).status_code == 202
    ok = a.http.post("/v1/discovery/reverify",
                     json={"identifier": a.phone, "code": last_code(outbox, a.phone)})
    assert ok.status_code == 204
    assert a.sync([]).status_code == 200
    slowed = a.sync([])
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    metrics = httpx.get(server.url + "/metrics").text
    assert 'palisade_discovery_findings_total{kind="range_sweep"}' in metrics


def test_forwarded_for_is_ignored_from_untrusted_peers(tmp_path) -> None:
    limits = {"address_identifiers_per_day": 60}
    with serving(tmp_path, {"PALISADE_DISCOVERY_LIMITS": json.dumps(limits)}) as live:
        platform = build(Settings(home=tmp_path, _env_file=None))
        try:
            first = Client(live.url, platform, address="203.0.113.1")
            second = Client(live.url, platform, address="198.51.100.1")  # a lie: not trusted
            assert first.sync([unique_phone() for _ in range(40)]).status_code == 200
            refused = second.sync([unique_phone() for _ in range(40)])
            assert refused.status_code == 429  # both are the peer's address group
        finally:
            platform.close()


# --- several server processes, one budget ----------------------------------------------------------

@pytest.fixture(scope="module")
def database(module_postgres: str) -> str:
    return module_postgres


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("processes-home")  # one keyring for the one database


def processes(database: str, home: Path, redis_url: str) -> list[LiveServer]:
    env = {"PALISADE_DATABASE_URL": database, "PALISADE_REDIS_URL": redis_url,
           "PALISADE_TRUSTED_PROXIES": '["127.0.0.1/32"]',
           "PALISADE_CODE_SENDS_PER_ADDRESS_PER_HOUR": "1000",
           "PALISADE_DISCOVERY_LIMITS": json.dumps({"identifiers_initial": 50,
                                                    "identifiers_per_day": 0})}
    first = start_server(env, home)
    try:
        return [first, start_server(env, home)]
    except BaseException:
        stop_server(first)
        raise


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("shared", [True, False], ids=["redis", "control-without-redis"])
def test_one_accounts_budget_is_not_multiplied_by_processes(
        shared: bool, database: str, shared_home: Path, redis_client: redis.Redis) -> None:
    servers = processes(database, shared_home, REDIS_URL if shared else "")
    try:
        platform = build(Settings(home=shared_home, database_url=database, _env_file=None))
        try:
            a = Client(servers[0].url, platform)
            assert a.sync([unique_phone() for _ in range(30)]).status_code == 200
            other = httpx.Client(base_url=servers[1].url, headers=dict(a.http.headers),
                                 timeout=30)
            second = other.post("/v1/discovery/sync",
                                json={"contacts": [unique_phone() for _ in range(30)]})
        finally:
            platform.close()
    finally:
        for s in servers:
            stop_server(s)
    # With Redis the second process sees the 30 already spent (30 + 30 > 50); without it,
    # each process would grant its own 50, which is what this control shows.
    assert second.status_code == (429 if shared else 200)
