"""Everything held about a person, in one ZIP they can read and take elsewhere (GDPR Article
15, access, and Article 20, portability): JSON for programs, CSV for spreadsheets, who
received what and why, how long each kind of data is kept, and the access log with its
proofs, which `palisade verify` checks offline.

The export is itself recorded in the person's access log."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import tallies_of
from palisade.adapters.storage.tables import AccessEventRow, LeakExposureRow, LeakIncidentRow
from palisade.config import Settings
from palisade.domain.apps.grants import FIELD_LABELS, PURPOSE_LABELS
from palisade.services.accounts import Accounts
from palisade.services.apps.registry import AppRegistry
from palisade.services.clock import Clock
from palisade.services.discovery.sync import Discovery
from palisade.services.messaging import Messaging
from palisade.services.notifications import Notifications
from palisade.services.profiles import Profiles
from palisade.services.social import Social
from palisade.services.transparency.log import TransparencyLog

MESSAGES_PER_CONVERSATION = 10_000  # far above what disappearing conversations hold


def _csv(rows: Iterable[dict], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("; ".join(v) if isinstance(v, list) else v)
                         for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def _json(doc: object) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode("utf-8")


@dataclass(frozen=True)
class ExportFile:
    name: str  # palisade-export-<date>.zip
    data: bytes
    files: list[str]


README = """Your Palisade data export ({now})
=========================================

