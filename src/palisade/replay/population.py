"""The population a replay plays against, made through the public API only, as people and
developers would make it: people sign up with a code the server texts to their number (read
at the replay's SMS gateway), set a password and a profile with an audience per field,
become friends by request and acceptance; a developer registers an app; people authorize it
on the consent page as a browser would (PKCE, DPoP-bound tokens).

Sign-ups come from several loopback addresses (127.64.k.1, a /24 each), as a real population
does: one address asking for hundreds of codes is what the code limits stop."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from palisade.adapters.oauth.rfc9449_dpop import ProofKey
from palisade.demo.population import synthetic_area_codes
from palisade.replay.http import Budget, Client, ReplayError, expect
from palisade.replay.sms_gateway import SmsGateway

PASSWORD_BYTES = 18
SIGN_UPS_PER_ADDRESS = 20  # under the default 30 code sends an address an hour
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never followed: the code is read from Location
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Member:
    id: str
    phone: str
    token: str
    password: str
    name: str
    fields: dict[str, str] = field(default_factory=dict)
    audiences: dict[str, str] = field(default_factory=dict)


@dataclass
class AppToken:
    token: str
    key: ProofKey
    person: Member


class Population:
    def __init__(self, base_url: str, gateway: SmsGateway, budget: Budget, tag: str,
                 sign_ups: list[int] | None = None) -> None:
        self.base_url = base_url
        self._sign_ups = sign_ups if sign_ups is not None else [0]  # shared by a whole run
        self.gateway = gateway
        self.budget = budget
        self.tag = tag  # marks this run's people, so several runs can share one server
        self.members: list[Member] = []
        # one area code a run, numbers from a random line on: the run's people sit in one
        # range of the 555 exchange, the range the discovery attackers sweep
        codes = synthetic_area_codes()
        self.area_code = codes[secrets.randbelow(len(codes))]
        self._line = secrets.randbelow(9000)
        self._drawn = 0
        self._clients: dict[tuple[str, str], Client] = {}

    def client(self, source: str | None = None, token: str | None = None) -> Client:
        """A client from `source` (default: the loopback address), sending `token` unless
        a request names another; kept open, and closed with the population."""
        key = (source or "", token or "")
        if key not in self._clients:
            self._clients[key] = Client(self.base_url, self.budget, source=source, token=token)
        return self._clients[key]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()

    def _phone(self) -> str:
        self._drawn += 1
        return f"+1{self.area_code}555{(self._line + self._drawn) % 9900 + 100:04d}"

    def sweep_range(self) -> list[str]:
        """Every number of the run's range, as a range-walking scraper lists them."""
        return [f"+1{self.area_code}555{line:04d}" for line in range(100, 10_000)]

    # -- people -------------------------------------------------------------------------------
    def person(self, name: str, fields: dict[str, str], audiences: dict[str, str]) -> Member:
        """A new person: signed up by text code, with a password, `fields` and `audiences`."""
        n = self._sign_ups[0]
        self._sign_ups[0] += 1
        source = f"127.64.{n // SIGN_UPS_PER_ADDRESS % 250}.{1 + n // 5000 % 250}"
        http = self.client(source)
        for _ in range(5):  # a number some earlier run took: draw another
            phone = self._phone()
            expect(http.post("/v1/auth/codes", json={"identifier": phone}), 202)
            code = self.gateway.code_for(phone)
            doc = expect(http.post("/v1/auth/sessions", json={
                "identifier": phone, "code": code}), 201).json()
            profile = expect(http.get("/v1/me/profile", token=doc["token"]), 200).json()
            if not profile["fields"].get("name"):
                break
        else:
            raise ReplayError("could not find an unused phone number for a new person")
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        expect(http.put("/v1/me/password", token=doc["token"],
                        json={"new_password": password}), 200, 204)
        full = {"name": f"{name} {self.tag}", **fields}
        expect(http.patch("/v1/me/profile", token=doc["token"],
                          json={"fields": full, "audiences": audiences}), 200)
        member = Member(doc["person_id"], phone, doc["token"], password, full["name"], full,
                        audiences)
        self.members.append(member)
        return member

    def befriend(self, a: Member, b: Member) -> None:
        http = self.client()
        r = expect(http.post("/v1/friend-requests", token=a.token,
                             json={"person_id": b.id}), 201).json()
        if r["status"] == "pending":
            expect(http.post(f"/v1/friend-requests/{r['request_id']}/accept", token=b.token),
                   204)

    # -- apps -----------------------------------------------------------------------------------
    def register_app(self, owner: Member, name: str, requested: dict[str, list[str]]
                     ) -> tuple[str, str]:
        doc = expect(self.client().post("/v1/apps", token=owner.token, json={
            "name": name, "redirect_uris": [REDIRECT_URI], "requested": requested,
            "privacy_policy_url": "https://replay.example/privacy",
            "deletion_callback_url": "https://replay.example/deleted",
            "confidential": True}), 201).json()
        return doc["client_id"], doc["client_secret"]

    def authorize(self, person: Member, client_id: str, secret: str, scope: str) -> AppToken:
        """The authorization-code flow as the person's browser and the app run it: sign in on
        the server's page, allow every pair on the consent page, exchange the code with PKCE
        for a token bound to a fresh DPoP key."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                             ).rstrip(b"=").decode()
        authorize_uri = "/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": client_id, "scope": scope,
            "redirect_uri": REDIRECT_URI, "state": secrets.token_urlsafe(8),
            "code_challenge": challenge, "code_challenge_method": "S256"})
        with httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False) as browser:
            self.budget.spend()
            page = browser.get(authorize_uri)
            found = re.search(r'name="next" value="([^"]*)"', page.text)
            if page.status_code != 200 or found is None:
                raise ReplayError(f"the sign-in page did not come: {page.status_code}")
            self.budget.spend()
            signed = browser.post("/oauth/signin", data={
                "identifier": person.phone, "password": person.password,
                "next": found.group(1).replace("&amp;", "&")})
            if signed.status_code != 303:
                raise ReplayError(f"signing in on the consent flow failed: {signed.status_code}")
            self.budget.spend()
            consent = browser.get(urljoin(self.base_url, signed.headers["location"]))
            hidden, grants = consent_form(consent.text)
            if not grants:
                raise ReplayError("the consent page listed nothing to grant")
            self.budget.spend()
            answer = browser.post("/oauth/authorize", headers=FORM, content=urlencode(
                hidden + [("grant", g) for g in grants] + [("decision", "allow")]))
            if answer.status_code != 302:
                raise ReplayError(f"the consent page refused the answer: {answer.status_code}")
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        key = ProofKey()
        token_url = self.base_url + "/oauth/token"
        doc = expect(self.client().post("/oauth/token", headers={
            **FORM, "DPoP": key.proof("POST", token_url)}, content=urlencode({
                "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": REDIRECT_URI, "client_id": client_id,
                "client_secret": secret})), 200).json()
        return AppToken(doc["access_token"], key, person)


def graph_call(http: Client, token: AppToken, path: str, purpose: str = "personalisation",
               key: ProofKey | None = None) -> httpx.Response:
    """A Graph API call as the app makes it: the DPoP token with a fresh proof from `key`
    (the token's own key unless another is given), stating its purpose."""
    key = key or token.key
    url = http.base_url + path.split("?")[0]
    return http.get(path, headers={"Authorization": f"DPoP {token.token}",
                                   "DPoP": key.proof("GET", url, token.token),
                                   "Palisade-Purpose": purpose})


def pages(http: Client, token: AppToken, path: str, purpose: str,
          limit: int = 100) -> Iterator[httpx.Response]:
    """Every page of a Graph API list, following `next_cursor` (at most 1,000 pages); the
    last response yielded is the first that is not a 200."""
    cursor = None
    for _ in range(1_000):
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = graph_call(http, token, f"{path}?{urlencode(query)}", purpose)
        yield page
        if page.status_code != 200:
            return
        cursor = page.json().get("next_cursor")
        if not cursor:
            return


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append({k: v or "" for k, v in attrs})


def consent_form(html: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The hidden fields and the grant checkboxes of the consent page."""
    parser = _Inputs()
    parser.feed(html)
    hidden = [(i["name"], i.get("value", "")) for i in parser.inputs if i.get("type") == "hidden"]
    grants = [i["value"] for i in parser.inputs if i.get("name") == "grant"]
    return hidden, grants
