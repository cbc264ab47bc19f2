"""What the access log records beyond app access: operator reads (only with a reason and a
reference), discovery finds and friends' profile views (counted per day, never itemised),
exports, and erasures (whose receipt proves the erasure is on the record); and the export
ZIP itself (GDPR Articles 15 and 20)."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from pydantic import SecretStr

from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.bootstrap import build
from palisade.domain.discovery.discoverability import Discoverability
from palisade.domain.transparency import rfc6962
from palisade.domain.transparency.verify import canonical, verify_export
from palisade.domain.transparency.verify import main as verify_main
from palisade.services.discovery.sync import SyncMode
from tests.apps_world import BASE, AppWorld
from tests.conftest import age_account, befriend, register

ADMIN = "operator-token-for-tests-only"


@pytest.fixture
def world(settings, clock, passwords):  # type: ignore[no-untyped-def]
    p = build(settings.model_copy(update={"public_url": BASE, "admin_token": SecretStr(ADMIN)}),
              clock=clock, limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    w = AppWorld(p)
    p.transparency.sequence(limit=10**6)
    yield w
    p.close()


def entries(world: AppWorld, person_id: str, kind: str | None = None) -> list[dict]:
    world.platform.transparency.sequence_all()
    _, found = world.platform.transparency.entries_of(person_id)
    return [e.entry for e in found if kind is None or e.entry["kind"] == kind]


def admin(world: AppWorld, person_id: str, **params: str):  # type: ignore[no-untyped-def]
    return world.client.get(f"/v1/admin/people/{person_id}", params=params,
                            headers={"Authorization": f"Bearer {ADMIN}"})


def test_an_operator_reads_pii_only_with_a_reason_and_the_person_sees_it(world: AppWorld) -> None:
    ada = world.person("Ada Lovelace")
    assert admin(world, ada.id).status_code == 422  # no reason, no reference
    assert admin(world, ada.id, reason="curiosity", reference="T-1").status_code == 422
    assert admin(world, ada.id, reason="support_request", reference="x").status_code == 422
    assert entries(world, ada.id, "operator_access") == []  # refused reads release nothing
    r = admin(world, ada.id, reason="support_request", reference="TICKET-4711")
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["name"] == "Ada Lovelace"
    assert r.json()["identifiers"][0]["value"] == ada.phone
    [entry] = entries(world, ada.id, "operator_access")
    assert entry["x_purpose"] == "support_request" and entry["x_reference"] == "TICKET-4711"
    assert "name" in entry["x_fields"] and "phone" in entry["x_fields"]
    assert entry["x_actor_kind"] == "operator"
    # without the operator token there is nothing to read at all
    assert world.client.get(f"/v1/admin/people/{ada.id}", params={
        "reason": "support_request", "reference": "TICKET-4711"}).status_code == 401


def test_discovery_finds_are_counted_per_day_without_naming_the_finders(
        world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    p = world.platform
    ada = register(p, name="Ada")
    p.discovery.set_discoverability(ada.id, p.discovery.settings(ada.id)[0]["identifier_id"],
                                    Discoverability.EVERYONE)
    friend = age_account(p, register(p, name="Friend"))
    befriend(p, ada, friend)
    stranger = age_account(p, register(p, name="Stranger"))
    voucher = age_account(p, register(p))  # gives the stranger standing to find strangers
    p.discovery.sync(voucher.id, "198.51.100.9", [stranger.phone], SyncMode.FULL)
    for who in (friend, stranger):
        result = p.discovery.sync(who.id, "198.51.100.7", [ada.phone], SyncMode.FULL)
        assert ada.id in {m.person_id for m in result.matches}
    # found again the same day by the same people: not counted twice
    p.discovery.sync(friend.id, "198.51.100.7", [ada.phone], SyncMode.FULL)
    assert entries(world, ada.id, "discovery_finds") == []  # the day is not over
    clock.advance(days=1)
    [entry] = entries(world, ada.id, "discovery_finds")
    assert entry["x_count"] == 2 and entry["x_strangers"] == 1
    assert entry["x_day"] == (clock() - timedelta(days=1)).date().isoformat()
    text = json.dumps(entry)
    assert friend.id not in text and stranger.id not in text  # never itemised


def test_tally_batches_fold_into_one_running_tally_per_person_and_day(
        world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    """A sync writes one batch row; the background job adds the batches up (same person,
    same day: one row), deletes them, and skips people erased in between."""
    from sqlalchemy import func, select

    from palisade.adapters.storage.log_repository import add_to_tallies, fold_tallies, tallies_of
    from palisade.adapters.storage.tables import DailyTallyRow, TallyBatchRow

    p = world.platform
    ada, bob, gone = register(p, name="Ada"), register(p, name="Bob"), register(p, name="Gone")
    today = clock().date()
    with p.uow() as session:
        add_to_tallies(session, "discovery_finds", today, {ada.id: (1, 1), bob.id: (1, 0)})
        add_to_tallies(session, "discovery_finds", today, {ada.id: (1, 0), gone.id: (1, 1)})
        add_to_tallies(session, "friend_views", today, {ada.id: (1, 0)})
        assert session.scalar(select(func.count()).select_from(TallyBatchRow)) == 3
        assert tallies_of(session, ada.id) == []  # not folded yet
    p.maintenance.erase(gone.id)  # folds first (sequence_all), so erase again after a batch
    with p.uow() as session:
        add_to_tallies(session, "discovery_finds", today, {gone.id: (1, 1), bob.id: (1, 1)})
    with p.uow() as session:
        assert fold_tallies(session) == 1
        assert fold_tallies(session) == 0
        assert session.scalar(select(func.count()).select_from(TallyBatchRow)) == 0
        ada_rows = {(r.kind, r.count, r.strangers) for r in tallies_of(session, ada.id)}
        assert ada_rows == {("discovery_finds", 2, 1), ("friend_views", 1, 0)}
        assert [(r.count, r.strangers) for r in tallies_of(session, bob.id)] == [(2, 1)]
        assert session.scalar(select(func.count()).select_from(DailyTallyRow)
                              .where(DailyTallyRow.person_id == gone.id)) == 0


def test_friends_views_are_counted_not_itemised(world: AppWorld, clock) -> None:  # type: ignore[no-untyped-def]
    p = world.platform
    ada, bob, eve = register(p, name="Ada"), register(p, name="Bob"), register(p, name="Eve")
    befriend(p, ada, bob)
    befriend(p, ada, eve)
    for viewer in (bob, bob, eve):
        p.profiles.read(viewer.id, ada.id)
    p.profiles.read(ada.id, ada.id)  # one's own profile is not a view
    clock.advance(days=1)
    [entry] = entries(world, ada.id, "friend_views")
    assert entry["x_count"] == 3
    assert bob.id not in json.dumps(entry) and eve.id not in json.dumps(entry)


def _zip(world: AppWorld, token: str) -> zipfile.ZipFile:
    r = world.client.get("/v1/me/export", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(r.content))


def test_the_export_holds_everything_with_recipients_retention_and_a_verifiable_log(
        world: AppWorld, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = world.platform
    client_id, secret = world.app({"name": ["personalisation"], "birthday": ["advertising"]})
    ada, bob = world.person("Ada Lovelace"), world.person("Bob")
    befriend(p, ada, bob)
    conv = p.messaging.open(ada.id, bob.id)
    p.messaging.send(bob.id, conv.id, "see you at the engine")
    world.call("/me", world.issue(ada, client_id, secret, "name:personalisation"))
    z = _zip(world, ada.token)
    names = set(z.namelist())
    for stem in ("profile", "identifiers", "friends", "messages", "apps_and_partners",
                 "access_log", "notifications", "sessions"):
        assert {f"{stem}.json", f"{stem}.csv"} <= names
    assert {"README.txt", "retention.json"} <= names
    assert "palisade verify access_log.json" in z.read("README.txt").decode()
    profile = {r["field"]: r for r in csv.DictReader(io.StringIO(z.read("profile.csv").decode()))}
    assert profile["name"]["value"] == "Ada Lovelace" and profile["name"]["audience"]
    assert json.loads(z.read("identifiers.json"))[0]["value"] == ada.phone
    assert json.loads(z.read("friends.json")) == [{"person_id": bob.id, "name": "Bob"}]
    [message] = json.loads(z.read("messages.json"))
    assert message["body"] == "see you at the engine" and message["from"] == bob.id
    [recipient] = json.loads(z.read("apps_and_partners.json"))
    assert recipient["recipient"] == "Quiz of the Day" and recipient["field"] == "name"
    assert recipient["purpose"] == "personalisation" and recipient["access_until"]
    assert "messages" in json.loads(z.read("retention.json"))
    log_doc = json.loads(z.read("access_log.json"))
    report = verify_export(log_doc, p.transparency.signer.public_key)
    assert report.ok, report.problems
    kinds = [e["entry"]["kind"] for e in log_doc["entries"]]
    assert "app_access" in kinds and kinds[-1] == "export"  # the export is on its own record
    rows = list(csv.DictReader(io.StringIO(z.read("access_log.csv").decode())))
    assert [r["kind"] for r in rows] == kinds
    # `palisade verify` takes the ZIP itself
    path = tmp_path / "export.zip"
    path.write_bytes(world.client.get("/v1/me/export", headers={
        "Authorization": f"Bearer {ada.token}"}).content)
    assert verify_main([str(path)]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_another_persons_export_holds_nothing_of_ada(world: AppWorld) -> None:
    ada, bob = world.person("Ada Lovelace"), world.person("Bob")
    z = _zip(world, bob.token)
    blob = b"".join(z.read(n) for n in z.namelist())
    assert ada.id.encode() not in blob and ada.phone.encode() not in blob
    assert b"Ada Lovelace" not in blob


def test_the_erasure_receipt_proves_the_erasure_is_in_the_log(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    world.call("/me", world.issue(ada, client_id, secret, "name:personalisation"))
    auth = {"Authorization": f"Bearer {ada.token}"}
    r = world.client.delete("/v1/me", params={"confirm": "erase-everything"}, headers=auth)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["data_key_destroyed"] and receipt["rows_deleted"]["persons"] == 1
    entry, head = receipt["log_entry"], receipt["log_head"]
    assert entry["entry"]["kind"] == "erasure" and entry["entry"]["person"] == ada.id
    assert entry["entry"]["seq"] >= 1  # chained after the app access
    d = base64.b64decode
    leaf = rfc6962.leaf_hash(canonical(entry["entry"]))
    assert leaf == d(entry["leaf_hash"])
    rfc6962.verify_inclusion(entry["index"], head["size"], leaf,
                             [d(x) for x in entry["inclusion_proof"]], d(head["root"]))
    assert world.client.get("/v1/me", headers=auth).status_code == 401
