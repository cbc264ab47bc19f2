"""Helpers for the app tests: a person with a password over HTTP, an app, and a browser that
signs in and answers the consent page as a person would."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from palisade.bootstrap import Platform
from palisade.replay.population import consent_form
from tests.conftest import last_code, unique_phone
from tests.dpop_client import DPoPKey

PASSWORD = "correct horse battery staple"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class HttpPerson:
    id: str
    phone: str
    token: str


def http_person(client: httpx.Client, live_platform: Platform, name: str) -> HttpPerson:
    phone = unique_phone()
    assert client.post("/v1/auth/codes", json={"identifier": phone}).status_code == 202
    r = client.post("/v1/auth/sessions", json={"identifier": phone,
                                               "code": last_code(live_platform, phone)})
    assert r.status_code == 201, r.text
    body = r.json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.put("/v1/me/password", json={"new_password": PASSWORD},
                      headers=headers).status_code in (200, 204)
    client.patch("/v1/me/profile", json={"fields": {"name": name, "birthday": "1990-04-01"}},
                 headers=headers)
    return HttpPerson(body["person_id"], phone, body["token"])


def browser_authorize(base_url: str, authorize_uri: str, person: HttpPerson,
                      untick: set[str] = frozenset(), deny: bool = False) -> str:
    """Follow an authorization URI as a person: sign in, read the consent page, untick some
    pairs, answer. Returns the redirect Location sent back to the app."""
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=False) as browser:
        page = browser.get(authorize_uri)
        assert page.status_code == 200 and 'action="/oauth/signin"' in page.text, page.text
        nxt = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
        signed = browser.post("/oauth/signin", data={"identifier": person.phone,
                                                     "password": PASSWORD, "next": nxt})
        assert signed.status_code == 303, signed.text
        consent = browser.get(urljoin(base_url, signed.headers["location"]))
        assert consent.status_code == 200 and 'id="allow"' in consent.text, consent.text
        hidden, grants = consent_form(consent.text)
        form = hidden + [("grant", g) for g in grants if g not in untick]
        form.append(("decision", "deny" if deny else "allow"))
        answer = browser.post("/oauth/authorize", content=urlencode(form), headers=FORM)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]


def register_app(client: httpx.Client, owner: HttpPerson, requested: dict[str, list[str]],
                 redirect_uri: str = "http://127.0.0.1:9/callback",
                 confidential: bool = True) -> tuple[str, str | None]:
    r = client.post("/v1/apps", headers={"Authorization": f"Bearer {owner.token}"}, json={
        "name": "Quiz of the Day", "redirect_uris": [redirect_uri], "requested": requested,
        "privacy_policy_url": "https://quiz.example.com/privacy",
        "deletion_callback_url": "https://quiz.example.com/deleted",
        "confidential": confidential})
    assert r.status_code == 201, r.text
    return r.json()["client_id"], r.json()["client_secret"]


def issue_over_http(base_url: str, client_id: str, secret: str | None, person: HttpPerson,
                    scope: str, redirect_uri: str = "http://127.0.0.1:9/callback"
                    ) -> tuple[str, DPoPKey]:
    """The whole authorization-code flow over HTTP (PKCE S256, DPoP-bound token): the person
    signs in and allows every pair; returns the access token and its DPoP key."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    location = browser_authorize(base_url, "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "scope": scope,
        "redirect_uri": redirect_uri, "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256"}), person)
    code = parse_qs(urlsplit(location).query)["code"][0]
    key = DPoPKey()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post("/oauth/token", headers={**FORM, "DPoP": key.proof(
            "POST", base_url + "/oauth/token")}, content=urlencode({
                "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": redirect_uri, "client_id": client_id,
                **({"client_secret": secret} if secret else {})}))
    assert r.status_code == 200, r.text
    return r.json()["access_token"], key


def graph_me(base_url: str, token: str, key: DPoPKey, proof: str | None = None,
             purpose: str = "personalisation") -> httpx.Response:
    """GET /v1/graph/me over a connection of its own (so requests spread over workers)."""
    proof = proof or key.proof("GET", base_url + "/v1/graph/me", token)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return client.get("/v1/graph/me", headers={
            "Authorization": f"DPoP {token}", "DPoP": proof, "Palisade-Purpose": purpose})
