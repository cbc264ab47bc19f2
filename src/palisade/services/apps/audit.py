"""Running the app audits: gather each app's numbers, judge them (domain.apps.audit), put new
findings in the operator alert list, and suspend where the configuration says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy import select

from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import DiscoveryAlert as OperatorAlert
from palisade.domain.apps.audit import AppUsage, AuditPolicy, Finding, audit
from palisade.domain.apps.grants import parse_grant
from palisade.services.apps.registry import AppRegistry
from palisade.services.clock import Clock

FINDINGS = Counter("palisade_app_audit_findings_total", "App audit findings", ["kind"])
SUSPENSIONS = Counter("palisade_app_suspensions_total", "Apps suspended by the audit")


@dataclass(frozen=True)
class AuditReport:
    app_id: str
    usage: AppUsage
    findings: list[Finding]
    suspended: bool


class Audits:
    def __init__(self, uow: UnitOfWork, registry: AppRegistry, policy: AuditPolicy,
                 window: timedelta, clock: Clock) -> None:
        self.uow = uow
        self.registry = registry
        self.policy = policy
        self.window = window
        self.clock = clock

    def usage(self, repo: AppsRepository, app_id: str) -> AppUsage:
        now = self.clock()
        since = now - self.window
        consenting, received, refused, last_day = repo.usage_counts(
            app_id, since, now - timedelta(days=1))
        return AppUsage(app_id, consenting, received,
                        frozenset(parse_grant(g) for g in repo.granted_pairs(app_id)),
                        frozenset(parse_grant(g) for g in repo.used_pairs(app_id, since)),
                        refused, last_day)

    def run(self) -> list[AuditReport]:
        """Audit every app that is not suspended. A finding already in the alert list within
        the window is not repeated."""
        now = self.clock()
        reports = []
        for app in self.registry.list():
            if app.suspended_at is not None:
                continue
            with self.uow() as session:
                repo = AppsRepository(session)
                usage = self.usage(repo, app.id)
                findings = audit(usage, self.policy)
                recent = set(session.scalars(select(OperatorAlert.kind).where(
                    OperatorAlert.subject == app.id,
                    OperatorAlert.created_at >= now - self.window)))
                suspend = any(f.suspend for f in findings)
                for finding in findings:
                    kind = f"app_audit:{finding.kind.value}"
                    FINDINGS.labels(finding.kind.value).inc()
                    if kind not in recent or finding.suspend:
                        session.add(OperatorAlert(
                            kind=kind, subject=app.id, account_id=None,
                            level="suspended" if finding.suspend else "flag",
                            detail=f"{app.kind} {app.name!r}: {finding.detail}"[:500],
                            created_at=now))
            if suspend:
                self.registry.suspend(app.id, "suspended by the automatic audit: " + "; ".join(
                    f.detail for f in findings if f.suspend))
                SUSPENSIONS.inc()
            reports.append(AuditReport(app.id, usage, findings, suspend))
        return reports
