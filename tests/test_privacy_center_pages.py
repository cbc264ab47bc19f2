"""The Privacy Center pages over HTTP (no browser): sign-in by one-time code, CSRF on every
form, cookie settings, and each page's effect. The browser tests drive the same pages in
Chromium."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.bootstrap import build
from tests.apps_world import BASE, AppWorld
from tests.conftest import befriend, last_code


@pytest.fixture
def world(settings, clock, passwords):  # type: ignore[no-untyped-def]
    p = build(settings.model_copy(update={"public_url": BASE}), clock=clock,
              limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    yield AppWorld(p)
    p.close()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(world: AppWorld, identifier: str):  # type: ignore[no-untyped-def]
    c = world.client
    world.platform.clock.advance(seconds=31)  # past the resend interval of the sign-up code
    r = c.post("/privacy/sign-in/code", data={"identifier": identifier})
    assert r.status_code == 200 and 'name="code"' in r.text
    r = c.post("/privacy/sign-in", data={"identifier": identifier,
                                         "code": last_code(world.platform, identifier)},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/privacy/profile"
    return r


def test_sign_in_sets_a_strict_httponly_cookie_and_pages_need_it(world: AppWorld) -> None:
    ada = world.person("Ada")
    assert world.client.get("/privacy/profile", follow_redirects=False).headers[
        "location"] == "/privacy/sign-in"
    r = sign_in(world, ada.phone)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/privacy" in cookie
    page = world.client.get("/privacy/profile")
    assert page.status_code == 200 and "Ada" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_wrong_code_does_not_sign_in_and_says_so(world: AppWorld) -> None:
    ada = world.person("Ada")
    world.client.post("/privacy/sign-in/code", data={"identifier": ada.phone})
    r = world.client.post("/privacy/sign-in", data={"identifier": ada.phone, "code": "000000"},
                          follow_redirects=False)
    assert r.status_code in (400, 401) and 'role="alert"' in r.text
    assert "set-cookie" not in r.headers


def test_every_form_refuses_a_missing_or_wrong_csrf_value(world: AppWorld) -> None:
    ada = world.person("Ada")
    sign_in(world, ada.phone)
    for path, data in (("/privacy/profile", {"value_name": "Mallory"}),
                       ("/privacy/finding", {}), ("/privacy/notifications", {}),
                       ("/privacy/export", {}), ("/privacy/history/verify", {}),
                       ("/privacy/delete", {"confirm": "delete my account"}),
                       ("/privacy/apps/x/remove", {})):
        for csrf in (None, "0" * 64, "é"):
            body = dict(data, **({"csrf": csrf} if csrf else {}))
            r = world.client.post(path, data=body)
            assert r.status_code == 403, (path, r.status_code)
    assert world.platform.profiles.own(ada.id)[0].fields["name"] == "Ada"
    assert world.client.get("/privacy/profile").status_code == 200  # still there


def test_profile_audience_changes_show_in_view_as(world: AppWorld) -> None:
    ada = world.person("Ada")
    sign_in(world, ada.phone)
    page = world.client.get("/privacy/profile").text
    r = world.client.post("/privacy/profile", data={
        "csrf": csrf_of(page), "value_bio": "Counts engines", "audience_bio": "only_me"},
        follow_redirects=False)
    assert r.status_code == 303
    page = world.client.get("/privacy/profile", params={"view_as": "everyone"}).text
    assert "Counts engines" not in page.split('id="view-as-result"')[1]
    world.client.post("/privacy/profile", data={"csrf": csrf_of(page),
                                                "audience_bio": "everyone"})
    page = world.client.get("/privacy/profile", params={"view_as": "everyone"}).text
    assert "Counts engines" in page.split('id="view-as-result"')[1]
    bad = world.client.post("/privacy/profile", data={
        "csrf": csrf_of(page), "audience_name": "the-world"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_the_done_message_comes_from_the_server_not_the_address(world: AppWorld) -> None:
    ada = world.person("Ada")
    sign_in(world, ada.phone)
    page = world.client.get("/privacy/profile", params={"done": "Call +1 555 0100 now"}).text
    assert "555 0100" not in page


def test_apps_page_removes_an_app_whose_next_call_fails(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, "name:personalisation")
    assert world.call("/me", token).status_code == 200
    sign_in(world, ada.phone)
    page = world.client.get("/privacy/apps").text
    assert "Quiz of the Day" in page and "your name" in page.lower()
    r = world.client.post(f"/privacy/apps/{client_id}/remove", data={"csrf": csrf_of(page)},
                          follow_redirects=False)
    assert r.status_code == 303
    assert world.call("/me", token).status_code == 401
    page = world.client.get("/privacy/apps").text
    removed = page.split('id="removed"')[1]
    assert "Quiz of the Day" in removed and "None." not in removed
    history = world.client.get("/privacy/history", params={"kind": "app_removed"}).text
    assert "You removed an app" in history or "Nothing recorded" in history  # until sequenced
    world.platform.transparency.sequence()
    history = world.client.get("/privacy/history").text
    assert "Quiz of the Day" in history and "You removed an app" in history
    verified = world.client.post("/privacy/history/verify", data={"csrf": csrf_of(history)})
    assert "Verified: all" in verified.text


def test_export_and_delete_from_the_pages(world: AppWorld) -> None:
    ada, bob = world.person("Ada"), world.person("Bob")
    befriend(world.platform, ada, bob)
    sign_in(world, ada.phone)
    page = world.client.get("/privacy/export").text
    r = world.client.post("/privacy/export", data={"csrf": csrf_of(page)})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "friends.csv" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    page = world.client.get("/privacy/delete").text
    r = world.client.post("/privacy/delete", data={"csrf": csrf_of(page), "confirm": "yes"})
    assert r.status_code == 422 and world.platform.profiles.own(ada.id)
    r = world.client.post("/privacy/delete", data={"csrf": csrf_of(page),
                                                   "confirm": "Delete my account"})
    assert r.status_code == 200 and 'id="receipt"' in r.text and '&#34;erasure&#34;' in r.text
    assert world.client.get("/privacy/profile", follow_redirects=False).status_code == 303
    assert world.client.get("/v1/me", headers={
        "Authorization": f"Bearer {ada.token}"}).status_code == 401


def test_partners_are_listed_and_expired_apps_can_be_renewed(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.test_partners import partner

    partner_id, _secret, _agreement = partner(world, ["name:research"])
    client_id, secret = world.app({"name": ["personalisation"]}, name="Old Quiz")
    ada = world.person("Ada")
    world.issue(ada, client_id, secret, "name:personalisation")
    world.platform.partners.opt_in(ada.id, partner_id, ["name:research"])
    clock.advance(days=world.platform.settings.app_access_expiry_days + 1)
    sign_in(world, ada.phone)
    page = world.client.get("/privacy/apps").text
    active, expired = page.split('id="expired"')[0], page.split('id="expired"')[1]
    assert "Ads Partner" in expired and "Old Quiz" in expired  # both past their expiry
    assert "(partner)" in expired and "for research" in expired
    assert "Old Quiz" not in active
    r = world.client.post(f"/privacy/apps/{client_id}/renew", data={"csrf": csrf_of(page)},
                          follow_redirects=False)
    assert r.status_code == 303
    page = world.client.get(r.headers["location"]).text
    assert "Old Quiz" in page.split('id="expired"')[0]  # active again
    assert "Renewed for another period." in page


def test_over_https_the_cookie_is_secure_and_host_bound(settings, clock, passwords) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from palisade.entrypoints.http.app import create_app

    p = build(settings.model_copy(update={"public_url": "https://privacy.example"}),
              clock=clock, limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    world = AppWorld(p)
    world.client = TestClient(create_app(p), base_url="https://privacy.example")
    ada = world.person("Ada")
    cookie = sign_in(world, ada.phone).headers["set-cookie"]
    assert cookie.startswith("__Host-palisade_privacy=")
    lowered = cookie.lower()
    assert "secure" in lowered and "path=/;" in lowered and "domain" not in lowered
    assert world.client.get("/privacy/profile").status_code == 200
    p.close()


def test_signing_out_ends_the_session(world: AppWorld) -> None:
    ada = world.person("Ada")
    sign_in(world, ada.phone)
    token = world.client.cookies.get("palisade_privacy")
    page = world.client.get("/privacy/profile").text
    r = world.client.post("/privacy/sign-out", data={"csrf": csrf_of(page)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/privacy/sign-in"
    assert world.client.get("/privacy/profile", follow_redirects=False).status_code == 303
    assert world.client.get("/v1/me", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401  # ended, not just forgotten
