"""Apps under consent: registration, the authorization server (PKCE, consent per field and
purpose, DPoP-bound tokens, rotation, revocation, introspection), the Graph API behind the
friend-data firewall, purposes, expiry and O(1) revocation. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from palisade.adapters.storage.tables import AccessEventRow, OAuthTokenRow, TokenRevocationRow
from palisade.domain.errors import InvalidInput
from tests.apps_helpers import FORM
from tests.apps_world import BASE, REDIRECT, AppWorld, pkce
from tests.conftest import befriend
from tests.dpop_client import DPoPKey

QUIZ = {"name": ["sign_in", "personalisation"], "birthday": ["personalisation", "advertising"],
        "friends": ["personalisation"], "location": ["personalisation"]}
SCOPE = "name:personalisation birthday:personalisation friends:personalisation"


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    return app_world


def events(world: AppWorld, app_id: str) -> list[AccessEventRow]:
    with world.platform.uow() as session:
        return list(session.scalars(sa.select(AccessEventRow).where(
            AccessEventRow.actor_id == app_id).order_by(AccessEventRow.id)))


# --- registration ---------------------------------------------------------------------------

def test_registration_validates_everything(world: AppWorld) -> None:
    apps = world.platform.apps
    base = dict(name="X", requested={"name": ["sign_in"]},
                privacy_policy_url="https://x.example/p", deletion_callback_url="https://x.example/d")
    for bad in (["http://x.example/cb"], ["https://x.example/cb#frag"], ["ftp://x.example/"],
                ["https://user:pw@x.example/cb"]):
        with pytest.raises(InvalidInput):
            apps.register(redirect_uris=bad, **base)
    for requested in ({"messages": ["research"]}, {"name": ["selling"]}, {}):
        with pytest.raises(InvalidInput):
            apps.register(redirect_uris=["https://x.example/cb"],
                          **{**base, "requested": requested})
    ok = apps.register(redirect_uris=["https://x.example/cb", "http://127.0.0.1:8765/cb"], **base)
    row = apps.get(ok.client_id)
    assert ok.client_secret and ok.client_secret not in (row.secret_hash or "")
    assert row.secret_hash.startswith("$argon2id$")
    public = apps.register(redirect_uris=["https://x.example/cb"], confidential=False, **base)
    assert public.client_secret is None


def test_registration_over_http_needs_a_session_and_a_valid_body(world: AppWorld) -> None:
    dev = world.person("Dev")
    body = {"name": "A", "redirect_uris": ["https://a.example/cb"],
            "requested": {"name": ["sign_in"]}, "privacy_policy_url": "https://a.example/p",
            "deletion_callback_url": "https://a.example/d"}
    assert world.client.post("/v1/apps", json=body).status_code == 401
    auth = {"Authorization": f"Bearer {dev.token}"}
    assert world.client.post("/v1/apps", json={**body, "requested": {"messages": ["research"]}},
                             headers=auth).status_code == 422
    r = world.client.post("/v1/apps", json=body, headers=auth)
    assert r.status_code == 201 and r.json()["client_secret"]
    listed = world.client.get("/v1/apps", headers=auth).json()
    assert [a["client_id"] for a in listed] == [r.json()["client_id"]]
    assert "client_secret" not in listed[0] and "secret_hash" not in listed[0]


def test_metadata_is_rfc8414(world: AppWorld) -> None:
    doc = world.client.get("/.well-known/oauth-authorization-server").json()
    assert doc["issuer"] == BASE
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "ES256" in doc["dpop_signing_alg_values_supported"]
    assert "name:sign_in" in doc["scopes_supported"]
    assert not any(s.startswith("messages") for s in doc["scopes_supported"])


# --- the authorization endpoint -------------------------------------------------------------

def test_consent_lists_every_pair_and_grants_only_what_stays_ticked(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    world.platform.profiles.update(ada.id, {"birthday": "1990-04-01"}, {})
    token = world.issue(ada, client_id, secret, SCOPE, untick={"birthday:personalisation"})
    assert token.scope == "friends:personalisation name:personalisation"
    me = world.call("/me", token).json()
    assert me["fields"] == {"name": "Ada"}  # the birthday was unticked
    mine = world.client.get("/v1/me/apps", headers={"Authorization": f"Bearer {ada.token}"})
    assert mine.json()[0]["grants"] == ["friends:personalisation", "name:personalisation"]


def test_deny_and_untick_everything_send_access_denied(world: AppWorld) -> None:
    client_id, _ = world.app(QUIZ)
    ada = world.person("Ada")
    for kwargs in ({"decision": "deny"}, {"untick": set(SCOPE.split())}):
        _v, challenge = pkce()
        location = world.consent(ada, world.authorize_query(client_id, SCOPE, challenge),
                                 **kwargs)
        assert location.startswith(REDIRECT)
        assert parse_qs(urlsplit(location).query)["error"] == ["access_denied"]
    assert world.platform.apps.authorized_apps(ada.id) == []


def test_bad_redirect_uri_or_client_is_shown_to_the_person_never_redirected(
        world: AppWorld) -> None:
    client_id, _ = world.app(QUIZ)
    ada = world.person("Ada")
    _v, challenge = pkce()
    for query in (
        world.authorize_query(client_id, SCOPE, challenge).replace(
            "quiz.example.com", "evil.example"),
        world.authorize_query("app_unknown", SCOPE, challenge),
    ):
        page = world.consent(ada, query)
        assert page.status_code == 400 and "cannot be completed" in page.text


def test_pkce_s256_is_required_of_every_client(world: AppWorld) -> None:
    client_id, _ = world.app(QUIZ)
    ada = world.person("Ada")
    _v, challenge = pkce()
    no_pkce = world.authorize_query(client_id, SCOPE, challenge).replace(
        "code_challenge=", "x_code_challenge=")
    plain = world.authorize_query(client_id, SCOPE, challenge).replace("S256", "plain")
    for query in (no_pkce, plain):
        location = world.consent(ada, query)
        assert location.startswith(REDIRECT) and "error=invalid_request" in location


def test_scope_outside_the_registration_is_refused(world: AppWorld) -> None:
    client_id, _ = world.app({"name": ["sign_in"]})
    ada = world.person("Ada")
    _v, challenge = pkce()
    location = world.consent(ada, world.authorize_query(client_id, "birthday:advertising",
                                                        challenge))
    assert "error=invalid_scope" in location


def test_consent_post_needs_the_pages_csrf_token(world: AppWorld) -> None:
    client_id, _ = world.app(QUIZ)
    ada = world.person("Ada")
    _v, challenge = pkce()
    query = world.authorize_query(client_id, SCOPE, challenge)
    params = parse_qs(urlsplit(query).query)
    form = [(k, v[0]) for k, v in params.items()] + [("grant", "name:personalisation"),
                                                     ("decision", "allow"), ("csrf", "forged")]
    world.consent(ada, query, decision="deny")  # signs the shared browser in? no: own browser
    r = world.client.post("/oauth/authorize", content=urlencode(form), headers=FORM)
    assert r.status_code == 400 and "code=" not in r.headers.get("location", "")


def test_the_consent_page_cannot_be_framed(world: AppWorld) -> None:
    r = world.client.get("/oauth/authorize?client_id=x")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


# --- the token endpoint ---------------------------------------------------------------------

def test_tokens_need_a_dpop_proof(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    code, verifier = world.code_for(world.person("Ada"), client_id, SCOPE)
    r = world.token_request({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": REDIRECT, "code_verifier": verifier}, None,
                            (client_id, secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_wrong_verifier_and_reused_code_fail_and_reuse_revokes(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    code, verifier = world.code_for(ada, client_id, SCOPE)
    key = DPoPKey()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    bad = world.token_request({**form, "code_verifier": "x" * 50}, key, (client_id, secret))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    # the failed attempt burnt the code (single use); a fresh one works once
    code, verifier = world.code_for(ada, client_id, SCOPE)
    form.update(code=code, code_verifier=verifier)
    first = world.token_request(form, key, (client_id, secret))
    assert first.status_code == 200
    token = first.json()["access_token"]
    again = world.token_request(form, key, (client_id, secret))
    assert again.status_code == 400
    issued = type("T", (), {"access_token": token, "key": key})
    assert world.call("/me", issued).status_code == 401  # RFC 6749 §4.1.2: revoked


def test_wrong_client_secret_is_refused(world: AppWorld) -> None:
    client_id, _secret = world.app(QUIZ)
    code, verifier = world.code_for(world.person("Ada"), client_id, SCOPE)
    r = world.token_request({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": REDIRECT, "code_verifier": verifier}, DPoPKey(),
                            (client_id, "not-the-secret"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_refresh_rotates_binds_to_the_key_and_detects_reuse(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    refresh = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
    stolen = world.token_request(refresh, DPoPKey(), (client_id, secret))
    assert stolen.status_code == 400  # another key cannot use it
    r = world.token_request(refresh, token.key, (client_id, secret))
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["refresh_token"] != token.refresh_token
    newer = type("T", (), {"access_token": new["access_token"], "key": token.key})
    assert world.call("/me", newer).status_code == 200
    # the old refresh token presented again: reuse, so the whole family is revoked
    assert world.token_request(refresh, token.key, (client_id, secret)).status_code == 400
    assert world.call("/me", newer).status_code == 401


def test_refresh_cannot_widen_the_scope(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, "name:personalisation")
    r = world.token_request({"grant_type": "refresh_token", "refresh_token": token.refresh_token,
                             "scope": "name:personalisation birthday:advertising"}, token.key,
                            (client_id, secret))
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_public_clients_use_pkce_without_a_secret(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ, confidential=False)
    assert secret is None
    token = world.issue(world.person("Ada"), client_id, None, "name:personalisation")
    assert world.call("/me", token).status_code == 200


def test_revocation_and_introspection(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    other_id, other_secret = world.app(QUIZ, name="Other")
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)

    def introspect(cid: str, csecret: str | None) -> dict:
        return world.client.post("/oauth/introspect", content=urlencode(
            {"token": token.access_token, "client_id": cid, "client_secret": csecret}),
            headers=FORM).json()

    info = introspect(client_id, secret)
    assert info["active"] and info["cnf"] == {"jkt": token.key.jkt}
    assert info["token_type"] == "DPoP" and info["aud"] == BASE + "/v1/graph"
    assert introspect(other_id, other_secret) == {"active": False}  # not its token
    r = world.client.post("/oauth/revoke", content=urlencode(
        {"token": token.refresh_token, "client_id": client_id, "client_secret": secret}),
        headers=FORM)
    assert r.status_code == 200
    assert introspect(client_id, secret) == {"active": False}
    assert world.call("/me", token).status_code == 401


# --- the resource side ----------------------------------------------------------------------

def test_bearer_use_of_an_app_token_is_refused(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    r = world.call("/me", token, scheme="Bearer")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("DPoP ")
    r = world.client.get("/v1/graph/me", headers={"Authorization": f"DPoP {token.access_token}",
                                                  "Palisade-Purpose": "personalisation"})
    assert r.status_code == 401 and 'error="invalid_dpop_proof"' in r.headers["www-authenticate"]


def test_a_stolen_token_is_useless_without_its_key(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    assert world.call("/me", token, key=DPoPKey()).status_code == 401


def test_a_replayed_proof_is_refused(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    proof = token.key.proof("GET", BASE + "/v1/graph/me", token.access_token, iat=world.now())
    assert world.call("/me", token, proof=proof).status_code == 200
    assert world.call("/me", token, proof=proof).status_code == 401


def test_session_tokens_do_not_open_the_graph_and_app_tokens_do_not_open_the_api(
        world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, SCOPE)
    r = world.client.get("/v1/graph/me", headers={"Authorization": f"Bearer {ada.token}",
                                                  "Palisade-Purpose": "personalisation"})
    assert r.status_code == 401
    r = world.client.get("/v1/me/profile", headers={"Authorization": f"Bearer {token.access_token}"})
    assert r.status_code == 401


def test_purpose_is_required_and_bound(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, "name:personalisation")
    assert world.call("/me", token, purpose=None).status_code == 422
    r = world.call("/me", token, purpose="advertising")
    assert r.status_code == 403 and r.json()["type"].endswith("outside-purpose")
    refused = [e for e in events(world, client_id) if e.outcome == "refused"]
    assert [(e.person_id, e.purpose) for e in refused] == [(ada.id, "advertising")]
    assert world.call("/me/friends", token).status_code == 403  # friends not granted


def test_the_firewall_on_people_and_friends(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada, bob, cy, dee = (world.person(n) for n in ("Ada", "Bob", "Cy", "Dee"))
    for friend in (bob, cy, dee):
        befriend(world.platform, ada, friend)
    world.platform.profiles.update(bob.id, {"birthday": "1985-01-02"}, {})
    world.platform.profiles.update(cy.id, {"birthday": "1970-05-06"}, {})
    tok_ada = world.issue(ada, client_id, secret, SCOPE)
    tok_bob = world.issue(bob, client_id, secret, SCOPE)
    # Cy authorizes the app but not for friendships; Dee never authorizes it
    tok_cy = world.issue(cy, client_id, secret, "name:personalisation birthday:personalisation")
    friends = world.call("/me/friends", tok_ada).json()
    bob_id = world.call("/me", tok_bob).json()["id"]
    cy_id = world.call("/me", tok_cy).json()["id"]
    assert friends["data"] == [{"id": bob_id, "fields": {"name": "Bob", "birthday": "1985-01-02"}}]
    # Cy is readable by id (Cy granted fields) but is not disclosed as Ada's friend
    assert world.call(f"/people/{cy_id}", tok_ada).json()["fields"] == {
        "name": "Cy", "birthday": "1970-05-06"}
    # Dee does not exist for this app: the same 404 as an id that was never issued
    unknown = world.call("/people/nobody-at-all", tok_ada)
    assert unknown.status_code == 404
    released = {e.person_id for e in events(world, client_id) if e.outcome == "released"}
    assert dee.id not in released and released == {ada.id, bob.id, cy.id}


def test_scoped_ids_differ_per_app(world: AppWorld) -> None:
    a_id, a_secret = world.app(QUIZ, name="A")
    b_id, b_secret = world.app(QUIZ, name="B")
    ada = world.person("Ada")
    in_a = world.call("/me", world.issue(ada, a_id, a_secret, SCOPE)).json()["id"]
    tok_b = world.issue(ada, b_id, b_secret, SCOPE)
    in_b = world.call("/me", tok_b).json()["id"]
    assert in_a != in_b and ada.id not in (in_a, in_b)
    assert world.call(f"/people/{in_a}", tok_b).status_code == 404  # unlinkable


def test_audience_settings_still_apply_to_apps(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada, bob = world.person("Ada"), world.person("Bob")  # not friends
    world.platform.profiles.update(bob.id, {"birthday": "1985-01-02"}, {})
    tok_ada = world.issue(ada, client_id, secret, SCOPE)
    bob_id = world.call("/me", world.issue(bob, client_id, secret, SCOPE)).json()["id"]
    # Bob granted his birthday, but shows it to friends only: Ada's app does not get it
    assert world.call(f"/people/{bob_id}", tok_ada).json()["fields"] == {"name": "Bob"}


def test_non_public_access_expires_unless_renewed(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    world.platform.profiles.update(ada.id, {"birthday": "1990-04-01"}, {})
    token = world.issue(ada, client_id, secret, SCOPE)
    clock.advance(days=91)
    refresh = world.token_request({"grant_type": "refresh_token",
                                   "refresh_token": token.refresh_token}, token.key,
                                  (client_id, secret))
    assert refresh.status_code == 400  # refresh tokens last 30 days
    token = world.issue(ada, client_id, secret, SCOPE)  # signing in again is using the app
    assert world.call("/me", token).json()["fields"] == {"name": "Ada", "birthday": "1990-04-01"}
    clock.advance(days=89)
    with world.platform.uow() as session:  # keep the token alive artificially: only grants age
        session.execute(sa.update(OAuthTokenRow).values(
            expires_at=clock() + timedelta(days=200)))
    assert world.call("/me", token).json()["fields"]["birthday"] == "1990-04-01"  # day 89
    world.platform.apps.renew(ada.id, client_id)  # renewal is the person's act
    clock.advance(days=2)
    assert world.call("/me", token).json()["fields"]["birthday"] == "1990-04-01"
    clock.advance(days=89)
    assert world.call("/me", token).json()["fields"] == {"name": "Ada"}  # name is public


def test_an_inactive_app_loses_its_tokens(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app(QUIZ)
    token = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    with world.platform.uow() as session:
        session.execute(sa.update(OAuthTokenRow).values(
            expires_at=clock() + timedelta(days=400)))
    clock.advance(days=91)
    assert world.call("/me", token).status_code == 401


def test_removing_the_app_ends_its_tokens_and_its_knowledge(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada, bob = world.person("Ada"), world.person("Bob")
    befriend(world.platform, ada, bob)
    tok_ada = world.issue(ada, client_id, secret, SCOPE)
    tok_bob = world.issue(bob, client_id, secret, SCOPE)
    ada_id = world.call("/me", tok_ada).json()["id"]
    r = world.client.delete(f"/v1/me/apps/{client_id}",
                            headers={"Authorization": f"Bearer {ada.token}"})
    assert r.status_code == 204
    assert world.call("/me", tok_ada).status_code == 401
    assert world.call(f"/people/{ada_id}", tok_bob).status_code == 404
    assert world.call("/me/friends", tok_bob).json()["data"] == []


@pytest.mark.parametrize("level", ["app", "person", "everyone"])
def test_revocation_at_scale_is_one_write(world: AppWorld, level: str, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app(QUIZ)
    other_id, other_secret = world.app(QUIZ, name="Other")
    ada, bob = world.person("Ada"), world.person("Bob")
    tokens = {(who.id, app): world.issue(who, app, s, SCOPE)
              for who in (ada, bob) for app, s in ((client_id, secret), (other_id, other_secret))}
    kwargs = {"app": {"app_id": client_id}, "person": {"person_id": ada.id},
              "everyone": {"everyone": True}}[level]
    world.platform.apps.revoke_all_tokens(**kwargs)
    for (person_id, app), token in tokens.items():
        dead = (level == "everyone" or (level == "app" and app == client_id)
                or (level == "person" and person_id == ada.id))
        assert world.call("/me", token).status_code == (401 if dead else 200)
    # tokens issued after the revocation work (issued at the same instant, they would not)
    clock.advance(seconds=1)
    assert world.call("/me", world.issue(ada, client_id, secret, SCOPE)).status_code == 200
    with world.platform.uow() as session:  # every test's clock starts at the same instant
        session.execute(sa.delete(TokenRevocationRow))


def test_a_suspended_app_cannot_authorize_or_call(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, SCOPE)
    world.platform.apps.suspend(client_id, "over-collection")
    assert world.call("/me", token).status_code == 401
    _v, challenge = pkce()
    page = world.consent(ada, world.authorize_query(client_id, SCOPE, challenge))
    assert page.status_code == 400


def test_every_app_read_is_an_access_event(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, SCOPE)
    world.call("/me", token)
    [event] = events(world, client_id)
    assert (event.person_id, event.actor_kind, event.purpose, event.outcome, event.fields) == (
        ada.id, "app", "personalisation", "released", ["name"])


def test_app_fields_are_the_profile_fields_and_friendships_only() -> None:
    from palisade.domain.apps.grants import AppField
    from palisade.domain.profile import ProfileField

    assert {f.value for f in AppField} == {f.value for f in ProfileField} | {"friends"}


def test_people_without_a_password_sign_in_with_a_code(world: AppWorld) -> None:
    from tests.conftest import last_code, unique_phone, wrong_code

    client_id, _ = world.app(QUIZ)
    phone = unique_phone()
    _v, challenge = pkce()
    browser = type(world.client)(world.client.app, base_url=BASE, follow_redirects=False)
    page = browser.get(world.authorize_query(client_id, SCOPE, challenge))
    nxt = page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    sent = browser.post("/oauth/signin/code", content=urlencode(
        {"identifier": phone, "next": nxt}), headers=FORM)
    assert sent.status_code == 200 and 'name="code"' in sent.text
    code = last_code(world.platform, phone)
    bad = browser.post("/oauth/signin", content=urlencode(
        {"identifier": phone, "code": wrong_code(code), "next": nxt}), headers=FORM)
    assert bad.status_code == 400 and 'name="code"' in bad.text
    signed = browser.post("/oauth/signin", content=urlencode(
        {"identifier": phone, "code": code, "next": nxt}), headers=FORM)
    assert signed.status_code == 303
    assert 'id="allow"' in browser.get(signed.headers["location"]).text


def test_sign_in_never_redirects_off_the_authorization_page(world: AppWorld) -> None:
    ada = world.person("Ada")
    from tests.apps_helpers import PASSWORD

    r = world.client.post("/oauth/signin", content=urlencode(
        {"identifier": ada.phone, "password": PASSWORD, "next": "https://evil.example/"}),
        headers=FORM, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/oauth/authorize?")


def test_client_authenticating_endpoints_are_rate_limited(world: AppWorld) -> None:
    world.platform.settings.oauth_requests_per_address_per_minute = 3
    client_id, _ = world.app(QUIZ)
    statuses = [world.client.post("/oauth/introspect", content=urlencode(
        {"token": "x", "client_id": client_id, "client_secret": "guess"}),
        headers=FORM).status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]


def test_expired_codes_and_tokens_are_purged(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app(QUIZ)
    old = world.issue(world.person("Ada"), client_id, secret, SCOPE)
    clock.advance(days=31)  # past the access token and the 30-day refresh token
    fresh = world.issue(world.person("Bob"), client_id, secret, SCOPE)
    assert world.platform.maintenance.purge().oauth >= 2  # Ada's token and the used codes
    with world.platform.uow() as session:
        live = set(session.scalars(sa.select(OAuthTokenRow.app_id).where(
            OAuthTokenRow.app_id == client_id)))
        rows = session.scalar(sa.select(sa.func.count()).select_from(OAuthTokenRow).where(
            OAuthTokenRow.app_id == client_id))
    assert live == {client_id} and rows == 1
    assert world.call("/me", fresh).status_code == 200
    assert world.call("/me", old).status_code == 401


def test_odd_tokens_and_forms_are_4xx_never_500(world: AppWorld) -> None:
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, SCOPE)
    odd = token.access_token[:-1] + "\xe9"  # latin-1 in a header: not a token68
    proof = token.key.proof("GET", BASE + "/v1/graph/me", "x", iat=world.now())
    r = world.client.get("/v1/graph/me", headers=[
        (b"authorization", f"DPoP {odd}".encode("latin-1")), (b"dpop", proof.encode()),
        (b"palisade-purpose", b"personalisation")])
    assert r.status_code == 401
    browser = type(world.client)(world.client.app, base_url=BASE, follow_redirects=False)
    from tests.apps_helpers import PASSWORD

    browser.post("/oauth/signin", content=urlencode(
        {"identifier": ada.phone, "password": PASSWORD, "next": "/oauth/authorize?x=1"}),
        headers=FORM)
    r = browser.post("/oauth/authorize", content=urlencode({"csrf": "\xe9"}), headers=FORM)
    assert r.status_code == 400 and "expired" in r.text


def test_code_lifetime_key_binding_resource_and_redirect_rules(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app(QUIZ)
    ada = world.person("Ada")

    def exchange(code: str, verifier: str, key: DPoPKey, **extra: str):  # type: ignore[no-untyped-def]
        return world.token_request({"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": REDIRECT, "code_verifier": verifier, **extra},
                                   key, (client_id, secret))

    # a code lives five minutes (RFC 6749 §4.1.2)
    code, verifier = world.code_for(ada, client_id, SCOPE)
    clock.advance(minutes=5, seconds=1)
    assert exchange(code, verifier, DPoPKey()).json()["error"] == "invalid_grant"

    # a code bound to a DPoP key (RFC 9449 §10) is exchanged only with that key
    bound = DPoPKey()
    verifier, challenge = pkce()
    location = world.consent(ada, world.authorize_query(client_id, SCOPE, challenge,
                                                        dpop_jkt=bound.jkt))
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert exchange(code, verifier, DPoPKey()).json()["error"] == "invalid_dpop_proof"
    verifier, challenge = pkce()
    location = world.consent(ada, world.authorize_query(client_id, SCOPE, challenge,
                                                        dpop_jkt=bound.jkt))
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert exchange(code, verifier, bound).status_code == 200

    # one resource, the Graph API (RFC 8707), at the authorization and the token endpoint
    _v, challenge = pkce()
    location = world.consent(ada, world.authorize_query(client_id, SCOPE, challenge,
                                                        resource="https://elsewhere.example/"))
    assert location.startswith(REDIRECT) and "error=invalid_target" in location
    code, verifier = world.code_for(ada, client_id, SCOPE)
    r = exchange(code, verifier, DPoPKey(), resource="https://elsewhere.example/")
    assert r.json()["error"] == "invalid_target"

    # with several redirect URIs registered, the request must name one
    two = world.platform.apps.register(
        name="Two", redirect_uris=[REDIRECT, REDIRECT + "/2"], requested=QUIZ,
        privacy_policy_url="https://quiz.example.com/p",
        deletion_callback_url="https://quiz.example.com/d")
    _v, challenge = pkce()
    query = world.authorize_query(two.client_id, SCOPE, challenge)
    query = query.replace("redirect_uri=" + quote(REDIRECT, safe=""), "x=1")
    page = world.consent(ada, query)
    assert not isinstance(page, str) and page.status_code == 400
