"""Reading the entries of an uploaded address book.

Entries come in whatever form the phone's contacts app holds them ("(201) 555-0123",
"+44 20 7946 0958", "Alice@Example.COM"). Each is normalised to the canonical form the blind
index is computed over, or counted as unreadable. A phone number that parses and has a
possible length but lies in a range no operator assigns is kept as *unallocated*: nobody can
have registered it, and asking for many of them is what range-walking scrapers do.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from palisade.domain.errors import InvalidIdentifier
from palisade.domain.identifiers import Identifier, IdentifierKind, MAX_RAW_LENGTH, normalise_email

MAX_CONTACTS_PER_SYNC = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    identifier: Identifier
    allocated: bool  # False: a possible number in a range that no operator assigns


def read_entry(raw: object, default_region: str) -> Entry | None:
    """The canonical identifier of one address-book entry, or None if it is unreadable."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_RAW_LENGTH:
        return None
    if "@" in raw:
        try:
            return Entry(Identifier(IdentifierKind.EMAIL, normalise_email(raw)), True)
        except InvalidIdentifier:
            return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Entry(Identifier(IdentifierKind.PHONE, e164), phonenumbers.is_valid_number(number))
