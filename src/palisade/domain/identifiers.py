"""Phone numbers and email addresses: parsing and normalisation to one canonical form.

Phones become E.164 (via `phonenumbers`); emails are checked for syntax (via
`email-validator`, no DNS look-up) and lower-cased. The canonical form is what the blind
index is computed over, so two spellings of one identifier always find the same person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers import ValidationResult as VR

from palisade.domain.errors import InvalidIdentifier


class IdentifierKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: IdentifierKind
    value: str  # canonical: E.164 for phones, lower-case for emails

    def masked(self) -> str:
        """A hint safe to show back to the person who typed it (never logged)."""
        if self.kind is IdentifierKind.PHONE:
            return self.value[:3] + "…" + self.value[-2:]
        local, _, domain = self.value.partition("@")
        return local[:1] + "…@" + domain


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "the country code is missing or unknown; "
    "write the number in international form, e.g. +1 201 555 0123",
    NumberParseException.NOT_A_NUMBER: "it does not look like a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}

_POSSIBILITY_REASONS = {
    VR.INVALID_COUNTRY_CODE: "the country code is unknown",
    VR.TOO_SHORT: "it is too short for that country",
    VR.TOO_LONG: "it is too long for that country",
    VR.INVALID_LENGTH: "it has the wrong number of digits for that country",
}

MAX_RAW_LENGTH = 320


def normalise_phone(raw: str, default_region: str) -> str:
    """E.164 form of `raw`, or InvalidIdentifier saying why not."""
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidIdentifier("The phone number is not valid: it is too long.")
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "it cannot be read as a phone number")
        raise InvalidIdentifier(f"The phone number is not valid: {reason}.") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (VR.IS_POSSIBLE, VR.IS_POSSIBLE_LOCAL_ONLY):
        reason = _POSSIBILITY_REASONS.get(possible, "it is not a possible number")
        raise InvalidIdentifier(f"The phone number is not valid: {reason}.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(
            "The phone number is not valid: no such number range is in use in that country."
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """Canonical email form, or InvalidIdentifier saying why not."""
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidIdentifier("The email address is not valid: it is too long.")
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentifier(f"The email address is not valid: {exc}") from None
    return result.normalized.lower()


def parse_identifier(raw: str, default_region: str) -> Identifier:
    """An email if it has an @, otherwise a phone number."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidIdentifier("Give a phone number or an email address.")
    if "@" in raw:
        return Identifier(IdentifierKind.EMAIL, normalise_email(raw))
    return Identifier(IdentifierKind.PHONE, normalise_phone(raw, default_region))
