"""Partners (incident 3): operator-made agreements with scopes, purposes, legal basis and
dates; client credentials + DPoP; nothing about a person flows before that person opts in;
the same firewall; and the end of an agreement is the end of access."""

from __future__ import annotations

from datetime import timedelta

import pytest

from palisade.domain.errors import InvalidInput
from tests.apps_world import BASE, AppWorld, Issued
from tests.dpop_client import DPoPKey

ADMIN = "test-operator-token"


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    return app_world


def partner(world: AppWorld, scopes: list[str]) -> tuple[str, str, str]:
    created = world.platform.partners.create("Ads Partner", "https://ads.example/p",
                                             "https://ads.example/d")
    now = world.platform.clock()
    agreement = world.platform.partners.agree(created.client_id, scopes, "contract",
                                              now - timedelta(days=1), now + timedelta(days=30))
    return created.client_id, created.client_secret or "", agreement


def partner_token(world: AppWorld, client_id: str, secret: str, scope: str | None = None,
                  key: DPoPKey | None = None, dpop: bool = True):  # type: ignore[no-untyped-def]
    key = key or DPoPKey()
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return world.token_request(form, key if dpop else None, (client_id, secret)), key


def issued(response, key: DPoPKey) -> Issued:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP" and "refresh_token" not in body
    return Issued(body["access_token"], "", key, body["scope"])


def test_nothing_flows_before_a_person_opts_in(world: AppWorld) -> None:
    client_id, secret, _ = partner(world, ["name:research", "birthday:research"])
    ada, bob = world.person("Ada"), world.person("Bob")
    world.platform.profiles.update(ada.id, {"birthday": "1990-04-01"}, {})
    token = issued(*partner_token(world, client_id, secret))
    assert world.call("/people", token, purpose="research").json() == {"data": [],
                                                                        "next_cursor": None}
    offers = world.client.get("/v1/me/partners", headers={"Authorization": f"Bearer {ada.token}"})
    [offer] = [o for o in offers.json() if o["partner_id"] == client_id]
    assert set(offer["may_ask_for"]) == {"name:research", "birthday:research"}
    assert offer["opted_in"] == [] and offer["legal_bases"] == ["contract"]
    r = world.client.put(f"/v1/me/partners/{client_id}", json={"grants": ["birthday:research"]},
                         headers={"Authorization": f"Bearer {ada.token}"})
    assert r.status_code == 200, r.text
    listed = world.call("/people", token, purpose="research").json()["data"]
    # only Ada, only what she chose (her birthday is for friends only, but she opted in to
    # this partner for it herself); Bob never appears
    assert [x["fields"] for x in listed] == [{"birthday": "1990-04-01"}]
    assert world.call(f"/people/{listed[0]['id']}", token, purpose="research").json()[
        "fields"] == {"birthday": "1990-04-01"}
    assert bob.id not in world.call("/people", token, purpose="research").text


