"""Notifications: the in-app feed gets new sign-ins, new app access and many-strangers
warnings; email goes to a real SMTP server (aiosmtpd) at once or as a daily digest per the
person's preferences, one message per person per run; `off` means feed only."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from palisade.adapters.delivery.codes import SmtpDelivery
from palisade.domain.one_time_codes import Purpose
from palisade.domain.errors import InvalidInput
from palisade.services.notifications import Notifications
from tests.apps_world import AppWorld
from tests.conftest import free_port, last_code, unique_email


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [message_from_bytes(content).get_payload(decode=True).decode()
                for rcpts, content in self.messages if address in rcpts]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    return app_world


def with_email(world: AppWorld, name: str):  # type: ignore[no-untyped-def]
    person = world.person(name)
    email = unique_email()
    world.platform.accounts.request_code(email, "192.0.2.1", Purpose.ADD_IDENTIFIER, person.id)
    world.platform.accounts.add_identifier(person.id, email, last_code(world.platform, email))
    return person, email


def mailer(world: AppWorld, port: int) -> Notifications:
    p = world.platform
    return Notifications(p.uow, p.notifications.keys,
                         SmtpDelivery("127.0.0.1", port, "Palisade <no-reply@example.net>"),
                         p.clock)


def test_the_feed_tells_of_sign_ins_and_new_app_access(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"], "birthday": ["advertising"]})
    ada = world.person("Ada")
    world.issue(ada, client_id, secret, "name:personalisation")  # signs in on the page too
    world.issue(ada, client_id, secret, "name:personalisation birthday:advertising")
    rows, unread = world.platform.notifications.feed(ada.id)
    kinds = [r.kind for r in reversed(rows)]
    assert kinds.count("new_app_access") == 2 and "new_sign_in" in kinds
    access = [r.detail for r in reversed(rows) if r.kind == "new_app_access"]
    assert access[0] == "Quiz of the Day can now use your name to personalise the app for you."
    assert access[1] == "Quiz of the Day can now use your birthday for advertising."  # only new
    assert unread == len(rows)
    r = world.client.get("/v1/me/notifications", headers={"Authorization": f"Bearer {ada.token}"})
    assert r.json()["unread"] == unread
    assert world.client.post("/v1/me/notifications/read", json={},
                             headers={"Authorization": f"Bearer {ada.token}"}).json() == unread
    assert world.platform.notifications.feed(ada.id)[1] == 0


def test_email_at_once_or_as_a_daily_digest(world: AppWorld, inbox, clock) -> None:  # type: ignore[no-untyped-def]
    box, port = inbox
    notifications = mailer(world, port)
    ada, email = with_email(world, "Ada")
    notifications.send_due()  # whatever registration produced
    box.messages.clear()
    world.platform.notifications.set_preferences(ada.id, {"new_sign_in": "daily"})
    client_id, secret = world.app({"name": ["personalisation"]})
    world.issue(ada, client_id, secret, "name:personalisation")
    assert notifications.send_due().emails == 1  # app access: immediate; sign-in waits
    [first] = box.to(email)
    assert "Quiz of the Day can now use your name" in first and "sign-in" not in first
    assert notifications.send_due().emails == 0
    world.platform.accounts.sign_in_with_password(ada.phone, "correct horse battery staple",
                                                  "192.0.2.1")
    clock.advance(hours=25)
    assert notifications.send_due().emails == 1  # the daily digest: both sign-ins at once
    digest = box.to(email)[-1]
    assert digest.count("New sign-in") == 2


def test_off_keeps_it_in_the_feed_only(world: AppWorld, inbox) -> None:  # type: ignore[no-untyped-def]
    box, port = inbox
    notifications = mailer(world, port)
    ada, email = with_email(world, "Ada")
    world.platform.notifications.set_preferences(ada.id, {"new_sign_in": "off",
                                                          "new_app_access": "off"})
    client_id, secret = world.app({"name": ["personalisation"]})
    world.issue(ada, client_id, secret, "name:personalisation")
    notifications.send_due()
    assert box.to(email) == []
    assert world.platform.notifications.feed(ada.id)[0]


def test_preferences_are_validated(world: AppWorld) -> None:
    ada = world.person("Ada")
    with pytest.raises(InvalidInput):
        world.platform.notifications.set_preferences(ada.id, {"new_sign_in": "hourly"})
    r = world.client.put("/v1/me/notification-settings", json={"email": {"leak_found": "off"}},
                         headers={"Authorization": f"Bearer {ada.token}"})
    assert r.status_code == 200 and r.json()["email"]["leak_found"] == "off"
    assert r.json()["email"]["new_sign_in"] == "immediate"  # the others keep theirs
    assert world.client.put("/v1/me/notification-settings", json={"email": {"x": "off"}},
                            headers={"Authorization": f"Bearer {ada.token}"}).status_code == 422


def test_the_email_rule() -> None:
    from datetime import UTC, datetime, timedelta

    from palisade.domain.notifications import (
        DEFAULT_PREFERENCES,
        EmailPreference,
        NotificationKind,
        due_for_email,
    )

    now = datetime(2026, 6, 2, tzinfo=UTC)
    daily = {**DEFAULT_PREFERENCES, NotificationKind.NEW_SIGN_IN: EmailPreference.DAILY}
    k = NotificationKind.NEW_SIGN_IN
    assert due_for_email(NotificationKind.LEAK_FOUND, daily, None, now, now)
    assert not due_for_email(k, daily, None, now - timedelta(hours=23), now)
    assert due_for_email(k, daily, None, now - timedelta(hours=24), now)
    assert not due_for_email(k, daily, now - timedelta(hours=2), now - timedelta(days=3), now)
    off = {**DEFAULT_PREFERENCES, k: EmailPreference.OFF}
    assert not due_for_email(k, off, None, now - timedelta(days=9), now)


def test_a_person_is_told_when_an_app_first_uses_a_field(world: AppWorld) -> None:
    client_id, secret = world.app({"name": ["personalisation"],
                                   "birthday": ["personalisation"]})
    ada = world.person("Ada")
    world.platform.profiles.update(ada.id, {"birthday": "1990-04-01"}, {})
    token = world.issue(ada, client_id, secret, "name:personalisation")
    world.call("/me", token)
    world.call("/me", token)  # the same field again: nothing new

    def firsts() -> list[str]:
        rows, _ = world.platform.notifications.feed(ada.id)
        return [r.detail for r in reversed(rows) if r.kind == "app_new_field"]

    assert firsts() == ["Quiz of the Day used your name for the first time "
                        "(to personalise the app for you)."]
    token = world.issue(ada, client_id, secret, "name:personalisation birthday:personalisation")
    world.call("/me", token)
    assert firsts()[1:] == ["Quiz of the Day used your birthday for the first time "
                            "(to personalise the app for you)."]
