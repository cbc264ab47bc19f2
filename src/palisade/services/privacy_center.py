"""What the Privacy Center pages show, assembled from the services: the person's apps and
partners (active, expired, removed) with their last access, the access history with filters,
and the check of its proofs. The pages themselves only render this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import tallies_of
from palisade.adapters.storage.tables import AccessEventRow, AppRow
from palisade.domain.apps.grants import FIELD_LABELS, PURPOSE_LABELS, AppField, Grant, Purpose
from palisade.domain.transparency.verify import Report, verify_export
from palisade.services.apps.registry import AppRegistry
from palisade.services.clock import Clock
from palisade.services.transparency.log import TransparencyLog

KIND_LABELS = {
    "app_access": "App or partner access",
    "operator_access": "Operator access",
    "export": "Your export",
    "app_removed": "You removed an app",
    "discovery_finds": "Found through contact discovery",
    "friend_views": "Friends viewed your profile",
}


@dataclass(frozen=True)
class GrantLine:
    field: str
    field_label: str
    purpose: str
    purpose_label: str


def grant_lines(grants: list[Grant]) -> list[GrantLine]:
    return [GrantLine(g.field.value, FIELD_LABELS[g.field], g.purpose.value,
                      PURPOSE_LABELS[g.purpose]) for g in grants]


@dataclass(frozen=True)
class AppLine:
    app_id: str
    name: str
    kind: str  # "app" | "partner"
    grants: list[GrantLine]
    authorized_at: datetime | None
    last_access_at: datetime | None
    access_until: datetime | None
    removed_at: datetime | None = None


@dataclass
class AppsOverview:
    active: list[AppLine] = field(default_factory=list)
    expired: list[AppLine] = field(default_factory=list)  # renewable
    removed: list[AppLine] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryLine:
    index: int
    kind: str
    kind_label: str
    at: str
    who: str  # an app's or partner's name, "operator", or a count's source
    fields: list[str]
    purpose: str
    outcome: str
    count: int | None
    strangers: int | None
    reference: str


@dataclass(frozen=True)
class HistoryFilter:
    actor: str | None = None  # an app or partner id
    field: str | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None

    def keeps(self, entry: dict) -> bool:
        day = entry.get("x_at", "")[:10]
        return ((self.actor is None or entry.get("x_actor") == self.actor)
                and (self.field is None or self.field in entry.get("x_fields", []))
                and (self.kind is None or entry.get("kind") == self.kind)
                and (self.since is None or day >= self.since.isoformat())
                and (self.until is None or day <= self.until.isoformat()))


@dataclass(frozen=True)
class History:
    lines: list[HistoryLine]
    head_size: int
    total: int
    actors: dict[str, str]  # id -> name, for the filter
    today: list[dict]  # today's counts, logged when the day closes


class PrivacyCenter:
    def __init__(self, uow: UnitOfWork, apps: AppRegistry, log: TransparencyLog,
                 clock: Clock) -> None:
        self.uow = uow
        self.apps = apps
        self.log = log
        self.clock = clock

    def apps_overview(self, person_id: str) -> AppsOverview:
        now = self.clock()
        out = AppsOverview()
        authorized = self.apps.authorized_apps(person_id)
        with self.uow() as session:
            e = AccessEventRow
            last = dict(session.execute(
                select(e.actor_id, func.max(e.at)).where(
                    e.person_id == person_id, e.kind == "app_access", e.outcome == "released")
                .group_by(e.actor_id)).all())
            removed = session.execute(
                select(e.actor_id, e.fields, e.at, AppRow.name, AppRow.kind)
                .join(AppRow, AppRow.id == e.actor_id)
                .where(e.person_id == person_id, e.kind == "app_removed")
                .order_by(e.at.desc())).all()
        for a in authorized:
            line = AppLine(a.app_id, a.name, a.kind, grant_lines(a.grants), a.authorized_at,
                           last.get(a.app_id), a.non_public_access_until)
            (out.active if a.non_public_access_until > now else out.expired).append(line)
        current = {a.app_id for a in authorized}
        seen: set[str] = set()
        for r in removed:
            if r.actor_id in current or r.actor_id in seen:
                continue  # allowed again since, or removed twice: list it once
            seen.add(r.actor_id)
            out.removed.append(AppLine(
                r.actor_id, r.name, r.kind,
                [GrantLine(f, FIELD_LABELS[AppField(f)], "", "") for f in r.fields],
                None, last.get(r.actor_id), None, removed_at=r.at))
        return out

    def history(self, person_id: str, keep: HistoryFilter) -> History:
        head, entries = self.log.entries_of(person_id)
        with self.uow() as session:
            ids = sorted({e.entry.get("x_actor", "") for e in entries
                          if e.entry.get("x_actor_kind") in ("app", "partner")})
            names = dict(session.execute(select(AppRow.id, AppRow.name).where(
                AppRow.id.in_(ids))).all()) if ids else {}
            today = [{"day": t.day.isoformat(), "kind": t.kind,
                      "label": KIND_LABELS.get(t.kind, t.kind), "count": t.count,
                      "strangers": t.strangers} for t in tallies_of(session, person_id)]
        actors: dict[str, str] = {}
        lines = []
        for e in reversed(entries):  # newest first
            x = e.entry
            actor = x.get("x_actor", "")
            if x.get("x_actor_kind") in ("app", "partner"):
                actors[actor] = names.get(actor, actor)
            if not keep.keeps(x):
                continue
            who = (names.get(actor, actor) if x.get("x_actor_kind") in ("app", "partner")
                   else "you" if x.get("kind") == "export" else actor)
            lines.append(HistoryLine(
                e.index, x["kind"], KIND_LABELS.get(x["kind"], x["kind"]),
                x.get("x_at", "")[:19].replace("T", " "), who, x.get("x_fields", []),
                _purpose_label(x.get("x_purpose", "")), x.get("x_outcome", ""),
                x.get("x_count"), x.get("x_strangers"), x.get("x_reference", "")))
        return History(lines, head.size, len(entries), actors, today)

    def verify(self, person_id: str) -> Report:
        """Check the person's entries exactly as `palisade verify` checks an export, against
        the log's own public key (not the one the document carries)."""
        return verify_export(self.log.document(person_id), self.log.signer.public_key)


def _purpose_label(purpose: str) -> str:
    try:
        return PURPOSE_LABELS[Purpose(purpose)]
    except ValueError:
        return purpose.replace("_", " ")
