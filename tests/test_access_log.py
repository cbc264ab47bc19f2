"""The tamper-evident access log: every app access becomes a leaf of an RFC 6962 Merkle log
with signed heads; each person's entries come with inclusion proofs and form a chain; heads
are consistent; a failed batch leaves nothing; erasure makes entries unreadable without
breaking the tree."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from palisade.adapters.crypto.log_signing import LogSigner
from palisade.adapters.storage.tables import AccessEventRow, LogHeadRow, LogLeafRow
from palisade.domain.transparency import rfc6962
from palisade.domain.transparency.verify import signature_ok as verify_head
from palisade.services.transparency.log import StoredTree
from tests.apps_world import AppWorld

SCOPE = "name:personalisation friends:personalisation"


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    app_world.platform.transparency.sequence(limit=10**6)  # start from an empty queue
    return app_world


def public_key(world: AppWorld) -> bytes:
    return LogSigner(world.platform.keyrings.get().secrets["one_time_codes"]).public_key


def test_accesses_become_signed_proven_chained_entries(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"], "friends": ["personalisation"]})
    ada, bob = world.person("Ada"), world.person("Bob")
    tok_ada = world.issue(ada, client_id, secret, SCOPE)
    for _ in range(3):
        assert world.call("/me", tok_ada).status_code == 200
    assert world.call("/me", tok_ada, purpose="advertising").status_code == 403  # refused
    world.call("/me", world.issue(bob, client_id, secret, SCOPE))
    log = world.platform.transparency
    assert log.sequence() == 5
    head, entries = log.entries_of(ada.id)
    assert verify_head(public_key(world), head.size, head.timestamp_ms, head.root,
                       head.signature)
    assert [e.entry["seq"] for e in entries] == [0, 1, 2, 3]
    assert [e.entry["x_outcome"] for e in entries] == ["released"] * 3 + ["refused"]
    assert {e.entry["x_actor"] for e in entries} == {client_id}
    prev = None
    for e in entries:
        raw = __import__("palisade.domain.transparency.entries", fromlist=["x"])
        leaf = rfc6962.leaf_hash(raw.encode(raw.LogEntry(
            e.entry["kind"], e.entry["person"], {k[2:]: v for k, v in e.entry.items()
                                                 if k.startswith("x_")},
            e.entry["seq"], e.entry["prev"])))
        assert leaf == e.leaf_hash  # the entry as exported is exactly what was hashed
        assert e.entry["prev"] == prev
        prev = e.leaf_hash.hex()
        rfc6962.verify_inclusion(e.index, head.size, e.leaf_hash, e.inclusion, head.root)
    with world.platform.uow() as session:  # the event knows its place in the log
        placed = session.scalars(sa.select(AccessEventRow.log_index).where(
            AccessEventRow.person_id == ada.id)).all()
    assert sorted(placed) == [e.index for e in entries]


def test_heads_are_consistent_across_batches_and_proofs_match_the_reference(
        world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"]})
    people = [world.person(f"P{i}") for i in range(3)]
    tokens = [world.issue(p, client_id, secret, "name:personalisation") for p in people]
    log = world.platform.transparency
    rng = random.Random(7)
    heads = [log.head()]
    for _ in range(6):
        for _ in range(rng.randint(1, 9)):
            world.call("/me", rng.choice(tokens))
        log.sequence(limit=rng.randint(1, 12))
        heads.append(log.head())
    key = public_key(world)
    for earlier in heads:
        for later in heads:
            if 0 < earlier.size <= later.size:
                rfc6962.verify_consistency(earlier.size, later.size,
                                           log.consistency(earlier.size, later.size),
                                           earlier.root, later.root)
        if earlier.size:
            assert verify_head(key, earlier.size, earlier.timestamp_ms, earlier.root,
                               earlier.signature)
    # the stored tree answers exactly what a tree built from all the leaves answers
    last = heads[-1]
    with world.platform.uow() as session:
        leaves = list(session.scalars(sa.select(LogLeafRow.leaf_hash).order_by(
            LogLeafRow.index).where(LogLeafRow.index < last.size)))
        stored = StoredTree(session)
        reference = rfc6962.in_memory(leaves)
        assert rfc6962.root(last.size, reference) == last.root
        for index in rng.sample(range(last.size), min(20, last.size)):
            assert rfc6962.inclusion_proof(index, last.size, stored) == \
                rfc6962.inclusion_proof(index, last.size, reference)


def test_a_failed_batch_leaves_nothing_behind(world: AppWorld, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    world.call("/me", world.issue(ada, client_id, secret, "name:personalisation"))
    log = world.platform.transparency
    before = log.head()

    class Broken:
        def sign(self, *args: object) -> bytes:
            raise RuntimeError("power cut before the head was signed")

    monkeypatch.setattr(log, "signer", Broken())
    with pytest.raises(RuntimeError):
        log.sequence()
    with world.platform.uow() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LogLeafRow).where(
            LogLeafRow.index >= before.size)) == 0
        assert session.scalar(sa.select(sa.func.max(LogHeadRow.size))) in (None, before.size)
        assert session.scalar(sa.select(sa.func.count()).select_from(AccessEventRow).where(
            AccessEventRow.person_id == ada.id, AccessEventRow.log_index.is_(None))) == 1
    monkeypatch.undo()
    assert log.sequence() == 1  # the next run appends it


def test_erasure_shreds_entries_but_keeps_the_tree(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"]})
    ada, bob = world.person("Ada"), world.person("Bob")
    world.call("/me", world.issue(ada, client_id, secret, "name:personalisation"))
    world.call("/me", world.issue(bob, client_id, secret, "name:personalisation"))
    log = world.platform.transparency
    log.sequence()
    head = log.head()
    with world.platform.uow() as session:
        bob_leaf = session.scalars(sa.select(LogLeafRow).where(
            LogLeafRow.person_id == bob.id)).one()
        bob_index, bob_ct = bob_leaf.index, bob_leaf.entry_ct
    erasure = world.platform.maintenance.erase(bob.id)
    with world.platform.uow() as session:
        row = session.get(LogLeafRow, bob_index)
        assert row.person_id is None and row.entry_ct == bob_ct  # sealed under a key that is gone
        assert rfc6962.root(head.size, StoredTree(session)) == head.root
        # the erasure itself is the next leaf, in the clear, chained to Bob's last entry
        receipt_leaf = session.get(LogLeafRow, head.size)
        assert receipt_leaf.public and receipt_leaf.person_id is None
    entry = erasure.log_entry.entry
    assert entry["kind"] == "erasure" and entry["person"] == bob.id and entry["seq"] == 1
    assert entry["prev"] == bob_leaf.leaf_hash.hex()
    assert entry["x_steps"]["data_keys"] == 1 and entry["x_steps"]["persons"] == 1
    assert erasure.head.size == head.size + 1 == log.head().size
    rfc6962.verify_inclusion(erasure.log_entry.index, erasure.head.size,
                             erasure.log_entry.leaf_hash, erasure.log_entry.inclusion,
                             erasure.head.root)
    rfc6962.verify_consistency(head.size, erasure.head.size,
                               log.consistency(head.size, erasure.head.size), head.root,
                               erasure.head.root)
    new_head, entries = log.entries_of(ada.id)
    for e in entries:
        rfc6962.verify_inclusion(e.index, new_head.size, e.leaf_hash, e.inclusion,
                                 new_head.root)
    assert log.entries_of(bob.id)[1] == []


def test_a_person_reads_and_checks_their_log_over_http(world: AppWorld) -> None:
    import base64

    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    world.call("/me", world.issue(ada, client_id, secret, "name:personalisation"))
    world.platform.transparency.sequence()
    r = world.client.get("/v1/me/access-log", headers={"Authorization": f"Bearer {ada.token}"})
    assert r.status_code == 200
    doc = r.json()
    d = base64.b64decode
    head = doc["head"]
    assert verify_head(d(head["public_key"]), head["size"], head["timestamp_ms"],
                       d(head["root"]), d(head["signature"]))
    [entry] = doc["entries"]
    assert entry["entry"]["person"] == ada.id and entry["entry"]["x_fields"] == ["name"]
    rfc6962.verify_inclusion(entry["index"], head["size"], d(entry["leaf_hash"]),
                             [d(x) for x in entry["inclusion_proof"]], d(head["root"]))
    assert world.client.get("/v1/me/access-log").status_code == 401
    assert world.client.get("/v1/transparency/head").json()["size"] == head["size"]
    assert world.client.get("/v1/transparency/consistency",
                            params={"first": 1, "second": head["size"] + 1}).status_code == 422


def test_palisade_verify_checks_an_export_and_catches_tampering(world: AppWorld,
                                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    import copy
    import json

    from typer.testing import CliRunner

    from palisade.domain.transparency.verify import verify_export
    from palisade.entrypoints.cli import app as cli

    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, "name:personalisation")
    world.call("/me", token)
    world.platform.transparency.sequence()
    first = world.platform.transparency.head().size
    for _ in range(3):
        world.call("/me", token)
    world.platform.transparency.sequence()
    auth = {"Authorization": f"Bearer {ada.token}"}
    doc = world.client.get("/v1/me/access-log", params={"earlier_size": first},
                           headers=auth).json()
    report = verify_export(doc)
    assert report.ok, report.problems
    assert report.entries == 4 and any("extends" in c for c in report.checked)
    beyond = world.client.get("/v1/me/access-log", headers=auth, params={
        "earlier_size": world.platform.transparency.head().size + 1})
    assert beyond.status_code == 422 and "earlier_size" in beyond.json()["detail"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["verify", str(path)])
    assert result.exit_code == 0 and "FAIL" not in result.output

    def broken(change) -> list[str]:  # type: ignore[no-untyped-def]
        bad = copy.deepcopy(doc)
        change(bad)
        return verify_export(bad).problems

    assert broken(lambda d: d["entries"][1]["entry"].update(x_fields=["name", "birthday"]))
    assert broken(lambda d: d["entries"].pop(1))  # a dropped entry breaks the chain
    assert broken(lambda d: d["head"].update(timestamp_ms=d["head"]["timestamp_ms"] + 1))
    assert broken(lambda d: d["earlier"]["consistency_proof"].reverse()
                  if len(d["earlier"]["consistency_proof"]) > 1
                  else d["earlier"]["head"].update(root=d["head"]["root"]))
    assert broken(lambda d: d.pop("head"))
    path.write_text(json.dumps({**doc, "entries": doc["entries"][:1] + doc["entries"][2:]}))
    result = CliRunner().invoke(cli, ["verify", str(path)])
    assert result.exit_code == 1 and "FAIL" in result.output


def test_the_verifier_stands_alone() -> None:
    import subprocess
    import sys

    code = ("import sys, palisade.domain.transparency.verify as v; "
            "heavy = [m for m in ('sqlalchemy', 'fastapi', 'redis', 'palisade.bootstrap', "
            "'palisade.services') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