def test_partner_calls_are_bound_to_purpose_and_to_the_agreement(world: AppWorld) -> None:
    client_id, secret, _ = partner(world, ["name:research"])
    token = issued(*partner_token(world, client_id, secret))
    assert world.call("/people", token, purpose="advertising").status_code == 403
    assert world.call("/me", token, purpose="research").status_code == 403  # acts for nobody
    assert world.call("/me/friends", token, purpose="research").status_code == 403
    r, _key = partner_token(world, client_id, secret, scope="name:research birthday:research")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r, _key = partner_token(world, client_id, secret, dpop=False)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_the_end_of_an_agreement_is_the_end_of_access(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret, agreement = partner(world, ["name:research"])
    ada = world.person("Ada")
    world.platform.partners.opt_in(ada.id, client_id, ["name:research"])
    token = issued(*partner_token(world, client_id, secret))
    assert len(world.call("/people", token, purpose="research").json()["data"]) == 1
    world.platform.partners.terminate(agreement)
    assert world.call("/people", token, purpose="research").status_code == 401
    assert partner_token(world, client_id, secret)[0].status_code == 400
    assert client_id not in [o.partner_id for o in world.platform.partners.offers(ada.id)]
    with pytest.raises(Exception):
        world.platform.partners.opt_in(ada.id, client_id, ["name:research"])


def test_an_expired_agreement_ends_access_by_itself(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret, _ = partner(world, ["name:research"])
    token = issued(*partner_token(world, client_id, secret))
    clock.advance(days=31)
    assert world.call("/people", token, purpose="research").status_code == 401


def test_agreements_and_opt_ins_are_validated(world: AppWorld) -> None:
    client_id, _secret, _ = partner(world, ["name:research"])
    now = world.platform.clock()
    with pytest.raises(InvalidInput, match="friendships"):
        world.platform.partners.agree(client_id, ["friends:research"], "contract", now,
                                      now + timedelta(days=1))
    with pytest.raises(InvalidInput, match="legal_basis"):
        world.platform.partners.agree(client_id, ["name:research"], "because", now,
                                      now + timedelta(days=1))
    with pytest.raises(InvalidInput, match="end after"):
        world.platform.partners.agree(client_id, ["name:research"], "consent", now, now)
    ada = world.person("Ada")
    with pytest.raises(InvalidInput, match="do not cover"):
        world.platform.partners.opt_in(ada.id, client_id, ["birthday:research"])


def test_partners_cannot_use_the_authorization_code_flow(world: AppWorld) -> None:
    client_id, _secret, _ = partner(world, ["name:research"])
    _v, challenge = __import__("tests.apps_world", fromlist=["pkce"]).pkce()
    page = world.consent(world.person("Ada"), world.authorize_query(client_id, "name:research",
                                                                    challenge))
    assert not isinstance(page, str) and page.status_code == 400


def test_operator_api_for_partners(world: AppWorld, settings) -> None:  # type: ignore[no-untyped-def]
    from palisade.adapters.limits.counters import MemoryRateLimiter
    from palisade.bootstrap import build

    from pydantic import SecretStr

    s = settings.model_copy(update={"public_url": BASE, "admin_token": SecretStr(ADMIN)})
    p = build(s, clock=world.platform.clock, limiter=MemoryRateLimiter(), passwords=None)
    client = type(world)(p).client
    auth = {"Authorization": f"Bearer {ADMIN}"}
    r = client.post("/v1/admin/partners", headers=auth, json={
        "name": "P", "privacy_policy_url": "https://p.example/p",
        "deletion_callback_url": "https://p.example/d"})
    assert r.status_code == 201 and r.json()["client_secret"]
    pid = r.json()["client_id"]
    body = {"scopes": ["name:research"], "legal_basis": "consent",
            "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}
    assert client.post(f"/v1/admin/partners/{pid}/agreements", headers=auth,
                       json={**body, "starts_at": "2026-01-01T00:00:00"}).status_code == 422
    r = client.post(f"/v1/admin/partners/{pid}/agreements", headers=auth, json=body)
    assert r.status_code == 201, r.text
    agreement = r.json()["id"]
    assert client.post(f"/v1/admin/agreements/{agreement}/terminate",
                       headers=auth).status_code == 204
    listed = client.get(f"/v1/admin/partners/{pid}/agreements", headers=auth).json()
    assert listed[0]["terminated_at"] is not None
    assert client.post("/v1/admin/partners", json={}).status_code == 401
    p.close()


def test_when_the_last_agreement_ends_the_partner_is_told_to_delete(world: AppWorld,
                                                                    clock) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from palisade.adapters.storage.tables import AppCallbackRow

    client_id, _secret, first = partner(world, ["name:research"])
    now = world.platform.clock()
    second = world.platform.partners.agree(client_id, ["name:research"], "consent",
                                           now - timedelta(days=1), now + timedelta(days=60))
    ada = world.person("Ada")
    world.platform.partners.opt_in(ada.id, client_id, ["name:research"])
    [offer] = [o for o in world.platform.partners.offers(ada.id) if o.partner_id == client_id]
    world.platform.partners.terminate(first)  # another agreement still in force: nothing yet
    assert client_id in [o.partner_id for o in world.platform.partners.offers(ada.id)]

    def callbacks() -> list[str]:
        with world.platform.uow() as session:
            return list(session.scalars(sa.select(AppCallbackRow.reason).where(
                AppCallbackRow.app_id == client_id)))

    assert callbacks() == []
    clock.advance(days=61)  # the second ends by itself; the background loop winds up
    assert world.platform.partners.wind_up() >= 1
    assert callbacks() == ["agreement_ended"]
    assert world.platform.apps.authorized_apps(ada.id) == [] or client_id not in [
        a.app_id for a in world.platform.apps.authorized_apps(ada.id)]
    assert world.platform.partners.wind_up() == 0  # once
    _ = (offer, second)
