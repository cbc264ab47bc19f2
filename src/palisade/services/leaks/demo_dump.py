"""`palisade demo dump`: a synthetic dump in the shape of the 2021 one, drawn from the people
held here, as two real leaks would have produced it: a scraping account's harvest through
contact discovery (ids as discovery shows them, plus the canaries it was served) and a
harvesting app's (its app-scoped ids, plus its canaries). It sets that scene up first: a
scraping account the detectors would have flagged, and an app some people authorized, both
under canary watch."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select

from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import AppAuthorizationRow, IdentifierRow
from palisade.demo.dump import DumpPerson, DumpStats, write_dump
from palisade.domain.errors import InvalidInput
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.services.leaks.canaries import Canary
from palisade.services.people import new_id

SCRAPER_PHONE = "+12025550188"  # the scraping account's own number (fiction range)
SCRAPER_CANARIES = 5


@dataclass(frozen=True)
class DemoDump:
    stats: DumpStats
    scraper_account: str
    app_id: str
    members: int
    canaries: dict[str, int]  # recipient -> canaries in the dump


def _person_row(platform, person_id: str, shown_id: str) -> DumpPerson | None:  # type: ignore[no-untyped-def]
    rendered, _ = platform.profiles.own(person_id)
    f = rendered.fields
    ids = {i["kind"]: i["value"] for i in platform.accounts.identifiers(person_id)}
    name = (f.get("name") or "").split(" ", 1)
    if not ids.get("phone") and not ids.get("email"):
        return None
    return DumpPerson(id=shown_id, phone=ids.get("phone", ""), first_name=name[0],
                      last_name=name[1] if len(name) > 1 else "",
                      location=f.get("location") or "", email=ids.get("email", ""),
                      relationship_status=f.get("relationship_status") or "",
                      birthday=f.get("birthday") or "")


def _canary_row(c: Canary) -> DumpPerson:
    p = c.profile
    return DumpPerson(id=c.scoped_id, phone=c.phone, first_name=p["first_name"],
                      last_name=p["last_name"], gender=p.get("gender", ""),
                      location=p.get("location", ""), workplace=p.get("workplace", ""),
                      birthday=p.get("birthday", ""))


def make_demo_dump(platform, path: str, people: int = 2000, fmt: str = "csv",  # type: ignore[no-untyped-def]
                   gzip: bool = False, seed: int = 2021, mess: bool = True) -> DemoDump:
    rng = random.Random(seed)
    now = platform.clock()
    with platform.uow() as session:
        repo = Repository(session)
        member_ids = sorted(set(session.scalars(select(IdentifierRow.person_id))))
        if len(member_ids) < 20:
            raise InvalidInput("Load the demo population first (`palisade demo`).")
        # the scraping account, flagged and watched, with the canaries its sweep was served
        bidx = platform.accounts.bidx.of(Identifier(IdentifierKind.PHONE, SCRAPER_PHONE))
        row = repo.identifier_by_bidx(bidx)
        scraper = row.person_id if row else platform.accounts.keys.create_person(
            repo, Identifier(IdentifierKind.PHONE, SCRAPER_PHONE), bidx, now,
            fields={"name": "Sweep Account"})
        platform.canaries.watch_in(session, "discovery", scraper, "range_sweep", now)
        scraper_canaries = platform.canaries.of(session, "discovery", scraper)
        while len(scraper_canaries) < SCRAPER_CANARIES:
            scraper_canaries.append(platform.canaries.mint(
                session, "discovery", scraper, platform.canaries.unheld_phone(session), rng))
    # the harvesting app, authorized by some people, watched
    app = platform.apps.register(
        name="Quiz of the Day", redirect_uris=["https://quiz.example.com/callback"],
        requested={"name": ["personalisation"], "friends": ["personalisation"]},
        privacy_policy_url="https://quiz.example.com/privacy",
        deletion_callback_url="https://quiz.example.com/deleted", confidential=True)
    sample = rng.sample([m for m in member_ids if m != scraper], min(people, len(member_ids) - 1))
    half = len(sample) // 2
    app_users, swept = sample[:half], sample[half:]
    with platform.uow() as session:
        scoped = {}
        for pid in app_users:
            scoped[pid] = new_id()
            session.add(AppAuthorizationRow(app_id=app.client_id, person_id=pid,
                                            scoped_id=scoped[pid],
                                            grants=["name:personalisation",
                                                    "friends:personalisation"],
                                            created_at=now, last_used_at=now))
        platform.canaries.watch_in(session, "app", app.client_id, "demo: harvesting app", now)
        app_canaries = platform.canaries.for_app(session, "app", app.client_id, None)
    rows: list[DumpPerson] = []
    for pid in swept:  # discovery shows person ids
        r = _person_row(platform, pid, pid)
        if r:
            rows.append(r)
    for pid in app_users:
        r = _person_row(platform, pid, scoped[pid])
        if r:
            rows.append(r)
    rows += [_canary_row(c) for c in scraper_canaries] + [_canary_row(c) for c in app_canaries]
    rng.shuffle(rows)
    stats = write_dump(path, rows, fmt=fmt, gzip=gzip, mess=mess, seed=seed)
    return DemoDump(stats, scraper, app.client_id, len(rows) - len(scraper_canaries)
                    - len(app_canaries),
                    {f"discovery:{scraper}": len(scraper_canaries),
                     f"app:{app.client_id}": len(app_canaries)})
