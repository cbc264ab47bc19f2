"""Normalisation of phone numbers (E.164) and emails, and clear reasons for invalid input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palisade.domain.errors import InvalidIdentifier
from palisade.domain.identifiers import IdentifierKind, parse_identifier


@pytest.mark.parametrize("raw", ["+1 201 555 0123", "(201) 555-0123", "201.555.0123",
                                 "+1-201-555-0123", "+1 (201) 555-0123", "  2015550123 "])
def test_us_formats_normalise_to_one_e164(raw: str) -> None:
    ident = parse_identifier(raw, "US")
    assert ident.kind is IdentifierKind.PHONE and ident.value == "+12015550123"


def test_default_region_applies_to_national_numbers() -> None:
    assert parse_identifier("030 123456789", "DE").value.startswith("+4930")
    assert parse_identifier("07911 123456", "GB").value == "+447911123456"


@pytest.mark.parametrize("raw,reason", [
    ("+1 201 555", "too short"),
    ("hello", "does not look like a phone number"),
    ("+999 1234567", "country code"),
    ("+1 201 555 01234567890", "too long"),
    ("+1 000 555 0123", "not valid"),
])
def test_invalid_phones_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as err:
        parse_identifier(raw, "US")
    assert reason in err.value.detail
    assert err.value.status == 422


def test_emails_are_lower_cased_and_checked() -> None:
    assert parse_identifier(" Ada.Lovelace@Example.ORG ", "US").value == "ada.lovelace@example.org"
    for bad in ["ada@", "@example.org", "ada@@example.org", "ada@example", "a" * 400 + "@x.org"]:
        with pytest.raises(InvalidIdentifier):
            parse_identifier(bad, "US")


def test_empty_input_is_refused() -> None:
    with pytest.raises(InvalidIdentifier):
        parse_identifier("   ", "US")


@given(st.text(max_size=60))
def test_any_text_either_parses_or_raises_invalid_identifier(raw: str) -> None:
    try:
        ident = parse_identifier(raw, "US")
    except InvalidIdentifier:
        return
    assert ident.value and (ident.value.startswith("+") or "@" in ident.value)


def test_masked_hint_does_not_reveal_the_identifier() -> None:
    phone = parse_identifier("+1 201 555 0123", "US")
    assert "5550123" not in phone.masked() and phone.masked().endswith("23")
    email = parse_identifier("ada@example.org", "US")
    assert email.masked() == "a…@example.org"
