"""The authorization pages in a real browser (Debian's Chromium driven by Playwright): a person
signs in, sees every field the app asks for with its purpose, unticks one, allows — and the
app receives a code whose token covers exactly the ticked pairs."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.apps_helpers import FORM, PASSWORD, http_person, register_app
from tests.conftest import LiveServer
from tests.dpop_client import DPoPKey

CALLBACK = "http://127.0.0.1:9/callback"


def test_a_person_unticks_a_field_and_the_app_gets_only_the_rest(
        live_server: LiveServer, live_platform, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    with live_server.client() as client:
        dev = http_person(client, live_platform, "Dev")
        ada = http_person(client, live_platform, "Ada Lovelace")
        client_id, secret = register_app(client, dev, {
            "name": ["sign_in"], "birthday": ["personalisation", "advertising"]})
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    authorize = base + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
        "scope": "name:sign_in birthday:personalisation birthday:advertising",
        "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256"})

    page = browser.new_page()
    landed: list[str] = []
    page.route(CALLBACK + "*", lambda route: (landed.append(route.request.url),
                                              route.fulfill(status=200, body="back in the app")))
    page.goto(authorize)
    page.fill("input[name=identifier]", ada.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("#allow")
    assert page.inner_text("#app-name") == "Quiz of the Day"
    text = page.inner_text("form")
    for phrase in ("your name", "to sign you in", "your birthday",
                   "to personalise the app for you", "for advertising"):
        assert phrase in text
    boxes = page.locator("input[name=grant]")
    assert boxes.count() == 3 and all(boxes.nth(i).is_checked() for i in range(3))
    page.screenshot(path=os.environ.get("PALISADE_TEST_SCREENSHOT", str(tmp_path / "consent.png")))
    page.uncheck("input[value='birthday:advertising']")
    page.click("#allow")
    page.wait_for_url(CALLBACK + "*")
    query = parse_qs(urlsplit(landed[-1]).query)
    assert query["state"] == ["xyz"]

    key = DPoPKey()
    r = httpx.post(base + "/oauth/token", headers={**FORM, "DPoP": key.proof(
        "POST", base + "/oauth/token")}, content=urlencode({
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": CALLBACK, "code_verifier": verifier, "client_id": client_id,
            "client_secret": secret}))
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "birthday:personalisation name:sign_in"


def test_the_consent_page_refuses_to_be_framed(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.set_content(f'<iframe id="f" src="{live_server.url}/oauth/authorize?client_id=x">'
                     "</iframe>")
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    assert frame.locator("form").count() == 0  # blocked by frame-ancestors / X-Frame-Options
