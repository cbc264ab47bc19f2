"""Canary records: synthetic people minted for exactly one recipient and shown only to it.

Who gets canaries: recipients under watch — a discovery account the detectors flagged
(sweeping number ranges, asking for unallocated numbers, validating a leaked list: honest
people never are), and an app or partner the operator or the audits put on watch. Where:
 - a watched discovery account asking for numbers nobody here holds gets, for a few of them,
   a match: a synthetic person with that number (a real, valid number in the unregistered
   part of the range it swept), a name, a workplace, a birthday and a random id;
 - a watched partner finds a canary among the people who opted in to it; a watched app finds
   one among the friends of the people it acts for.
The canary's id (what the recipient was shown) and its email are random and unguessable, so
either in a dump names the recipient; its phone number alone does not (whoever sweeps the
range generates it too), and `domain.leaks.attribution` weighs it so."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import CanaryRow, CanaryWatchRow
from palisade.demo.population import FIRST, LAST, synthetic_area_codes
from palisade.domain.errors import InvalidInput
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.services.clock import Clock
from palisade.services.people import new_id

MAX_PER_DISCOVERY_ACCOUNT = 50
PER_SYNC = 2
PER_APP = 3  # several markers per app: an attribution never rests on one
TOWNS = ("Ashford", "Brookfield", "Carrow", "Dunmore", "Eastleigh", "Fairhaven", "Glenrock",
         "Harwood", "Ivybridge", "Kingsbury", "Larchmont", "Millbrook", "Northam", "Oakdale")
EMPLOYERS = ("Harbor Freight Lines", "Kessler Logistics", "Brightwater Dental", "Northgate Mills",
             "Alder & Finch", "Cobalt Print Works", "Meridian Home Care", "Stonebridge Bakery")
RECIPIENT_KINDS = ("discovery", "app", "partner")


@dataclass(frozen=True)
class Canary:
    id: str
    scoped_id: str
    phone: str
    email: str
    profile: dict[str, str]


def _profile(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    born = date(rng.randint(1960, 2003), rng.randint(1, 12), rng.randint(1, 28))
    return {"name": f"{first} {last}", "first_name": first, "last_name": last,
            "location": rng.choice(TOWNS), "workplace": rng.choice(EMPLOYERS),
            "birthday": born.isoformat(), "gender": rng.choice(("female", "male"))}


def _email(profile: dict[str, str], domain: str) -> str:
    # readable like a real address, with 48 random bits nobody can guess
    return (f"{profile['first_name'].lower()}.{profile['last_name'].lower()}."
            f"{secrets.token_hex(6)}@{domain}")


def _row(c: CanaryRow) -> Canary:
    return Canary(c.id, c.scoped_id, c.phone, c.email, dict(c.profile))


class Canaries:
    def __init__(self, uow: UnitOfWork, clock: Clock, email_domain: str,
                 blind_index: BlindIndex) -> None:
        self.uow = uow
        self.clock = clock
        self.email_domain = email_domain
        self.bidx = blind_index
        self._area_codes: list[int] = []

    # -- the watch list
    def watch(self, kind: str, recipient_id: str, reason: str) -> None:
        if kind not in RECIPIENT_KINDS:
            raise InvalidInput(f"A recipient is one of {', '.join(RECIPIENT_KINDS)}.")
        with self.uow() as session:
            self.watch_in(session, kind, recipient_id, reason, self.clock())

    @staticmethod
    def watch_in(session: Session, kind: str, recipient_id: str, reason: str,
                 now: datetime) -> None:
        if session.get(CanaryWatchRow, (kind, recipient_id)) is None:
            session.add(CanaryWatchRow(recipient_kind=kind, recipient_id=recipient_id,
                                       reason=reason[:200], created_at=now))

    @staticmethod
    def watched(session: Session, kind: str, recipient_id: str) -> bool:
        return session.get(CanaryWatchRow, (kind, recipient_id)) is not None

    # -- minting and serving
    def mint(self, session: Session, kind: str, recipient_id: str, phone: str,
             rng: random.Random | None = None) -> Canary:
        """A new canary for one recipient, with `phone` (a number nobody here holds)."""
        rng = rng or random.Random(secrets.randbits(64))
        profile = _profile(rng)
        row = CanaryRow(id=new_id(), recipient_kind=kind, recipient_id=recipient_id,
                        phone=phone, email=_email(profile, self.email_domain),
                        profile=profile, scoped_id=new_id(), created_at=self.clock())
        session.add(row)
        session.flush()
        return _row(row)

    def of(self, session: Session, kind: str, recipient_id: str) -> list[Canary]:
        return [_row(c) for c in session.scalars(select(CanaryRow).where(
            CanaryRow.recipient_kind == kind, CanaryRow.recipient_id == recipient_id)
            .order_by(CanaryRow.created_at, CanaryRow.id))]

    def for_discovery(self, session: Session, account: str, unheld: list[str],
                      unheld_new: list[str]) -> list[Canary]:
        """What a watched discovery account is shown for the numbers it sent that nobody
        here holds (`unheld`; `unheld_new`: those it never sent before): its canaries with
        those numbers, and a few new ones among the new numbers."""
        if not unheld:
            return []
        existing = {c.phone: c for c in self.of(session, "discovery", account)}
        shown = [existing[p] for p in unheld if p in existing]
        room = min(PER_SYNC, MAX_PER_DISCOVERY_ACCOUNT - len(existing))
        if room <= 0 or not unheld_new:
            return shown
        taken = set(session.scalars(select(CanaryRow.phone).where(
            CanaryRow.phone.in_(unheld_new[:1000]))))
        rng = random.Random(secrets.randbits(64))
        for phone in rng.sample(unheld_new, min(len(unheld_new), 50)):
            if room <= 0:
                break
            if phone in taken:
                continue
            shown.append(self.mint(session, "discovery", account, phone, rng))
            taken.add(phone)
            room -= 1
        return shown

    def for_app(self, session: Session, kind: str, app_id: str, acting_for: str | None
                ) -> list[Canary]:
        """A watched app's canaries (minted on first use): one of them, chosen by the person
        the app acts for, in that person's friends; a partner gets all of them."""
        existing = self.of(session, kind, app_id)
        while len(existing) < PER_APP:
            existing.append(self.mint(session, kind, app_id, self.unheld_phone(session)))
        if acting_for is None:
            return existing
        return [existing[int.from_bytes(acting_for.encode()[-4:], "big") % len(existing)]]

    def unheld_phone(self, session: Session) -> str:
        """A valid number that nobody here holds and no canary has."""
        if not self._area_codes:
            self._area_codes = synthetic_area_codes()
        rng = random.Random(secrets.randbits(64))
        repo = Repository(session)
        for _ in range(100):
            phone = f"+1{rng.choice(self._area_codes)}555{rng.randint(0, 9999):04d}"
            held = repo.identifier_by_bidx(self.bidx.of(Identifier(IdentifierKind.PHONE,
                                                                   phone)))
            if held is None and session.scalar(select(CanaryRow.id).where(
                    CanaryRow.phone == phone)) is None:
                return phone
        raise RuntimeError("no free number for a canary")
