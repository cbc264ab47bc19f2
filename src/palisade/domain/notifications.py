"""Notifications: what a person is told, and when email goes out (pure).

Everything lands in the in-app feed. Email follows each kind's preference: `immediate` (one
message per event), `daily` (one digest a day with everything of those kinds), or `off`.
Digests instead of floods: immediate kinds are still gathered into one message per run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum


class NotificationKind(StrEnum):
    NEW_APP_ACCESS = "new_app_access"  # an app or partner got access
    APP_NEW_FIELD = "app_new_field"  # an app started using a field it had not used before
    NEW_SIGN_IN = "new_sign_in"
    STRANGER_LOOKUPS = "stranger_lookups"  # many strangers looked the person up
    LEAK_FOUND = "leak_found"  # the person's data was found in a leak


class EmailPreference(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    OFF = "off"


DEFAULT_PREFERENCES: dict[NotificationKind, EmailPreference] = {
    NotificationKind.NEW_APP_ACCESS: EmailPreference.IMMEDIATE,
    NotificationKind.APP_NEW_FIELD: EmailPreference.DAILY,
    NotificationKind.NEW_SIGN_IN: EmailPreference.IMMEDIATE,
    NotificationKind.STRANGER_LOOKUPS: EmailPreference.DAILY,
    NotificationKind.LEAK_FOUND: EmailPreference.IMMEDIATE,
}

DIGEST_EVERY = timedelta(days=1)


def preferences_with_defaults(stored: Mapping[str, str] | None
                              ) -> dict[NotificationKind, EmailPreference]:
    prefs = dict(DEFAULT_PREFERENCES)
    for kind, value in (stored or {}).items():
        try:
            prefs[NotificationKind(kind)] = EmailPreference(value)
        except ValueError:
            continue  # a kind or value this version no longer knows is ignored
    return prefs


def due_for_email(kind: NotificationKind, prefs: Mapping[NotificationKind, EmailPreference],
                  last_digest_at: datetime | None, created_at: datetime,
                  now: datetime) -> bool:
    """Should an unsent notification of this kind, created at `created_at`, go out in an
    email now? Daily kinds wait a day from the last digest (or, before the first digest,
    from the notification itself)."""
    pref = prefs[kind]
    if pref is EmailPreference.OFF:
        return False
    if pref is EmailPreference.IMMEDIATE:
        return True
    return now - (last_digest_at or created_at) >= DIGEST_EVERY
