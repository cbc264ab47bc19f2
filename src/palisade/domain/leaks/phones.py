"""E.164 candidates for a phone number as dumps write it (pure, bytes, fast). A candidate is
the E.164 number's digits without the plus (`12015550123`), the form most dumps use, so
that form is looked up as it stands.

A dump is scanned at a million rows a second, so the `phonenumbers` library (tens of
microseconds a number) is used only to learn each region's codes once. A number here is
only looked up, never stored or validated: an impossible candidate simply matches nobody,
so a spelling that is ambiguous yields two candidates rather than a guess. The forms seen in
real dumps: `+12015550123` and `+1 (201) 555-0123`; `0012015550123` (international prefix);
`12015550123` (country code without the plus, as in the 2021 dump); national forms with a
trunk prefix (`020 7946 0018`) or without one (`(201) 555-0123` in the default region)."""

from __future__ import annotations

import numpy as np
import phonenumbers

_NON_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)
MIN_DIGITS, MAX_DIGITS = 6, 15
MAX_PLAIN_DIGITS = 18  # the most digits an int64 holds whatever they are
_POWERS = 10 ** np.arange(MAX_PLAIN_DIGITS, dtype=np.int64)


def digits_value(array: np.ndarray, starts: np.ndarray, ends: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For cells `array[starts[i]:ends[i]]` of a block: (their integer value, whether the
    cell is bare digits with no leading zero, 1 to MAX_PLAIN_DIGITS of them). Such a cell is
    named by its value alone, so a look-up by value equals a look-up of its bytes."""
    lengths = ends - starts
    width = int(min(lengths.max(initial=0), MAX_PLAIN_DIGITS))
    if not width or not len(array):
        return np.zeros(len(starts), dtype=np.int64), np.zeros(len(starts), dtype=bool)
    positions = np.arange(width)
    grid = array[np.minimum(starts[:, None] + positions, len(array) - 1)]
    inside = positions < lengths[:, None]
    digit = grid - np.uint8(48)  # wraps: any other byte is above 9
    plain = ((digit <= 9) | ~inside).all(axis=1) & (lengths >= 1) & (
        lengths <= MAX_PLAIN_DIGITS) & (grid[:, 0] != 48)
    exponents = np.clip(lengths[:, None] - 1 - positions, 0, MAX_PLAIN_DIGITS - 1)
    weights = np.where(inside, _POWERS[exponents], 0)  # (longer cells are not plain)
    return (digit * weights).sum(axis=1), plain


class PhoneReader:
    """Candidates for one default region."""

    def __init__(self, default_region: str) -> None:
        code = phonenumbers.country_code_for_region(default_region.upper())
        if not code:
            raise ValueError(f"unknown region {default_region!r}")
        self.country = str(code).encode()
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region.upper())
        self.trunk = (metadata.national_prefix or "").encode()
        # a string of digits longer than any national number here carries a country code
        self.longest = max(metadata.general_desc.possible_length)

    def other_spellings(self, raw: bytes) -> bool:
        """Could `raw` mean another E.164 number than its own digits? (Bare digits longer
        than any national number, not starting with 00 or a trunk prefix, cannot.)"""
        if not raw.isdigit():
            return True
        n = len(raw)
        if n <= self.longest or raw[:2] == b"00":
            return True
        return (bool(self.trunk) and self.trunk != self.country and raw.startswith(self.trunk)
                and n <= self.longest + len(self.trunk))

    def other_spellings_of_digits(self, array: np.ndarray, starts: np.ndarray,
                                  lengths: np.ndarray) -> np.ndarray:
        """`other_spellings` of each cell of a block, for cells that are bare digits with
        no leading zero (`digits_value`'s plain cells; the answer for others is
        meaningless)."""
        could = lengths <= self.longest
        if self.trunk and self.trunk != self.country and len(array):
            trunk = np.frombuffer(self.trunk, dtype=np.uint8)
            at = np.minimum(starts[:, None] + np.arange(len(trunk)), max(len(array) - 1, 0))
            could |= ((array[at] == trunk).all(axis=1) & (lengths >= len(trunk))
                      & (lengths <= self.longest + len(trunk)))
        return could

    def candidates(self, raw: bytes) -> tuple[bytes, ...]:
        if raw.isdigit():  # the commonest form in dumps: nothing to strip
            text = digits = raw
        else:
            text = raw.strip()
            if not text:
                return ()
            digits = text.translate(None, _NON_DIGITS)
        n = len(digits)
        if n < MIN_DIGITS or n > MAX_DIGITS + 2:
            return ()
        if text[:1] == b"+":
            return (digits,)
        if digits[:2] == b"00" and text[:2] == b"00":
            return (digits[2:],) if n - 2 >= MIN_DIGITS else ()
        if self.trunk and digits.startswith(self.trunk):
            return (self.country + digits[len(self.trunk):],)
        # with or without the country code: both are looked up
        national = self.country + digits
        if digits.startswith(self.country) and n <= MAX_DIGITS:
            return (digits, national) if n + len(self.country) <= MAX_DIGITS else (digits,)
        return (national, digits) if n <= MAX_DIGITS else (national,)
