"""Leak response end to end on a demo population of its own: honest people syncing their
real address books never see a canary; `palisade demo dump` writes a messy 2021-shaped dump
harvested by a scraping account and an app; the scanner finds the right people, attributes
exactly those two recipients and nobody on a dump without canaries; the people in it are
told; the operator gets an Article 33 draft and contains the recipients in one command; and
anyone can check an identifier only after proving control of it."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import CanaryRow, CanaryWatchRow, NotificationRow
from palisade.bootstrap import Platform, build, initialise
from palisade.config import Settings
from palisade.demo.dump import DumpPerson, write_dump
from palisade.demo.population import generate, load
from palisade.domain.leaks.attribution import Verdict
from palisade.entrypoints.http.app import create_app
from palisade.services.discovery.sync import SyncMode
from palisade.services.leaks.demo_dump import make_demo_dump
from palisade.services.leaks.scanner import ScanOptions
from tests.conftest import last_code

PEOPLE = 400


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, object]]:
    home = tmp_path_factory.mktemp("leaks-home")
    settings = Settings(home=home, _env_file=None, code_sends_per_address_per_hour=10_000,
                        code_resend_interval_seconds=0)
    initialise(settings)
    platform = build(settings, limiter=MemoryRateLimiter())
    population = generate(PEOPLE, seed=7, mean_degree=8)
    with platform.uow() as session:
        load(Repository(session), population, platform.envelope, platform.accounts.bidx)
    yield platform, population
    platform.close()


def canaries(platform: Platform) -> int:
    with platform.uow() as session:
        return session.scalar(select(func.count()).select_from(CanaryRow)) or 0


def test_honest_people_syncing_their_address_books_never_see_a_canary(world) -> None:  # type: ignore[no-untyped-def]
    platform, population = world
    rng = random.Random(1)
    ids = {p.id for p in population.people}
    shown = set()
    for person in population.people:
        # a real book: their friends, some other members, and numbers of people who are not
        # members (about 60%, as in the enumeration benchmark's honest model)
        friends = [population.people[j].phone for j in person.friends]
        others = [p.phone for p in rng.sample(population.people, 5)]
        strangers = [f"+1{rng.choice([201, 202, 212, 312, 415])}555{rng.randint(0, 9999):04d}"
                     for _ in range(int(1.5 * (len(friends) + 5)))]
        result = platform.discovery.sync(person.id, f"198.51.{rng.randint(0, 255)}.7",
                                         friends + others + strangers, SyncMode.FULL)
        shown.update(m.person_id for m in result.matches)
    assert shown <= ids  # every match is a real member
    assert canaries(platform) == 0
    with platform.uow() as session:
        assert session.scalar(select(func.count()).select_from(CanaryWatchRow)) == 0


def test_the_demo_dump_is_attributed_to_the_scraper_and_the_app(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platform, _population = world
    path = tmp_path / "dump.csv"
    demo = make_demo_dump(platform, str(path), people=300, seed=5)
    assert demo.stats.truncated_last_line and demo.stats.duplicates >= 0
    index = platform.leaks.index()
    report = platform.leaks.scan(str(path), index, ScanOptions(processes=2, split_above=1))
    verdicts = {a.recipient: a.verdict for a in report.attribution}
    scraper, app = f"discovery:{demo.scraper_account}", f"app:{demo.app_id}"
    assert verdicts[scraper] is Verdict.ATTRIBUTED
    assert verdicts[app] is Verdict.ATTRIBUTED
    assert {r for r, v in verdicts.items() if v is Verdict.ATTRIBUTED} == {scraper, app}
    assert demo.members - 2 <= report.people_matched <= demo.members  # the cut row may be lost
    assert report.fields["phone"] == report.people_matched
    assert report.failed_rows >= 1 and report.failures[0][0] > 1
    assert report.incident_id and report.new and report.notified == report.people_matched

    # the people in it are told which of their details leaked
    with platform.uow() as session:
        told = session.scalars(select(NotificationRow).where(
            NotificationRow.kind == "leak_found")).all()
    assert len(told) == report.notified and "appeared in a leaked file" in told[0].detail
    assert "phone number" in told[0].detail  # the fields are named as people say them
    # and their export says so too (GDPR Article 15: what is held about them)
    someone = told[0].person_id
    with zipfile.ZipFile(io.BytesIO(platform.export.build(someone).data)) as z:
        [leak] = json.loads(z.read("leaks.json"))
    assert leak["incident"] == report.incident_id and "phone" in leak["fields"]

    # scanning the same file again records nothing new
    again = platform.leaks.scan(str(path), index, ScanOptions(processes=1))
    assert again.incident_id == report.incident_id and not again.new

    # the operator's draft and one-command containment
    draft = platform.leaks.article_33_draft(report.incident_id)
    assert "Article 33" in draft and f"{report.people_matched:,}" in draft
    suspended: list[str] = []
    frozen: list[str] = []
    actions = platform.leaks.contain(report.incident_id,
                                     lambda a, reason: suspended.append(a),
                                     lambda a: 0, frozen.append, lambda pid: 0)
    assert suspended == [demo.app_id] and frozen == [demo.scraper_account]
    assert len(actions) == 2


def test_a_dump_without_canaries_or_handed_out_ids_names_nobody(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platform, population = world
    rows = [DumpPerson(id=str(10_000 + i), phone=p.phone, first_name=p.fields["name"],
                       last_name="", email=p.email) for i, p in enumerate(population.people)]
    path = tmp_path / "plain.jsonl"
    write_dump(str(path), rows, fmt="jsonl", seed=2)
    report = platform.leaks.scan(str(path), platform.leaks.index(),
                                 ScanOptions(processes=1), record=False)
    assert report.people_matched >= PEOPLE - 2
    assert not [a for a in report.attribution if a.verdict is Verdict.ATTRIBUTED]


def test_the_exposure_check_answers_only_after_proof_of_control(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platform, population = world
    path = tmp_path / "exposure.csv"
    leaked = population.people[10]
    safe = "+13125550166"  # in no dump
    outsider = "+12125550177"  # not a member, but in the dump
    write_dump(str(path), [
        DumpPerson(id="1", phone=leaked.phone, first_name="X", last_name="Y",
                   birthday="1990-01-01"),
        DumpPerson(id="2", phone=outsider, first_name="Out", last_name="Sider",
                   location="Springfield")], mess=False)
    platform.leaks.scan(str(path), platform.leaks.index(), ScanOptions(processes=1))
    client = TestClient(create_app(platform))

    def ask(phone: str) -> dict:
        sent = client.post("/v1/exposure/codes", json={"identifier": phone})
        assert sent.status_code == 202
        wrong = client.post("/v1/exposure", json={"identifier": phone, "code": "000000"})
        assert wrong.status_code in (400, 401)  # never an answer without the code
        r = client.post("/v1/exposure", json={"identifier": phone,
                                               "code": last_code(platform, phone)})
        assert r.status_code == 200, r.text
        return r.json()

    first = client.post("/v1/exposure/codes", json={"identifier": leaked.phone})
    second = client.post("/v1/exposure/codes", json={"identifier": safe})
    assert first.json().keys() == second.json().keys()  # the same answer before proof
    answer = ask(outsider)
    assert answer["found"] and "location" in answer["incidents"][0]["fields"]
    assert ask(safe) == {"found": False, "incidents": []}
    mine = ask(leaked.phone)["incidents"]
    assert "birthday" in next(i for i in mine if i["name"] == "exposure.csv")["fields"]
