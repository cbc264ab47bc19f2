"""Profile fields, the audiences a person can give each one, and the safe defaults."""

from __future__ import annotations

from enum import StrEnum


class ProfileField(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    BIRTHDAY = "birthday"
    LOCATION = "location"
    BIO = "bio"
    RELATIONSHIP_STATUS = "relationship_status"
    PHOTO_URL = "photo_url"


class Audience(StrEnum):
    """Who may see a field, narrowest first."""

    ONLY_ME = "only_me"
    FRIENDS = "friends"
    FRIENDS_OF_FRIENDS = "friends_of_friends"
    EVERYONE = "everyone"


# Safe defaults: identifiers are private, the name is public so friends can recognise you,
# everything else is for friends only.
DEFAULT_AUDIENCES: dict[ProfileField, Audience] = {
    ProfileField.NAME: Audience.EVERYONE,
    ProfileField.PHONE: Audience.ONLY_ME,
    ProfileField.EMAIL: Audience.ONLY_ME,
    ProfileField.BIRTHDAY: Audience.FRIENDS,
    ProfileField.LOCATION: Audience.FRIENDS,
    ProfileField.BIO: Audience.FRIENDS,
    ProfileField.RELATIONSHIP_STATUS: Audience.FRIENDS,
    ProfileField.PHOTO_URL: Audience.FRIENDS,
}

# Fields the person edits directly; phone and email come from verified identifiers.
EDITABLE_FIELDS: frozenset[ProfileField] = frozenset(DEFAULT_AUDIENCES) - {
    ProfileField.PHONE,
    ProfileField.EMAIL,
}

RELATIONSHIP_STATUSES: tuple[str, ...] = (
    "single",
    "in_a_relationship",
    "engaged",
    "married",
    "in_a_civil_union",
    "in_a_domestic_partnership",
    "separated",
    "divorced",
    "widowed",
    "its_complicated",
)

MAX_LENGTH: dict[ProfileField, int] = {
    ProfileField.NAME: 200,
    ProfileField.LOCATION: 200,
    ProfileField.BIO: 2000,
    ProfileField.PHOTO_URL: 2048,
}


def audiences_with_defaults(stored: dict[str, str] | None) -> dict[ProfileField, Audience]:
    """The effective audience of every field: what the person chose, else the default."""
    result = dict(DEFAULT_AUDIENCES)
    for key, value in (stored or {}).items():
        try:
            result[ProfileField(key)] = Audience(value)
        except ValueError:
            continue  # a field or audience this version no longer knows is ignored, not trusted
    return result
