"""Partners: operator-made agreements, and each person's opt-in per partner."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import AppAuthorizationRow, PartnerAgreementRow
from palisade.domain.apps.grants import Grant, parse_grant
from palisade.domain.apps.partners import LegalBasis, agreement_scopes, check_period
from palisade.domain.errors import InvalidInput, NotFound
from palisade.services.apps.callbacks import queue as queue_callbacks
from palisade.services.apps.registry import AppRegistry, RegisteredApp
from palisade.domain.notifications import NotificationKind
from palisade.services.apps.oauth_server import describe_access
from palisade.services.clock import Clock
from palisade.services.notifications import notify

PARTNER_NOT_FOUND = "No such partner."


@dataclass(frozen=True)
class PartnerOffer:
    """What a person sees about one partner: its agreements now in force, and their opt-in."""

    partner_id: str
    name: str
    privacy_policy_url: str
    may_ask_for: list[Grant]
    legal_bases: list[str]
    ends_at: datetime
    opted_in: list[Grant]


class Partners:
    def __init__(self, uow: UnitOfWork, registry: AppRegistry, clock: Clock) -> None:
        self.uow = uow
        self.registry = registry
        self.clock = clock

    def create(self, name: str, privacy_policy_url: str,
               deletion_callback_url: str) -> RegisteredApp:
        """A partner client: client credentials (its secret is shown once) and DPoP."""
        return self.registry.register(
            name=name, redirect_uris=[], requested={}, privacy_policy_url=privacy_policy_url,
            deletion_callback_url=deletion_callback_url, kind="partner")

    def agree(self, partner_id: str, scopes: list[str], legal_basis: str, starts_at: datetime,
              ends_at: datetime, note: str = "") -> str:
        grants = agreement_scopes(scopes)
        try:
            basis = LegalBasis(legal_basis)
        except ValueError:
            raise InvalidInput("legal_basis is one of: "
                               + ", ".join(b.value for b in LegalBasis)) from None
        check_period(starts_at, ends_at)
        agreement_id = secrets.token_urlsafe(16)
        with self.uow() as session:
            repo = AppsRepository(session)
            partner = repo.app(partner_id)
            if partner is None or partner.kind != "partner":
                raise NotFound(PARTNER_NOT_FOUND)
            repo.add_agreement(PartnerAgreementRow(
                id=agreement_id, partner_id=partner_id,
                scopes=sorted(g.scope_token for g in grants), legal_basis=basis.value,
                starts_at=starts_at, ends_at=ends_at, created_at=self.clock(),
                terminated_at=None, wound_up_at=None, note=note[:500]))
        return agreement_id

    def agreements(self, partner_id: str) -> list[PartnerAgreementRow]:
        with self.uow() as session:
            return AppsRepository(session).agreements(partner_id)

    def terminate(self, agreement_id: str) -> None:
        """End an agreement now: the partner's tokens stop working on their next use unless
        another agreement is in force, and it can be given nothing beyond what remains."""
        with self.uow() as session:
            row = AppsRepository(session).agreement(agreement_id)
            if row is None:
                raise NotFound("No such agreement.")
            row.terminated_at = row.terminated_at or self.clock()
        self.wind_up()

    def wind_up(self) -> int:
        """For every partner whose last agreement has ended (terminated or past its end):
        queue a deletion callback for each person who opted in, and end those opt-ins, so the
        partner is told to delete what it received and a future agreement starts from
        nobody. Runs after a termination and in the background loop. Returns the callbacks
        queued."""
        now = self.clock()
        queued = 0
        with self.uow() as session:
            repo = AppsRepository(session)
            ended = repo.agreements_to_wind_up(now)
            for partner_id in {a.partner_id for a in ended}:
                if repo.active_agreements(now, partner_id):
                    continue  # another agreement is still in force
                for person_id in repo.people_authorizing(partner_id):
                    queued += queue_callbacks(repo, person_id, "agreement_ended", now,
                                              app_id=partner_id)
                    repo.delete_authorization(partner_id, person_id)
                for a in ended:
                    if a.partner_id == partner_id:
                        a.wound_up_at = now
        return queued

    def offers(self, person_id: str) -> list[PartnerOffer]:
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            by_partner: dict[str, list[PartnerAgreementRow]] = {}
            for a in repo.active_agreements(now):
                by_partner.setdefault(a.partner_id, []).append(a)
            offers = []
            for partner_id, agreements in by_partner.items():
                partner = repo.app(partner_id)
                if partner is None or partner.suspended_at is not None:
                    continue
                auth = repo.authorization(partner_id, person_id)
                offers.append(PartnerOffer(
                    partner_id, partner.name, partner.privacy_policy_url,
                    sorted({parse_grant(t) for a in agreements for t in a.scopes}),
                    sorted({a.legal_basis for a in agreements}),
                    max(a.ends_at for a in agreements),
                    sorted(parse_grant(g) for g in auth.grants) if auth else []))
            return sorted(offers, key=lambda o: o.name)

    def opt_in(self, person_id: str, partner_id: str, grants: list[str]) -> list[Grant]:
        """The person's choice for one partner, replacing any earlier one. Only pairs an
        agreement in force allows can be chosen."""
        chosen = {parse_grant(g) for g in grants}
        if not chosen:
            raise InvalidInput("Choose at least one field:purpose, or opt out instead.")
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            partner = repo.app(partner_id)
            active = repo.active_agreements(now, partner_id)
            if partner is None or partner.kind != "partner" or partner.suspended_at or not active:
                raise NotFound(PARTNER_NOT_FOUND)
            allowed = {parse_grant(t) for a in active for t in a.scopes}
            if not chosen <= allowed:
                raise InvalidInput("This partner's agreements do not cover: " + ", ".join(
                    sorted(g.scope_token for g in chosen - allowed)) + ".")
            auth = repo.authorization(partner_id, person_id)
            had = {parse_grant(g) for g in auth.grants} if auth else set()
            if chosen - had:
                notify(session, person_id, NotificationKind.NEW_APP_ACCESS,
                       describe_access(partner.name, chosen - had), now)
            tokens = sorted(g.scope_token for g in chosen)
            if auth is None:
                repo.add_authorization(AppAuthorizationRow(
                    app_id=partner_id, person_id=person_id,
                    scoped_id=secrets.token_urlsafe(16), grants=tokens, created_at=now,
                    last_used_at=now))
            else:
                auth.grants = tokens
                auth.last_used_at = now
        return sorted(chosen)
