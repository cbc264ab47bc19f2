"""What an app may ask for and what a person grants: a field, for a declared purpose.

An OAuth scope token here is `field:purpose` (for example `birthday:personalisation`). A grant
is always per field and per purpose, so a person who lets an app use their birthday to
personalise the app has not let it use the birthday for advertising.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from palisade.domain.errors import InvalidInput
from palisade.domain.profile import ProfileField


class Purpose(StrEnum):
    """The fixed list of purposes an app can declare for a field."""

    SIGN_IN = "sign_in"
    PERSONALISATION = "personalisation"
    COMMUNICATION = "communication"
    ANALYTICS = "analytics"
    ADVERTISING = "advertising"
    RESEARCH = "research"


class AppField(StrEnum):
    """What an app can be granted: the profile fields, and the friendship list. Messages are
    deliberately absent: no grant of any kind reaches private messages."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    BIRTHDAY = "birthday"
    LOCATION = "location"
    BIO = "bio"
    RELATIONSHIP_STATUS = "relationship_status"
    PHOTO_URL = "photo_url"
    FRIENDS = "friends"

    @property
    def profile_field(self) -> ProfileField | None:
        return None if self is AppField.FRIENDS else ProfileField(self.value)


FIELD_LABELS: dict[AppField, str] = {
    AppField.NAME: "your name",
    AppField.PHONE: "your phone number",
    AppField.EMAIL: "your email address",
    AppField.BIRTHDAY: "your birthday",
    AppField.LOCATION: "your location",
    AppField.BIO: "your bio",
    AppField.RELATIONSHIP_STATUS: "your relationship status",
    AppField.PHOTO_URL: "your photo",
    AppField.FRIENDS: "that you are friends with people who also use this app",
}

PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.SIGN_IN: "to sign you in",
    Purpose.PERSONALISATION: "to personalise the app for you",
    Purpose.COMMUNICATION: "to contact you",
    Purpose.ANALYTICS: "for analytics",
    Purpose.ADVERTISING: "for advertising",
    Purpose.RESEARCH: "for research",
}


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    field: AppField
    purpose: Purpose

    @property
    def scope_token(self) -> str:
        return f"{self.field.value}:{self.purpose.value}"


def parse_grant(token: str) -> Grant:
    field, sep, purpose = token.partition(":")
    if not sep:
        raise InvalidInput(f"{token!r} is not a field:purpose pair.")
    try:
        return Grant(AppField(field), Purpose(purpose))
    except ValueError:
        raise InvalidInput(
            f"{token!r}: fields are {', '.join(f.value for f in AppField)}; purposes are "
            f"{', '.join(p.value for p in Purpose)}.") from None


def parse_scope(scope: str | None) -> frozenset[Grant]:
    """An OAuth scope string (space-separated, RFC 6749 §3.3) as grants."""
    return frozenset(parse_grant(t) for t in (scope or "").split())


def format_scope(grants: Iterable[Grant]) -> str:
    return " ".join(g.scope_token for g in sorted(set(grants)))


def grants_from_declaration(requested: Mapping[str, Iterable[str]]) -> frozenset[Grant]:
    """An app's registration `{field: [purpose, ...]}` as the grants it may ask for."""
    out: set[Grant] = set()
    for field, purposes in requested.items():
        for purpose in purposes:
            out.add(parse_grant(f"{field}:{purpose}"))
    return frozenset(out)


def declaration(grants: Iterable[Grant]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in sorted(set(grants)):
        out.setdefault(g.field.value, []).append(g.purpose.value)
    return out
