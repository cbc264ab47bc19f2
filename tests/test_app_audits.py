"""Automatic audits of apps and partners: the pure rules, and the service putting findings in
the operator alert list and suspending where configured."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from palisade.adapters.storage.tables import AccessEventRow, AppAuthorizationRow, DiscoveryAlert
from palisade.domain.apps.audit import AppUsage, AuditPolicy, FindingKind, audit
from palisade.domain.apps.grants import AppField, Grant, Purpose
from tests.apps_world import AppWorld

NAME = Grant(AppField.NAME, Purpose.PERSONALISATION)
BIRTHDAY_ADS = Grant(AppField.BIRTHDAY, Purpose.ADVERTISING)


def usage(**kw: object) -> AppUsage:
    base = dict(app_id="app_x", consenting=100, received=100, granted=frozenset({NAME}),
                used=frozenset({NAME}), refused_calls=0, reads_last_day=100)
    return AppUsage(**{**base, **kw})  # type: ignore[arg-type]


def kinds(u: AppUsage, policy: AuditPolicy = AuditPolicy()) -> set[FindingKind]:
    return {f.kind for f in audit(u, policy)}


def test_a_healthy_app_has_no_findings() -> None:
    assert audit(usage(), AuditPolicy()) == []


def test_the_quiz_app_pattern_is_flagged_and_can_suspend() -> None:
    quiz = usage(consenting=270, received=87_000)
    assert kinds(quiz) == {FindingKind.RECEIVED_BEYOND_CONSENT}
    assert not audit(quiz, AuditPolicy())[0].suspend
    assert audit(quiz, AuditPolicy(suspend_received_ratio=10))[0].suspend


def test_unused_grants_need_enough_people() -> None:
    over = usage(granted=frozenset({NAME, BIRTHDAY_ADS}))
    assert kinds(over) == {FindingKind.UNUSED_GRANTS}
    assert "birthday:advertising" in audit(over, AuditPolicy())[0].detail
    assert kinds(usage(consenting=5, received=5, granted=frozenset({NAME, BIRTHDAY_ADS}))) == set()


def test_calls_outside_purpose_and_bulk_reading() -> None:
    assert kinds(usage(refused_calls=21)) == {FindingKind.CALLS_OUTSIDE_PURPOSE}
    assert audit(usage(refused_calls=21), AuditPolicy(suspend_refused_calls=20))[0].suspend
    assert kinds(usage(reads_last_day=100 * 201)) == {FindingKind.BULK_READING}


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.floats(0.5, 50))
def test_the_ratio_rule_is_exactly_the_threshold(consenting: int, received: int,
                                                 limit: float) -> None:
    flagged = FindingKind.RECEIVED_BEYOND_CONSENT in kinds(
        usage(consenting=consenting, received=received, reads_last_day=0),
        AuditPolicy(max_received_ratio=limit))
    assert flagged == (received > 0 and received / max(consenting, 1) > limit)


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    return app_world


def alerts_for(world: AppWorld, app_id: str) -> list[DiscoveryAlert]:
    with world.platform.uow() as session:
        return list(session.scalars(sa.select(DiscoveryAlert).where(
            DiscoveryAlert.subject == app_id).order_by(DiscoveryAlert.id)))


def test_a_bypass_of_the_firewall_would_be_caught(world: AppWorld) -> None:
    """If data of non-consenting people ever reached an app (a bug, a partner deal), the
    audit sees more people received than consent, alerts, and can suspend the app."""
    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, "name:personalisation")
    others = [world.person(f"P{i}") for i in range(4)]
    now = world.platform.clock()
    with world.platform.uow() as session:  # what a leak would leave in the access log
        session.add_all([AccessEventRow(person_id=o.id, actor_kind="app", actor_id=client_id,
                                        fields=["name"], purpose="personalisation",
                                        outcome="released", route="/v1/graph/people/{id}",
                                        at=now) for o in others])
    world.platform.audits.policy = AuditPolicy(suspend_received_ratio=3.0)
    [report] = [r for r in world.platform.audits.run() if r.app_id == client_id]
    assert (report.usage.consenting, report.usage.received) == (1, 4)
    assert report.suspended
    [alert] = alerts_for(world, client_id)
    assert alert.kind == "app_audit:received_beyond_consent" and alert.level == "suspended"
    assert world.call("/me", token).status_code == 401  # suspension ends its tokens


def test_findings_reach_the_operator_alert_list_once(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"]})
    ada = world.person("Ada")
    token = world.issue(ada, client_id, secret, "name:personalisation")
    for _ in range(21):
        assert world.call("/me", token, purpose="advertising").status_code == 403
    world.platform.audits.run()
    world.platform.audits.run()
    [alert] = alerts_for(world, client_id)
    assert alert.kind == "app_audit:calls_outside_purpose" and alert.level == "flag"
    assert "21 calls" in alert.detail


def test_unused_grants_are_reported(world: AppWorld) -> None:
    client_id, _secret = world.app({"name": ["personalisation"], "birthday": ["advertising"]})
    now = world.platform.clock()
    people = [world.person(f"Q{i}") for i in range(20)]
    with world.platform.uow() as session:
        for p in people:
            session.add(AppAuthorizationRow(app_id=client_id, person_id=p.id,
                                            scoped_id=secrets.token_urlsafe(16),
                                            grants=["birthday:advertising", "name:personalisation"],
                                            created_at=now, last_used_at=now))
            session.add(AccessEventRow(person_id=p.id, actor_kind="app", actor_id=client_id,
                                       fields=["name"], purpose="personalisation",
                                       outcome="released", route="/v1/graph/me",
                                       at=now - timedelta(days=1)))
    [report] = [r for r in world.platform.audits.run() if r.app_id == client_id]
    assert [f.kind for f in report.findings] == [FindingKind.UNUSED_GRANTS]
    assert report.usage.used == frozenset({NAME})
