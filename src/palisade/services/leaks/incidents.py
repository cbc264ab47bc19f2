"""Leak response: scan dumps, record each as an incident (its hash, when it was first seen,
what it held, who it is attributed to), tell the people in it, draft the GDPR Article 33
notification, contain the attributed recipients, and answer the exposure check."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.leaks import dump_reader
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import (
    CanaryRow,
    LeakExposureRow,
    LeakIdentifierRow,
    LeakIncidentRow,
    Person,
)
from palisade.domain.errors import NotFound
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.domain.leaks.attribution import (
    UNGUESSABLE,
    Attribution,
    Evidence,
    Verdict,
    attribute,
)
from palisade.domain.leaks.columns import Role
from palisade.domain.leaks.phones import PhoneReader
from palisade.domain.notifications import NotificationKind
from palisade.services.clock import Clock
from palisade.services.leaks.index import build_index
from palisade.services.leaks.scanner import (
    ROLE_BITS,
    FileScan,
    MatchIndex,
    ScanOptions,
    scan_file,
)
from palisade.services.notifications import notify
from palisade.services.people import PersonKeys, new_id

# how a notification names each field `fields_of` reports
FIELD_WORDS = {"phone": "phone number", "email": "email address", "name": "name",
               "gender": "gender", "location": "location",
               "relationship_status": "relationship status", "workplace": "workplace",
               "birthday": "birthday", "id": "profile id"}
RECORD_BATCH = 5_000


def fields_of(mask: int) -> list[str]:
    """The field names a mask says a row held (first and last names count as `name`)."""
    out = []
    for role, bit in ROLE_BITS.items():
        if mask & bit:
            name = "name" if role in (Role.FIRST_NAME, Role.LAST_NAME) else role.value
            if name not in out:
                out.append(name)
    return out


@dataclass
class IncidentReport:
    incident_id: str | None  # None when not recorded
    new: bool  # False when this file (by SHA-256) was already recorded
    file: str
    sha256: str
    size: int
    fmt: str
    columns: dict[str, str]  # role -> column name
    rows: int
    failed_rows: int
    failures: list[tuple[int, str]]
    people_matched: int
    fields: dict[str, int]  # field -> matched people whose row held it
    canary_hits: list[dict]  # canary, recipient, strong
    attribution: list[Attribution]
    notified: int = 0


@dataclass
class Exposure:
    incident_id: str
    name: str
    first_seen_at: datetime
    fields: list[str]


@dataclass
class ContainmentAction:
    recipient: str
    action: str


@dataclass
class _Targets:
    people: dict[str, int] = field(default_factory=dict)  # person id -> mask
    canaries: dict[str, bool] = field(default_factory=dict)  # canary id -> strong
    scoped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # app -> count


class LeakResponse:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, blind_index: BlindIndex,
                 clock: Clock, default_region: str) -> None:
        self.uow = uow
        self.keys = keys
        self.bidx = blind_index
        self.clock = clock
        self.default_region = default_region

    # -- scanning
    def index(self, progress: Callable[[int], None] | None = None) -> MatchIndex:
        return build_index(self.uow, self.keys, progress)

    def scan(self, path: str, index: MatchIndex, options: ScanOptions, *, record: bool = True,
             notify_people: bool = True, progress: Callable[[int], None] | None = None
             ) -> IncidentReport:
        scan = scan_file(path, index, options, progress)
        targets = self._targets(scan, index)
        attribution = self._attribute(targets)
        report = IncidentReport(
            None, False, os.path.basename(path), scan.sha256, scan.size, scan.layout.fmt,
            {r.value: scan.columns.names[i] for r, i in scan.columns.roles.items()},
            scan.result.rows, scan.result.failed,
            [(f.line, f.reason) for f in scan.result.failures],
            len(targets.people), _field_counts(targets.people.values()),
            self._canary_hits(targets), attribution)
        if record:
            self._record(report, targets, notify_people)
            self._record_identifiers(path, scan, options, report)
        return report

    @staticmethod
    def _targets(scan: FileScan, index: MatchIndex) -> _Targets:
        out = _Targets()
        for target, mask in scan.result.matched.items():
            kind, key = index.targets[target]
            if kind == "person":
                out.people[key] = out.people.get(key, 0) | mask
            elif kind == "canary":
                out.canaries[key] = out.canaries.get(key, False) or target in scan.result.strong
            elif kind == "scoped_id":
                app_id, person_id = key.split("/", 1)
                out.scoped[app_id] += 1
                out.people[person_id] = out.people.get(person_id, 0) | mask
        return out

    def _attribute(self, targets: _Targets) -> list[Attribution]:
        evidence: list[Evidence] = []
        with self.uow() as session:
            by_recipient: dict[str, list[CanaryRow]] = defaultdict(list)
            for c in session.scalars(select(CanaryRow)):
                by_recipient[f"{c.recipient_kind}:{c.recipient_id}"].append(c)
        for recipient, canaries in sorted(by_recipient.items()):
            chances, hits = [], []
            for c in canaries:
                found = c.id in targets.canaries
                strong = targets.canaries.get(c.id, False)
                # a number alone proves nothing: whoever swept the range has it too
                chances.append(UNGUESSABLE if not found or strong else 1.0)
                hits.append(found)
            evidence.append(Evidence(recipient, chances, hits))
        for app_id, count in sorted(targets.scoped.items()):
            evidence.append(Evidence(f"app:{app_id}", [UNGUESSABLE] * count, [True] * count,
                                     kind="scoped_id"))
        return attribute(evidence)

    def _canary_hits(self, targets: _Targets) -> list[dict]:
        if not targets.canaries:
            return []
        with self.uow() as session:
            rows = {c.id: c for c in session.scalars(select(CanaryRow).where(
                CanaryRow.id.in_(list(targets.canaries))))}
        return [{"canary": cid, "recipient": f"{rows[cid].recipient_kind}:"
                 f"{rows[cid].recipient_id}", "strong": strong}
                for cid, strong in sorted(targets.canaries.items()) if cid in rows]

    # -- recording
    def _record(self, report: IncidentReport, targets: _Targets, notify_people: bool) -> None:
        now = self.clock()
        with self.uow() as session:
            existing = session.scalar(select(LeakIncidentRow).where(
                LeakIncidentRow.sha256 == report.sha256))
            if existing is not None:  # the same file again: the first sighting stands
                report.incident_id, report.new = existing.id, False
                return
            incident = LeakIncidentRow(
                id=new_id(), sha256=report.sha256, name=report.file[:500], first_seen_at=now,
                rows=report.rows, failed_rows=report.failed_rows,
                matched_people=report.people_matched, fields=report.fields,
                attribution=[_attribution_doc(a) for a in report.attribution],
                notified_at=now if notify_people else None)
            session.add(incident)
            session.flush()
            live = set(session.scalars(select(Person.id).where(
                Person.id.in_(list(targets.people))))) if targets.people else set()
            for pid, mask in targets.people.items():
                if pid not in live:
                    continue
                fields = fields_of(mask)
                session.add(LeakExposureRow(incident_id=incident.id, person_id=pid,
                                            fields=fields))
                if notify_people:
                    notify(session, pid, NotificationKind.LEAK_FOUND, _notice(fields, now), now)
                    report.notified += 1
            report.incident_id, report.new = incident.id, True

    def _record_identifiers(self, path: str, scan: FileScan, options: ScanOptions,
                            report: IncidentReport) -> None:
        """Every phone number and email in the dump, by blind index, for the exposure check
        (a second pass, in one process: recording is not on the scanning path)."""
        if not report.new or report.incident_id is None:
            return
        phones = PhoneReader(options.default_region)
        phone_col, email_col = scan.columns.of(Role.PHONE), scan.columns.of(Role.EMAIL)
        pending: dict[bytes, int] = {}
        incident_id = report.incident_id

        def flush() -> None:
            if not pending:
                return
            with self.uow() as session:
                known = {b: f for b, f in session.execute(
                    select(LeakIdentifierRow.value_bidx, LeakIdentifierRow.fields).where(
                        LeakIdentifierRow.incident_id == incident_id,
                        LeakIdentifierRow.value_bidx.in_(list(pending))))}
                for b, mask in pending.items():
                    fields = fields_of(mask)
                    if b in known:
                        merged = sorted(set(known[b]) | set(fields))
                        session.execute(LeakIdentifierRow.__table__.update().where(
                            LeakIdentifierRow.incident_id == incident_id,
                            LeakIdentifierRow.value_bidx == b).values(fields=merged))
                    else:
                        session.add(LeakIdentifierRow(incident_id=incident_id, value_bidx=b,
                                                      fields=fields))
            pending.clear()

        bits = [(i, ROLE_BITS[role]) for role, i in scan.columns.roles.items()]
        for batch, _bad in dump_reader.row_batches(path, scan.layout):
            for cells in batch:
                mask = 0
                for i, bit in bits:
                    if cells[i]:
                        mask |= bit
                for identifier in _identifiers(cells, phone_col, email_col, phones):
                    b = self.bidx.of(identifier)
                    pending[b] = pending.get(b, 0) | mask
            if len(pending) >= RECORD_BATCH:
                flush()
        flush()

    # -- reading incidents
    def incidents(self) -> list[LeakIncidentRow]:
        with self.uow() as session:
            return list(session.scalars(select(LeakIncidentRow).order_by(
                LeakIncidentRow.first_seen_at)))

    def incident(self, incident_id: str) -> LeakIncidentRow:
        with self.uow() as session:
            row = session.get(LeakIncidentRow, incident_id)
            if row is None:
                raise NotFound("No such incident.")
            return row

    def forget(self, incident_id: str) -> None:
        """Delete an incident with its exposures and the blind indexes of its identifiers
        (when it no longer needs answering for, e.g. after the retention period)."""
        with self.uow() as session:
            row = session.get(LeakIncidentRow, incident_id)
            if row is None:
                raise NotFound("No such incident.")
            session.delete(row)

    def exposures(self, bidx: bytes) -> list[Exposure]:
        """The incidents an identifier appears in (ask only after proof of control)."""
        with self.uow() as session:
            rows = session.execute(
                select(LeakIncidentRow.id, LeakIncidentRow.name, LeakIncidentRow.first_seen_at,
                       LeakIdentifierRow.fields)
                .join(LeakIdentifierRow, LeakIdentifierRow.incident_id == LeakIncidentRow.id)
                .where(LeakIdentifierRow.value_bidx == bidx)
                .order_by(LeakIncidentRow.first_seen_at)).all()
        return [Exposure(r[0], r[1], r[2], list(r[3])) for r in rows]

    # -- the operator's response
    def article_33_draft(self, incident_id: str, controller: str = "[controller name]") -> str:
        return article_33(self.incident(incident_id), controller)

    def contain(self, incident_id: str, suspend_app: Callable[[str, str], None],
                revoke_app: Callable[[str], int], freeze_account: Callable[[str], None],
                sign_out: Callable[[str], int]) -> list[ContainmentAction]:
        """Suspend every attributed app and partner and revoke its tokens; freeze every
        attributed discovery account's discovery and end its sessions. Only `attributed`
        verdicts: a suspicion is for the operator to look into, not to act on blindly."""
        incident = self.incident(incident_id)
        actions = []
        reason = f"attributed to leak incident {incident.id} ({incident.name})"
        done: set[str] = set()
        for a in incident.attribution:
            if a["verdict"] != Verdict.ATTRIBUTED.value or a["recipient"] in done:
                continue
            done.add(a["recipient"])  # (canaries and scoped ids can both name an app)
            kind, _, rid = a["recipient"].partition(":")
            if kind in ("app", "partner"):
                suspend_app(rid, reason)
                revoked = revoke_app(rid)
                actions.append(ContainmentAction(a["recipient"], f"suspended; tokens revoked "
                                                 f"({revoked})"))
            elif kind == "discovery":
                freeze_account(rid)
                ended = sign_out(rid)
                actions.append(ContainmentAction(a["recipient"], f"discovery frozen; "
                                                 f"{ended} sessions ended"))
        return actions


def _identifiers(cells: list[bytes], phone_col: int | None, email_col: int | None,
                 phones: PhoneReader) -> list[Identifier]:
    out = []
    if phone_col is not None and cells[phone_col].strip():
        # one spelling (the likeliest: see PhoneReader.candidates) per number is recorded
        for candidate in phones.candidates(cells[phone_col])[:1]:
            out.append(Identifier(IdentifierKind.PHONE, "+" + candidate.decode()))
    if email_col is not None and b"@" in cells[email_col]:
        email = cells[email_col].strip().lower().decode("utf-8", "replace")
        out.append(Identifier(IdentifierKind.EMAIL, email))
    return out


def _field_counts(masks: Iterable[int]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for mask in masks:
        for name in fields_of(mask):
            counts[name] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _attribution_doc(a: Attribution) -> dict:
    return {"recipient": a.recipient, "kind": a.kind, "shown": a.shown, "found": a.found,
            "p_value": a.p_value, "verdict": a.verdict.value}


def _notice(fields: list[str], now: datetime) -> str:
    words = ", ".join(FIELD_WORDS.get(f, f) for f in fields)
    return (f"Your {words} appeared in a leaked file found on {now.date().isoformat()}. "
            "Expect scam calls and messages that use these details; never share a code we "
            "send you; ask your carrier to lock your number against transfers; you can "
            "choose who can find you by phone and email in the Privacy Center.")[:500]


def article_33(incident: LeakIncidentRow, controller: str) -> str:
    """A draft of the notification to the supervisory authority (GDPR Article 33(3)): the
    operator completes the bracketed parts and sends it within 72 hours of awareness."""
    fields = ", ".join(f"{name} ({count:,} people)" for name, count in incident.fields.items())
    attributed = [a for a in incident.attribution if a["verdict"] == "attributed"]
    suspected = [a for a in incident.attribution if a["verdict"] == "suspected"]
    source = ("; ".join(f"{a['recipient']} ({a['found']} of {a['shown']} markers, "
                        f"p = {a['p_value']:.1e})" for a in attributed)
              or "not attributed to any recipient so far")
    return f"""# Personal data breach notification (GDPR Article 33) — DRAFT