Files (each table is given twice: .json for programs, .csv for spreadsheets)
  profile            your profile fields and who can see each one
  identifiers        your phone numbers and email addresses, and who can find you by each
  friends            your friends, by id and the name they show you
  messages           the messages in your conversations that have not disappeared
  apps_and_partners  who receives your data: each app and partner, every field, its
                     purpose, when you allowed it, its last use, when its access expires
  access_log         every recorded access to your data (apps, partners, operators with their
                     reason, exports; discovery finds and friends' views counted per day),
                     with the proofs that the record was not rewritten
  leaks              leaked files found with your details in them, and which details
  notifications      what you were told
  sessions           where you are signed in
  retention.json     how long each kind of data is kept

Checking the access log
  access_log.json is a signed, append-only Merkle log extract (RFC 6962 / RFC 9162). Check
  every inclusion proof, the head's signature and your chain of entries with

      palisade verify access_log.json

  (or give it this ZIP file directly). The head's public key is in the file; compare it with
  the one the service publishes at {public_url}/v1/transparency/head. Keep this file: a later
  export's head can be checked against it with `GET /v1/me/access-log?earlier_size=N`, which
  proves the log only grew.

What is not here, and why
  Address books you synced are not kept: only links to people who are members, which are
  listed under friends when they are friends. Friends' views of your profile are counted, not
  itemised: who looked at a friend is the viewer's own business.
"""


class PersonalDataExport:
    def __init__(self, settings: Settings, uow: UnitOfWork, accounts: Accounts,
                 profiles: Profiles, social: Social, messaging: Messaging,
                 discovery: Discovery, apps: AppRegistry, notifications: Notifications,
                 log: TransparencyLog, clock: Clock) -> None:
        self.settings = settings
        self.uow = uow
        self.accounts = accounts
        self.profiles = profiles
        self.social = social
        self.messaging = messaging
        self.discovery = discovery
        self.apps = apps
        self.notifications = notifications
        self.log = log
        self.clock = clock

    def retention(self) -> dict[str, str]:
        s = self.settings
        return {
            "profile, identifiers, friends": "until you change them or delete your account",
            "messages": "until they disappear (the conversation's timer) or you delete your "
                        "account",
            "one-time codes": f"{s.code_ttl_seconds} seconds",
            "sessions": f"{s.session_idle_days} days without use",
            "app access to non-public fields": f"{s.app_access_expiry_days} days after you "
                                               "last used the app, unless you renew it",
            "app access tokens": f"{s.access_token_ttl_seconds} seconds; refresh tokens "
                                 f"{s.refresh_token_ttl_days} days",
            "notifications": "until you delete your account",
            "access log": "its entries are sealed under your data key and become unreadable "
                          "when you delete your account; their hashes stay so that everyone "
                          "else's proofs keep working",
            "address books": "not kept: only links to members, with a keyed tag per number "
                             "to avoid charging you twice",
        }

    def build(self, person_id: str) -> ExportFile:
        now = self.clock()
        # record the export first, so it is in the log the export carries
        with self.uow() as session:
            session.add(AccessEventRow(
                person_id=person_id, kind="export", actor_kind="person", actor_id=person_id,
                fields=["everything"], purpose="gdpr_access_and_portability",
                outcome="released", route="/privacy/export", at=now))
        self.log.sequence_all()
        files = self._files(person_id, now)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(zipfile.ZipInfo(name, now.timetuple()[:6]), data)
        return ExportFile(f"palisade-export-{now.date().isoformat()}.zip", buffer.getvalue(),
                          sorted(files))

    def _files(self, person_id: str, now: datetime) -> dict[str, bytes]:
        rendered, audiences = self.profiles.own(person_id)
        profile = [{"field": f.value, "value": rendered.fields.get(f.value),
                    "audience": a.value} for f, a in audiences.items()]
        finding = {s["identifier_id"]: s["discoverability"]
                   for s in self.discovery.settings(person_id)}
        identifiers = [{**i, "who_can_find_you_by_it": finding.get(i["id"], "")}
                       for i in self.accounts.identifiers(person_id)]
        friend_ids = self._all_friends(person_id)
        names = self.profiles.names_for_friend(person_id, friend_ids)
        friends = [{"person_id": f, "name": names.get(f, "")} for f in friend_ids]
        messages = []
        for conv in self.messaging.conversations(person_id):
            for m in self.messaging.read(person_id, conv.id,
                                         limit=MESSAGES_PER_CONVERSATION):
                messages.append({"conversation_id": conv.id, "with_person": conv.with_person,
                                 "from": "you" if m.sender_id == person_id else m.sender_id,
                                 "sent_at": m.sent_at.isoformat(), "body": m.body,
                                 "disappears_at": m.expires_at.isoformat()
                                 if m.expires_at else ""})
        recipients = [{"recipient": a.name, "kind": a.kind, "recipient_id": a.app_id,
                       "field": g.field.value, "field_means": FIELD_LABELS[g.field],
                       "purpose": g.purpose.value, "purpose_means": PURPOSE_LABELS[g.purpose],
                       "allowed_at": a.authorized_at.isoformat(),
                       "last_used_at": a.last_used_at.isoformat(),
                       "access_until": a.non_public_access_until.isoformat()}
                      for a in self.apps.authorized_apps(person_id) for g in a.grants]
        feed, _unread = self.notifications.feed(person_id, limit=10_000)
        notes = [{"kind": n.kind, "detail": n.detail, "created_at": n.created_at.isoformat(),
                  "read": n.read_at is not None} for n in feed]
        sessions = [{"method": s.method, "created_at": s.created_at.isoformat(),
                     "last_seen_at": s.last_seen_at.isoformat(),
                     "expires_at": s.expires_at.isoformat()}
                    for s in self.accounts.sessions(person_id)]
        log_doc = self.log.document(person_id)
        with self.uow() as session:
            today = [{"day": t.day.isoformat(), "kind": t.kind, "count": t.count,
                      "strangers": t.strangers} for t in tallies_of(session, person_id)]
            leaks = [{"incident": i.id, "file": i.name,
                      "first_seen_at": i.first_seen_at.isoformat(), "fields": e.fields}
                     for e, i in session.execute(
                         select(LeakExposureRow, LeakIncidentRow)
                         .join(LeakIncidentRow, LeakIncidentRow.id == LeakExposureRow.incident_id)
                         .where(LeakExposureRow.person_id == person_id)
                         .order_by(LeakIncidentRow.first_seen_at))]
        log_doc["not_yet_in_log"] = today  # today's counts, logged when the day closes
        log_rows = [{"index": e["index"], "kind": x["kind"], "at": x.get("x_at", ""),
                     "who": x.get("x_actor", ""), "fields": x.get("x_fields", []),
                     "purpose": x.get("x_purpose", ""), "outcome": x.get("x_outcome", ""),
                     "count": x.get("x_count", ""), "strangers": x.get("x_strangers", ""),
                     "reference": x.get("x_reference", "")}
                    for e in log_doc["entries"] for x in (e["entry"],)]
        return {
            "README.txt": README.format(now=now.isoformat(timespec="seconds"),
                                        public_url=self.settings.public_url.rstrip("/"))
                                .encode(),
            "profile.json": _json(profile),
            "profile.csv": _csv(profile, ["field", "value", "audience"]),
            "identifiers.json": _json(identifiers),
            "identifiers.csv": _csv(identifiers, ["kind", "value", "verified_at",
                                                  "who_can_find_you_by_it"]),
            "friends.json": _json(friends),
            "friends.csv": _csv(friends, ["person_id", "name"]),
            "messages.json": _json(messages),
            "messages.csv": _csv(messages, ["conversation_id", "with_person", "from",
                                            "sent_at", "body", "disappears_at"]),
            "apps_and_partners.json": _json(recipients),
            "apps_and_partners.csv": _csv(recipients, list(recipients[0]) if recipients else [
                "recipient", "kind", "field", "purpose", "allowed_at", "last_used_at",
                "access_until"]),
            "access_log.json": _json(log_doc),
            "access_log.csv": _csv(log_rows, ["index", "kind", "at", "who", "fields",
                                              "purpose", "outcome", "count", "strangers",
                                              "reference"]),
            "leaks.json": _json(leaks),
            "leaks.csv": _csv(leaks, ["incident", "file", "first_seen_at", "fields"]),
            "notifications.json": _json(notes),
            "notifications.csv": _csv(notes, ["kind", "detail", "created_at", "read"]),
            "sessions.json": _json(sessions),
            "sessions.csv": _csv(sessions, ["method", "created_at", "last_seen_at",
                                            "expires_at"]),
            "retention.json": _json(self.retention()),
        }

    def _all_friends(self, person_id: str) -> list[str]:
        out: list[str] = []
        after = None
        while True:
            page = self.social.friends(person_id, after=after, limit=500)
            out.extend(page)
            if len(page) < 500:
                return out
            after = page[-1]
