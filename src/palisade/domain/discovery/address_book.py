"""Reading the entries of an uploaded address book.

Entries come in whatever form the phone's contacts app holds them ("(201) 555-0123",
"+44 20 7946 0958", "Alice@Example.COM"). Each is normalised to the canonical form the blind
index is computed over, or counted as unreadable. A phone number that parses and has a
possible length but lies in a range no operator assigns is *unallocated*: nobody can have
registered it, and asking for many of them is what range-walking scrapers do.

Whether a number is allocated is the costly part of reading it (the number is matched against
every numbering plan that shares its country code), and only the detectors need it, for the
identifiers an account sends for the first time; so it is computed on demand
(`is_allocated`), not for every entry of every re-sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from palisade.domain.errors import InvalidIdentifier
from palisade.domain.identifiers import MAX_RAW_LENGTH, Identifier, IdentifierKind, normalise_email

MAX_CONTACTS_PER_SYNC = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    identifier: Identifier
    number: PhoneNumber | None = None  # the parsed phone number (None for an email)


def read_entry(raw: object, default_region: str) -> Entry | None:
    """The canonical identifier of one address-book entry, or None if it is unreadable."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_RAW_LENGTH:
        return None
    if "@" in raw:
        try:
            return Entry(Identifier(IdentifierKind.EMAIL, normalise_email(raw)))
        except InvalidIdentifier:
            return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return Entry(Identifier(IdentifierKind.PHONE,
                            phonenumbers.format_number(number, PhoneNumberFormat.E164)), number)


def is_allocated(entry: Entry, default_region: str) -> bool:
    """False for a possible phone number in a range that no operator assigns (emails: True).

    Most entries of a book are numbers of the default region, and checking one region's plan
    is about half the cost of finding which of the plans sharing the country code applies;
    a number valid for the default region is valid, anything else gets the full check."""
    if entry.number is None:
        return True
    return (phonenumbers.is_valid_number_for_region(entry.number, default_region)
            or phonenumbers.is_valid_number(entry.number))