Controller: {controller}
Data protection officer: [name, email, phone]
Incident reference: {incident.id}
Date the controller became aware: {incident.first_seen_at.date().isoformat()}

## (a) Nature of the breach
A file containing personal data of our users was found outside our control: "{incident.name}"
(SHA-256 {incident.sha256}), {incident.rows:,} rows ({incident.failed_rows:,} unreadable).
Source: {source}.{' Under investigation: ' + ', '.join(a['recipient'] for a in suspected) + '.'
                   if suspected else ''}
How the data left: [scraping through a product feature / a third party's misuse / ...]

Categories of personal data: {fields or "none of our users' data was recognised"}.
Categories of data subjects: users of the service.
Approximate number of data subjects concerned: {incident.matched_people:,}.
Approximate number of personal data records concerned: {incident.rows:,}.

## (b) Contact point
[DPO contact details]

## (c) Likely consequences
Phishing, scam calls and messages that use the exposed details; SIM-swap attempts where phone
numbers and names appear together; unwanted contact where locations or workplaces appear.
[Assess for special categories, e.g. relationship status, and for vulnerable users.]

## (d) Measures taken or proposed
- The people concerned were notified in the app{' and by email' if incident.notified_at
  else ''} on {(incident.notified_at or incident.first_seen_at).date().isoformat()}, with
  which of their details were exposed and what to do.
- Attributed recipients were contained: apps and partners suspended and their tokens revoked;
  scraping accounts frozen and signed out (`palisade leaks contain {incident.id}`).
- Anyone can check whether their phone number or email appears, after proving control of
  it with a one-time code.
- [Measures against recurrence.]

If this notification is not made within 72 hours, the reasons for the delay: [...]
"""
