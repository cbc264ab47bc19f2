"""Notifications: the in-app feed, email (immediately or as a daily digest, per kind) and each
person's preferences. Other use cases call `notify` inside their own transaction, so a
notification exists exactly when what it reports happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from palisade.adapters.delivery.codes import CodeDelivery, DeliveryFailed
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import NotificationRow, NotificationSettingsRow
from palisade.domain.errors import InvalidInput
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.domain.notifications import (
    EmailPreference,
    NotificationKind,
    due_for_email,
    preferences_with_defaults,
)
from palisade.logging import get_logger
from palisade.services.clock import Clock
from palisade.services.people import PersonKeys

log = get_logger("palisade.notifications")

SUBJECTS = {
    NotificationKind.NEW_APP_ACCESS: "An app can now use your data",
    NotificationKind.APP_NEW_FIELD: "An app used a new kind of your data",
    NotificationKind.NEW_SIGN_IN: "New sign-in to your account",
    NotificationKind.STRANGER_LOOKUPS: "Many people looked you up",
    NotificationKind.LEAK_FOUND: "Your data was found in a leak",
}


def notify(session: Session, person_id: str, kind: NotificationKind, detail: str,
           now: datetime) -> None:
    """Add a notification in the caller's transaction."""
    session.add(NotificationRow(person_id=person_id, kind=kind.value, detail=detail[:500],
                                created_at=now, read_at=None, emailed_at=None))


@dataclass(frozen=True)
class EmailReport:
    emails: int
    notifications: int


class Notifications:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, email: CodeDelivery,
                 clock: Clock) -> None:
        self.uow = uow
        self.keys = keys
        self.email = email
        self.clock = clock

    def feed(self, person_id: str, limit: int = 50) -> tuple[list[NotificationRow], int]:
        """The newest notifications, and how many are unread."""
        with self.uow() as session:
            rows = list(session.scalars(select(NotificationRow).where(
                NotificationRow.person_id == person_id)
                .order_by(NotificationRow.id.desc()).limit(limit)))
            unread = session.scalar(select(func.count()).select_from(NotificationRow).where(
                NotificationRow.person_id == person_id, NotificationRow.read_at.is_(None))) or 0
            return rows, unread

    def mark_read(self, person_id: str, up_to_id: int | None = None) -> int:
        now = self.clock()
        with self.uow() as session:
            stmt = update(NotificationRow).where(NotificationRow.person_id == person_id,
                                                 NotificationRow.read_at.is_(None))
            if up_to_id is not None:
                stmt = stmt.where(NotificationRow.id <= up_to_id)
            return session.execute(stmt.values(read_at=now)).rowcount

    def preferences(self, person_id: str) -> dict[NotificationKind, EmailPreference]:
        with self.uow() as session:
            row = session.get(NotificationSettingsRow, person_id)
            return preferences_with_defaults(row.email if row else None)

    def set_preferences(self, person_id: str, changes: dict[str, str]
                        ) -> dict[NotificationKind, EmailPreference]:
        clean: dict[str, str] = {}
        for kind, value in changes.items():
            try:
                clean[NotificationKind(kind).value] = EmailPreference(value).value
            except ValueError:
                raise InvalidInput(
                    f"Unknown kind or preference: {kind!r} -> {value!r}. Kinds: "
                    + ", ".join(k.value for k in NotificationKind) + "; preferences: "
                    + ", ".join(p.value for p in EmailPreference) + ".") from None
        with self.uow() as session:
            row = session.get(NotificationSettingsRow, person_id)
            if row is None:
                session.add(NotificationSettingsRow(person_id=person_id, email=clean,
                                                    last_digest_at=None))
                merged = clean
            else:
                merged = {**(row.email or {}), **clean}
                row.email = merged
        return preferences_with_defaults(merged)

    def send_due(self, limit: int = 500) -> EmailReport:
        """Email what is due: one message per person per run, gathering every due item
        (immediate kinds now, daily kinds once a day). Items nobody wants by email, or for
        people without an email address, are marked as considered and stay in the feed."""
        now = self.clock()
        emails = sent = 0
        with self.uow() as session:
            pending = list(session.scalars(select(NotificationRow).where(
                NotificationRow.emailed_at.is_(None)).order_by(NotificationRow.id).limit(limit)))
            by_person: dict[str, list[NotificationRow]] = {}
            for n in pending:
                by_person.setdefault(n.person_id, []).append(n)
            repo = Repository(session)
            for person_id, items in by_person.items():
                settings = session.get(NotificationSettingsRow, person_id)
                prefs = preferences_with_defaults(settings.email if settings else None)
                last = settings.last_digest_at if settings else None
                due = [n for n in items if due_for_email(NotificationKind(n.kind), prefs, last,
                                                         n.created_at, now)]
                for n in items:
                    if prefs[NotificationKind(n.kind)] is EmailPreference.OFF:
                        n.emailed_at = now  # considered: the person does not want email
                if not due:
                    continue
                address = self._email_of(repo, person_id)
                if address is not None:
                    try:
                        self.email.send(repo, Identifier(IdentifierKind.EMAIL, address),
                                        self._text(due), now)
                    except DeliveryFailed as exc:
                        log.warning("notification_email_failed", error=str(exc))
                        continue  # retried on the next run
                    emails += 1
                    sent += len(due)
                for n in due:
                    n.emailed_at = now
                if any(prefs[NotificationKind(n.kind)] is EmailPreference.DAILY for n in due):
                    if settings is None:
                        session.add(NotificationSettingsRow(person_id=person_id, email={},
                                                            last_digest_at=now))
                    else:
                        settings.last_digest_at = now
        return EmailReport(emails, sent)

    def _email_of(self, repo: Repository, person_id: str) -> str | None:
        rows = [r for r in repo.identifiers_of(person_id) if r.kind == IdentifierKind.EMAIL.value]
        if not rows:
            return None
        return self.keys.open_identifier(self.keys.data_key(repo, person_id), rows[0])

    @staticmethod
    def _text(items: list[NotificationRow]) -> str:
        first = NotificationKind(items[0].kind)
        subject = (SUBJECTS[first] if len(items) == 1
                   else f"Palisade: {len(items)} things happened with your data")
        lines = [subject, ""]
        for n in items:
            lines.append(f"- {n.detail} ({n.created_at.strftime('%Y-%m-%d %H:%M')} UTC)")
        lines += ["", "You can see everything, and choose what is emailed, in your Privacy "
                      "Center."]
        return "\n".join(lines)
