"""An in-process world for app tests: a platform on the test database, the HTTP app in a
TestClient, people, apps, and the whole authorize → consent → DPoP token flow."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi.testclient import TestClient

from palisade.bootstrap import Platform
from palisade.entrypoints.http.app import create_app
from tests.apps_helpers import FORM, PASSWORD, consent_form
from tests.conftest import Person, register
from tests.dpop_client import DPoPKey

BASE = "http://localhost"
REDIRECT = "https://quiz.example.com/callback"
GRAPH = BASE + "/v1/graph"


@dataclass
class Issued:
    access_token: str
    refresh_token: str
    key: DPoPKey
    scope: str


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    return verifier, challenge


class AppWorld:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.client = TestClient(create_app(platform), base_url=BASE)

    def now(self) -> float:
        return self.platform.clock().timestamp()

    def person(self, name: str = "Someone") -> Person:
        person = register(self.platform, name=name)
        self.platform.accounts.set_password(person.id, PASSWORD, None)
        return person

    def app(self, requested: dict[str, list[str]], confidential: bool = True,
            name: str = "Quiz of the Day") -> tuple[str, str | None]:
        registered = self.platform.apps.register(
            name=name, redirect_uris=[REDIRECT], requested=requested,
            privacy_policy_url="https://quiz.example.com/privacy",
            deletion_callback_url="https://quiz.example.com/deleted",
            confidential=confidential)
        return registered.client_id, registered.client_secret

    def authorize_query(self, client_id: str, scope: str, challenge: str, **extra: str) -> str:
        return "/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "scope": scope, "state": "st-" + secrets.token_hex(4), "code_challenge": challenge,
            "code_challenge_method": "S256", **extra})

    def consent(self, person: Person, query: str, untick: set[str] = frozenset(),
                decision: str = "allow") -> str:
        """Sign in and answer the consent page; returns the redirect Location."""
        browser = TestClient(self.client.app, base_url=BASE, follow_redirects=False)
        page = browser.get(query)
        assert 'action="/oauth/signin"' in page.text, page.text
        nxt = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
        signed = browser.post("/oauth/signin", content=urlencode(
            {"identifier": person.phone, "password": PASSWORD, "next": nxt}), headers=FORM)
        assert signed.status_code == 303, signed.text
        page = browser.get(signed.headers["location"])
        if page.status_code == 302:  # an error sent back to the app's verified redirect URI
            return page.headers["location"]
        if 'id="allow"' not in page.text:
            return page  # type: ignore[return-value]  # an error page, for tests to inspect
        hidden, grants = consent_form(page.text)
        form = hidden + [("grant", g) for g in grants if g not in untick]
        form.append(("decision", decision))
        answer = browser.post("/oauth/authorize", content=urlencode(form), headers=FORM)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def code_for(self, person: Person, client_id: str, scope: str,
                 untick: set[str] = frozenset()) -> tuple[str, str]:
        verifier, challenge = pkce()
        location = self.consent(person, self.authorize_query(client_id, scope, challenge),
                                untick)
        params = parse_qs(urlsplit(location).query)
        assert "code" in params, location
        return params["code"][0], verifier

    def token_request(self, form: dict[str, str], key: DPoPKey | None,
                      secret: tuple[str, str | None] | None = None):  # type: ignore[no-untyped-def]
        headers = dict(FORM)
        if key is not None:
            headers["DPoP"] = key.proof("POST", BASE + "/oauth/token", iat=self.now())
        body = dict(form)
        if secret is not None:
            client_id, client_secret = secret
            body["client_id"] = client_id
            if client_secret:
                body["client_secret"] = client_secret
        return self.client.post("/oauth/token", content=urlencode(body), headers=headers)

    def issue(self, person: Person, client_id: str, secret: str | None, scope: str,
              untick: set[str] = frozenset(), key: DPoPKey | None = None) -> Issued:
        code, verifier = self.code_for(person, client_id, scope, untick)
        key = key or DPoPKey()
        r = self.token_request({"grant_type": "authorization_code", "code": code,
                                "redirect_uri": REDIRECT, "code_verifier": verifier}, key,
                               (client_id, secret))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "DPoP"
        return Issued(body["access_token"], body["refresh_token"], key, body["scope"])

    def call(self, path: str, token: Issued | None, purpose: str | None = "personalisation",
             key: DPoPKey | None = None, scheme: str = "DPoP",
             proof: str | None = None):  # type: ignore[no-untyped-def]
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"{scheme} {token.access_token}"
            signer = key or token.key
            url = GRAPH + path.split("?")[0]
            headers["DPoP"] = proof or signer.proof("GET", url, token.access_token, iat=self.now())
        if purpose is not None:
            headers["Palisade-Purpose"] = purpose
        return self.client.get("/v1/graph" + path, headers=headers)
