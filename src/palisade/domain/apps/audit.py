"""Automatic audits of apps and partners (pure): from what an app was granted and what it
received, find over-collection and abuse patterns. Incidents 2 and 3 were both visible in
exactly these numbers — many more people received than consented, friends' data taken in
bulk — and nobody was looking."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from palisade.domain.apps.grants import Grant


class FindingKind(StrEnum):
    RECEIVED_BEYOND_CONSENT = "received_beyond_consent"
    UNUSED_GRANTS = "unused_grants"
    CALLS_OUTSIDE_PURPOSE = "calls_outside_purpose"
    BULK_READING = "bulk_reading"


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    max_received_ratio: float = 2.0  # distinct people received / people who consent now
    max_refused_calls: int = 20  # calls outside the granted purposes, per window
    max_reads_per_person_per_day: float = 200.0  # released reads a day / consenting people
    min_consenting_for_unused: int = 20  # judge unused grants only with enough people
    suspend_received_ratio: float | None = None  # suspend automatically above this
    suspend_refused_calls: int | None = None  # suspend automatically above this


@dataclass(frozen=True, slots=True)
class AppUsage:
    """One app's numbers over the audit window."""

    app_id: str
    consenting: int  # people with an authorization now
    received: int  # distinct people whose data it received in the window
    granted: frozenset[Grant]  # pairs at least one person granted
    used: frozenset[Grant]  # pairs it received at least once in the window
    refused_calls: int
    reads_last_day: int


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    detail: str
    suspend: bool = False


def audit(usage: AppUsage, policy: AuditPolicy) -> list[Finding]:
    findings: list[Finding] = []
    ratio = usage.received / max(usage.consenting, 1)
    if usage.received and ratio > policy.max_received_ratio:
        findings.append(Finding(
            FindingKind.RECEIVED_BEYOND_CONSENT,
            f"received data of {usage.received} people while {usage.consenting} consent "
            f"(ratio {ratio:.2f} > {policy.max_received_ratio})",
            suspend=policy.suspend_received_ratio is not None
            and ratio > policy.suspend_received_ratio))
    unused = usage.granted - usage.used
    if unused and usage.consenting >= policy.min_consenting_for_unused:
        findings.append(Finding(
            FindingKind.UNUSED_GRANTS,
            "granted but never used in the window (ask for less): "
            + ", ".join(sorted(g.scope_token for g in unused))))
    if usage.refused_calls > policy.max_refused_calls:
        findings.append(Finding(
            FindingKind.CALLS_OUTSIDE_PURPOSE,
            f"{usage.refused_calls} calls outside the granted purposes "
            f"(> {policy.max_refused_calls})",
            suspend=policy.suspend_refused_calls is not None
            and usage.refused_calls > policy.suspend_refused_calls))
    per_person = usage.reads_last_day / max(usage.consenting, 1)
    if per_person > policy.max_reads_per_person_per_day:
        findings.append(Finding(
            FindingKind.BULK_READING,
            f"{usage.reads_last_day} people's data read in the last day for "
            f"{usage.consenting} consenting people ({per_person:.0f} each > "
            f"{policy.max_reads_per_person_per_day:.0f})"))
    return findings
