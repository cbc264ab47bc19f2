"""The friend-data firewall: the one rule for what an app or partner receives about a person.

An app receives a field of a person only if (1) that person authorized the app, (2) that
person granted the app that field for the purpose the call states, (3) the person's own
audience settings let the person the app acts for see that field, and (4) for fields that are
not public, the person used or renewed the app within the expiry period. There is no input
that lets one person's consent release another person's data: the subject's own grants are
the only source of fields, and a subject without an authorization releases nothing, not even
their existence (callers answer 404 exactly as for an unknown id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from palisade.domain.access import Relationship, visible_fields
from palisade.domain.apps.grants import AppField, Grant, Purpose
from palisade.domain.profile import Audience, ProfileField


@dataclass(frozen=True, slots=True)
class SubjectConsent:
    """What one person agreed to with one app (None of these means: no authorization)."""

    grants: frozenset[Grant]
    fresh: bool  # used or renewed within the expiry period


def released_fields(consent: SubjectConsent | None, purpose: Purpose,
                    relationship: Relationship,
                    audiences: Mapping[ProfileField, Audience]) -> frozenset[ProfileField]:
    """The profile fields of a subject an app may receive in one call."""
    if consent is None or relationship is Relationship.BLOCKED:
        return frozenset()
    granted = {g.field.profile_field for g in consent.grants
               if g.purpose is purpose and g.field is not AppField.FRIENDS}
    allowed = visible_fields(relationship, audiences, granted)  # type: ignore[arg-type]
    if not consent.fresh:
        allowed = frozenset(f for f in allowed if audiences[f] is Audience.EVERYONE)
    return allowed


def shows_friendship(consent: SubjectConsent | None, purpose: Purpose) -> bool:
    """May the app learn that this person is a friend of the person it acts for? Only if the
    person authorized the app and granted it their friendships for this purpose."""
    return (consent is not None and consent.fresh
            and Grant(AppField.FRIENDS, purpose) in consent.grants)


def purposes_of(grants: frozenset[Grant]) -> frozenset[Purpose]:
    return frozenset(g.purpose for g in grants)
