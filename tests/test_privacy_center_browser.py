"""The Privacy Center in a real browser (Debian's Chromium driven by Playwright) against a
running server: a person signs in with a one-time code, changes an audience and sees View As
follow, finds the app in Apps and partners and removes it (the app's next call fails), sees
the access in the history and verifies it, downloads the export and checks it, and deletes
the account. Every page is screenshotted (test-results/privacy-center/) and checked with
axe-core: no serious or critical accessibility violation."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from palisade.bootstrap import Platform, build
from palisade.config import Settings
from palisade.domain.transparency.verify import verify_export
from tests.apps_helpers import (
    PASSWORD,
    graph_me,
    http_person,
    issue_over_http,
    register_app,
)
from tests.conftest import LiveServer, last_code, serving

SHOTS = Path(os.environ.get("PALISADE_SCREENSHOTS", "test-results/privacy-center"))
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # the access log's sequencer runs every second, as a busy server's would
    with serving(tmp_path_factory.mktemp("privacy-home"),
                 {"PALISADE_PURGE_INTERVAL_SECONDS": "1"}) as live:
        yield live


@pytest.fixture(scope="module")
def outbox(server: LiveServer) -> Iterator[Platform]:
    """The server's own database, read only for the codes a person would read on their
    phone."""
    p = build(Settings(home=Path(server.env["PALISADE_HOME"]), _env_file=None))
    yield p
    p.close()


class Checked:
    """Screenshots each page and runs axe-core on it."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        from axe_playwright_python.sync_playwright import Axe

        self.page, self.axe, self.pages = page, Axe(), []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{len(self.pages):02d}-{name}.png"),
                             full_page=True)
        results = self.axe.run(self.page)
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v.get("impact") in BLOCKING]
        assert not bad, f"{name}: " + "; ".join(bad)
        self.pages.append(name)


def test_a_person_controls_their_data_from_the_privacy_center(
        server: LiveServer, outbox: Platform, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = server.url
    with server.client() as client:
        dev = http_person(client, outbox, "Dev")
        ada = http_person(client, outbox, "Ada Lovelace")
        client_id, secret = register_app(client, dev, {"name": ["personalisation"],
                                                       "birthday": ["personalisation"]})
    token, key = issue_over_http(base, client_id, secret, ada,
                                 "name:personalisation birthday:personalisation")
    assert graph_me(base, token, key).status_code == 200

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    check = Checked(page)

    # sign in with a one-time code
    page.goto(base + "/privacy")
    page.wait_for_selector("#send-code")
    check("sign-in")
    page.fill("#identifier", ada.phone)
    page.click("#send-code")
    page.wait_for_selector("#code")
    check("sign-in-code")
    page.fill("#code", last_code(outbox, ada.phone))
    page.click("#sign-in")
    page.wait_for_url(base + "/privacy/profile")
    check("profile")

    # change an audience and see View As follow it
    page.select_option("#audience_birthday", "only_me")
    page.click("#save-profile")
    page.wait_for_selector("p.done")
    page.select_option("#view_as", "everyone")
    page.click("#show-view-as")
    assert "1990-04-01" not in page.inner_text("#view-as-result")
    page.select_option("#audience_birthday", "everyone")
    page.click("#save-profile")
    page.wait_for_selector("p.done")
    page.select_option("#view_as", "everyone")
    page.click("#show-view-as")
    assert "1990-04-01" in page.inner_text("#view-as-result")
    check("profile-view-as")

    # who can find me
    page.click("nav >> text=Who can find me")
    page.wait_for_selector("#save-finding")
    select = page.locator("select[id^=findable_]").first
    assert select.input_value() == "mutual_contacts"  # the safe default
    select.select_option("nobody")
    page.click("#save-finding")
    page.wait_for_selector("p.done")
    assert page.locator("select[id^=findable_]").first.input_value() == "nobody"
    check("finding")

    # the access is in the history (the server sequences it within a second or two)
    page.click("nav >> text=Access history")
    deadline = time.monotonic() + 20
    while "Quiz of the Day" not in page.inner_text("#history"):
        assert time.monotonic() < deadline, "the access never reached the history"
        time.sleep(0.5)
        page.reload()
    row = page.inner_text("#history")
    assert "App or partner access" in row and "name" in row and "birthday" in row
    check("history")
    page.select_option("#actor", client_id)
    page.click("#apply-filter")
    assert "Quiz of the Day" in page.inner_text("#history")
    page.select_option("#kind", "export")
    page.click("#apply-filter")
    assert "Nothing recorded that matches the filter" in page.inner_text("#history")
    page.click("#verify")
    page.wait_for_selector("#verdict")
    assert page.inner_text("#verdict").startswith("Verified: all")
    check("history-verified")

    # find the app and remove it: its next call fails
    page.click("nav >> text=Apps and partners")
    page.wait_for_selector("#active")
    active = page.locator("section.card", has_text="Quiz of the Day")
    assert "your birthday" in active.inner_text().lower()
    check("apps")
    page.click("button[aria-label='Remove Quiz of the Day']")
    page.wait_for_selector("p.done")
    assert graph_me(base, token, key).status_code == 401
    assert "Quiz of the Day" in page.inner_text("main").split("Removed\n", 1)[1]
    check("apps-removed")

    # notifications and their preferences
    page.click("nav >> text=Notifications")
    page.wait_for_selector("#save-notifications")
    assert "Quiz of the Day" in page.inner_text("main")  # told when the app got access
    page.select_option("#email_new_sign_in", "daily")
    page.click("#save-notifications")
    page.wait_for_selector("p.done")
    assert page.locator("#email_new_sign_in").input_value() == "daily"
    check("notifications")

    # download the export and check it
    page.click("nav >> text=Export")
    page.wait_for_selector("#download-export")
    check("export")
    with page.expect_download() as info:
        page.click("#download-export")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    z = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert {"profile.json", "profile.csv", "access_log.json", "apps_and_partners.csv",
            "retention.json", "README.txt"} <= set(z.namelist())
    profile = {r["field"]: r for r in json.loads(z.read("profile.json"))}
    assert profile["name"]["value"] == "Ada Lovelace"
    assert profile["birthday"]["audience"] == "everyone"
    log_doc = json.loads(z.read("access_log.json"))
    assert verify_export(log_doc).ok
    kinds = [e["entry"]["kind"] for e in log_doc["entries"]]
    assert "app_access" in kinds and "app_removed" in kinds and kinds[-1] == "export"

    # delete the account: a receipt, then nothing works any more
    page.click("nav >> text=Delete account")
    page.wait_for_selector("#delete-account")
    check("delete")
    page.fill("#confirm", "delete my account")
    page.click("#delete-account")
    page.wait_for_selector("#receipt")
    receipt = json.loads(page.inner_text("#receipt"))
    assert receipt["data_key_destroyed"] and receipt["log_entry"]["entry"]["kind"] == "erasure"
    check("deleted")
    page.goto(base + "/privacy/profile")
    assert page.url == base + "/privacy/sign-in"  # the session is gone
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/v1/me", headers={
            "Authorization": f"Bearer {ada.token}"}).status_code == 401
        assert client.post("/v1/auth/sessions", json={
            "identifier": ada.phone, "password": PASSWORD}).status_code == 401
    context.close()
    assert len(check.pages) == 13
