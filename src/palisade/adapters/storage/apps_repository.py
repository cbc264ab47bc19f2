"""Storage for apps, people's authorizations of them, OAuth codes and tokens, revocations and
access events. Tokens and codes are looked up by their SHA-256 only."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, String, and_, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from palisade.adapters.storage.tables import (
    AccessEventRow,
    AppAuthorizationRow,
    AppFieldUseRow,
    AppRow,
    Friendship,
    OAuthCodeRow,
    OAuthTokenRow,
    PartnerAgreementRow,
    Person,
    TokenRevocationRow,
)

_ALL = aliased(TokenRevocationRow, name="rev_all")
_BY_APP = aliased(TokenRevocationRow, name="rev_app")
_BY_PERSON = aliased(TokenRevocationRow, name="rev_person")

# One statement answers everything a resource request needs about its token: the token, its
# app, the person's authorization, and the three revocation horizons (everyone, this app, this
# person). Prebuilt once; revoking at any of the three levels is one row write.
_TOKEN_CONTEXT = (
    select(OAuthTokenRow, AppRow.suspended_at, AppRow.kind, AppRow.last_activity_at,
           AppAuthorizationRow.grants, AppAuthorizationRow.scoped_id,
           AppAuthorizationRow.last_used_at,
           _ALL.revoked_before.label("rev_all"),
           _BY_APP.revoked_before.label("rev_app"),
           _BY_PERSON.revoked_before.label("rev_person"))
    .join(AppRow, AppRow.id == OAuthTokenRow.app_id)
    .outerjoin(AppAuthorizationRow, and_(AppAuthorizationRow.app_id == OAuthTokenRow.app_id,
                                         AppAuthorizationRow.person_id == OAuthTokenRow.person_id))
    .outerjoin(_ALL, and_(_ALL.scope == "all", _ALL.subject == "*"))
    .outerjoin(_BY_APP, and_(_BY_APP.scope == "app", _BY_APP.subject == OAuthTokenRow.app_id))
    .outerjoin(_BY_PERSON, and_(_BY_PERSON.scope == "person",
                                _BY_PERSON.subject == OAuthTokenRow.person_id))
)


class AppsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # apps
    def add_app(self, row: AppRow) -> None:
        self.session.add(row)

    def app(self, app_id: str) -> AppRow | None:
        return self.session.get(AppRow, app_id)

    def apps(self, owner_id: str | None = None, kind: str | None = None) -> list[AppRow]:
        stmt = select(AppRow).order_by(AppRow.created_at, AppRow.id)
        if owner_id is not None:
            stmt = stmt.where(AppRow.owner_id == owner_id)
        if kind is not None:
            stmt = stmt.where(AppRow.kind == kind)
        return list(self.session.scalars(stmt))

    def touch_app(self, app_id: str, now: datetime) -> None:
        self.session.execute(update(AppRow).where(AppRow.id == app_id)
                             .values(last_activity_at=now))

    # authorizations
    def authorization(self, app_id: str, person_id: str) -> AppAuthorizationRow | None:
        return self.session.get(AppAuthorizationRow, (app_id, person_id))

    def authorization_by_scoped_id(self, app_id: str, scoped_id: str
                                   ) -> AppAuthorizationRow | None:
        return self.session.scalars(select(AppAuthorizationRow).where(
            AppAuthorizationRow.app_id == app_id,
            AppAuthorizationRow.scoped_id == scoped_id)).first()

    def authorizations_of_person(self, person_id: str) -> list[tuple[AppAuthorizationRow, AppRow]]:
        rows = self.session.execute(
            select(AppAuthorizationRow, AppRow).join(AppRow, AppRow.id == AppAuthorizationRow.app_id)
            .where(AppAuthorizationRow.person_id == person_id)
            .order_by(AppAuthorizationRow.created_at))
        return [(a, b) for a, b in rows]

    def people_authorizing(self, app_id: str) -> list[str]:
        return list(self.session.scalars(select(AppAuthorizationRow.person_id).where(
            AppAuthorizationRow.app_id == app_id)))

    def add_authorization(self, row: AppAuthorizationRow) -> None:
        self.session.add(row)

    def delete_authorization(self, app_id: str, person_id: str) -> bool:
        result = self.session.execute(delete(AppAuthorizationRow).where(
            AppAuthorizationRow.app_id == app_id, AppAuthorizationRow.person_id == person_id))
        return bool(result.rowcount)

    def touch_authorization(self, app_id: str, person_id: str, now: datetime) -> None:
        self.session.execute(update(AppAuthorizationRow).where(
            AppAuthorizationRow.app_id == app_id, AppAuthorizationRow.person_id == person_id)
            .values(last_used_at=now))

    def consenting_friends(self, app_id: str, person_id: str, after: str | None, limit: int
                           ) -> Sequence[Row]:
        """Friends of `person_id` who authorized `app_id`, by scoped id, with their grants. A
        friend who has not authorized the app is never read here at all."""
        stmt = (select(AppAuthorizationRow.person_id, AppAuthorizationRow.scoped_id,
                       AppAuthorizationRow.grants, AppAuthorizationRow.last_used_at)
                .join(Friendship, and_(Friendship.person_id == person_id,
                                       Friendship.friend_id == AppAuthorizationRow.person_id))
                .where(AppAuthorizationRow.app_id == app_id)
                .order_by(AppAuthorizationRow.scoped_id).limit(limit))
        if after is not None:
            stmt = stmt.where(AppAuthorizationRow.scoped_id > after)
        return self.session.execute(stmt).all()

    def authorizations_of_app(self, app_id: str, after: str | None, limit: int
                              ) -> Sequence[AppAuthorizationRow]:
        stmt = (select(AppAuthorizationRow).where(AppAuthorizationRow.app_id == app_id)
                .order_by(AppAuthorizationRow.scoped_id).limit(limit))
        if after is not None:
            stmt = stmt.where(AppAuthorizationRow.scoped_id > after)
        return list(self.session.scalars(stmt))

    # partner agreements
    def add_agreement(self, row: PartnerAgreementRow) -> None:
        self.session.add(row)

    def agreement(self, agreement_id: str) -> PartnerAgreementRow | None:
        return self.session.get(PartnerAgreementRow, agreement_id)

    def agreements(self, partner_id: str | None = None) -> list[PartnerAgreementRow]:
        stmt = select(PartnerAgreementRow).order_by(PartnerAgreementRow.starts_at)
        if partner_id is not None:
            stmt = stmt.where(PartnerAgreementRow.partner_id == partner_id)
        return list(self.session.scalars(stmt))

    def agreements_to_wind_up(self, now: datetime) -> list[PartnerAgreementRow]:
        """Ended (terminated or past their end) and not yet wound up."""
        return list(self.session.scalars(select(PartnerAgreementRow).where(
            PartnerAgreementRow.wound_up_at.is_(None),
            or_(PartnerAgreementRow.terminated_at.is_not(None),
                PartnerAgreementRow.ends_at <= now))))

    def active_agreements(self, now: datetime, partner_id: str | None = None
                          ) -> list[PartnerAgreementRow]:
        stmt = select(PartnerAgreementRow).where(
            PartnerAgreementRow.starts_at <= now, PartnerAgreementRow.ends_at > now,
            PartnerAgreementRow.terminated_at.is_(None))
        if partner_id is not None:
            stmt = stmt.where(PartnerAgreementRow.partner_id == partner_id)
        return list(self.session.scalars(stmt))

    # codes
    def add_code(self, row: OAuthCodeRow) -> None:
        self.session.add(row)

    def code(self, code_hash: bytes) -> OAuthCodeRow | None:
        return self.session.get(OAuthCodeRow, code_hash)

    # tokens
    def add_token(self, row: OAuthTokenRow) -> None:
        self.session.add(row)

    def token_by_access(self, access_hash: bytes) -> OAuthTokenRow | None:
        return self.session.scalars(select(OAuthTokenRow).where(
            OAuthTokenRow.access_hash == access_hash)).first()

    def token_by_refresh(self, refresh_hash: bytes) -> OAuthTokenRow | None:
        return self.session.scalars(select(OAuthTokenRow).where(
            OAuthTokenRow.refresh_hash == refresh_hash)).first()

    def token_context(self, access_hash: bytes) -> Row | None:
        return self.session.execute(
            _TOKEN_CONTEXT.where(OAuthTokenRow.access_hash == access_hash)).first()

    def revocation_horizons(self, app_id: str, person_id: str | None) -> list[datetime]:
        """The revocation moments that apply to tokens of this app and person."""
        wanted = [and_(TokenRevocationRow.scope == "all", TokenRevocationRow.subject == "*"),
                  and_(TokenRevocationRow.scope == "app", TokenRevocationRow.subject == app_id)]
        if person_id is not None:
            wanted.append(and_(TokenRevocationRow.scope == "person",
                               TokenRevocationRow.subject == person_id))
        return list(self.session.scalars(
            select(TokenRevocationRow.revoked_before).where(or_(*wanted))))

    def revoke_family(self, family_id: str, now: datetime) -> int:
        result = self.session.execute(update(OAuthTokenRow).where(
            OAuthTokenRow.family_id == family_id, OAuthTokenRow.revoked_at.is_(None))
            .values(revoked_at=now))
        return result.rowcount

    def revoke_tokens_of(self, app_id: str, person_id: str, now: datetime) -> int:
        result = self.session.execute(update(OAuthTokenRow).where(
            OAuthTokenRow.app_id == app_id, OAuthTokenRow.person_id == person_id,
            OAuthTokenRow.revoked_at.is_(None)).values(revoked_at=now))
        return result.rowcount

    def set_revocation(self, scope: str, subject: str, before: datetime) -> None:
        row = self.session.get(TokenRevocationRow, (scope, subject))
        if row is None:
            self.session.add(TokenRevocationRow(scope=scope, subject=subject,
                                                revoked_before=before))
        elif row.revoked_before < before:
            row.revoked_before = before

    def purge_expired(self, now: datetime) -> int:
        """Delete codes and tokens that can no longer be used by anyone."""
        n = self.session.execute(delete(OAuthCodeRow).where(OAuthCodeRow.expires_at < now)
                                 ).rowcount
        n += self.session.execute(delete(OAuthTokenRow).where(
            OAuthTokenRow.expires_at < now,
            (OAuthTokenRow.refresh_expires_at.is_(None))
            | (OAuthTokenRow.refresh_expires_at < now))).rowcount
        return n

    # first uses of fields
    def fields_used(self, app_id: str, person_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(person, field) pairs this app has received before."""
        if not person_ids:
            return set()
        rows = self.session.execute(select(AppFieldUseRow.person_id, AppFieldUseRow.field)
                                    .where(AppFieldUseRow.app_id == app_id,
                                           AppFieldUseRow.person_id.in_(list(person_ids))))
        return {(r.person_id, r.field) for r in rows}

    def add_field_uses(self, app_id: str, pairs: Iterable[tuple[str, str]],
                       now: datetime) -> None:
        self.session.add_all([AppFieldUseRow(app_id=app_id, person_id=p, field=f,
                                             first_used_at=now) for p, f in pairs])

    # audits
    def usage_counts(self, app_id: str, since: datetime, last_day: datetime
                     ) -> tuple[int, int, int, int]:
        """(people consenting now, distinct people received since, refused calls since,
        releases in the last day)."""
        ev = AccessEventRow
        consenting = self.session.scalar(select(func.count()).select_from(
            AppAuthorizationRow).where(AppAuthorizationRow.app_id == app_id)) or 0
        received = self.session.scalar(select(func.count(func.distinct(ev.person_id))).where(
            ev.actor_id == app_id, ev.outcome == "released", ev.at >= since)) or 0
        refused = self.session.scalar(select(func.count()).select_from(ev).where(
            ev.actor_id == app_id, ev.outcome == "refused", ev.at >= since)) or 0
        last = self.session.scalar(select(func.count()).select_from(ev).where(
            ev.actor_id == app_id, ev.outcome == "released", ev.at >= last_day)) or 0
        return consenting, received, refused, last

    def granted_pairs(self, app_id: str) -> set[str]:
        out: set[str] = set()
        for grants in self.session.scalars(select(AppAuthorizationRow.grants).where(
                AppAuthorizationRow.app_id == app_id)):
            out.update(grants)
        return out

    def used_pairs(self, app_id: str, since: datetime) -> set[str]:
        out: set[str] = set()
        fields = cast(AccessEventRow.fields, String)  # JSON has no equality in PostgreSQL
        rows = self.session.execute(select(fields, AccessEventRow.purpose).where(
            AccessEventRow.actor_id == app_id, AccessEventRow.outcome == "released",
            AccessEventRow.at >= since).group_by(fields, AccessEventRow.purpose))
        for text, purpose in rows:
            out.update(f"{f}:{purpose}" for f in json.loads(text))
        return out

    def person_exists(self, person_id: str) -> bool:
        return self.session.get(Person, person_id) is not None
