"""Write a synthetic "leaked data dump" shaped like the 2021 Facebook scrape.

In April 2021 records scraped from Facebook up to 2019 (through the contact importer, which
turned any phone number into the matching profile) were posted for free: hundreds of
millions of rows, split into per-country text files. Each row held a phone number, the
profile id and the name, then whatever else the scraper saw: gender, location,
relationship status, workplace, email, birthday; most of those were empty. Phone numbers
were bare digits with the country code and no plus sign.

This module writes a file of that shape from synthetic people, so that a leak scanner (does
a dump contain our users?) can be tested against something that looks like the real thing.
Real dumps are not clean, and a scanner that only works on clean files misses people. So by
default (``mess=True``) the file carries the mess seen in real dumps, each kind at a low,
seeded rate:

* phone numbers in a mixture of styles (E.164, bare digits, ``00`` prefix, spaced, national);
* rows repeated a little later (re-emitted from a small window of recent rows);
* ``location``/``workplace`` values with a newline inside, so the field is quoted over two
  physical lines in CSV/TSV (an escaped ``\\n`` in JSON);
* some lines encoded in Latin-1 instead of UTF-8 (CSV, TSV and JSON Lines);
* some CSV/TSV rows with an unquoted delimiter inside the last name ("Garcia, Jr."), one
  field too many;
* about 40% of the optional fields left empty, and in JSON empty values spelled as ``""``,
  ``null`` or a missing key;
* the last line cut in half with no final newline (CSV, TSV and JSON Lines), as when a
  download stops early.

`write_dump` returns `DumpStats`, which counts every kind of mess it wrote, so a scanner's
tests can assert exactly what the scanner should have survived. Output depends only on the
input, the options and ``seed``: the same call writes the same bytes. It streams: memory stays
flat however many people come in. Standard library only.
"""

from __future__ import annotations

import csv
import gzip as gzip_module
import io
import json
import random
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

COLUMNS = ["id", "phone", "first_name", "last_name", "gender", "location",
           "relationship_status", "workplace", "email", "birthday"]
FORMATS = ("csv", "tsv", "jsonl", "json")
PHONE_STYLES = ("e164", "digits", "intl00", "spaced", "national")
VERBATIM = "verbatim"  # the style counted for a phone that is not E.164: written as given

# Rates of each kind of mess, per row, when mess=True.
DUPLICATE_RATE = 0.01
NEWLINE_RATE = 0.005
LATIN1_RATE = 0.01
STRAY_DELIMITER_RATE = 0.003
BLANK_RATE = 0.40
PHONE_STYLE_WEIGHTS = (("digits", 0.55), ("e164", 0.15), ("national", 0.12),
                       ("spaced", 0.10), ("intl00", 0.08))
JSON_EMPTY_WEIGHTS = (("empty", 0.5), ("omitted", 0.3), ("null", 0.2))
DUPLICATE_WINDOW = 32
NAME_SUFFIXES = ("Jr.", "Sr.", "II", "III", "MD", "PhD")

_PHONE = COLUMNS.index("phone")
_LAST_NAME = COLUMNS.index("last_name")
_NEWLINE_FIELDS = (COLUMNS.index("location"), COLUMNS.index("workplace"))
_BLANKABLE = tuple(COLUMNS.index(name) for name in
                   ("gender", "location", "relationship_status", "workplace", "email",
                    "birthday"))
# ITU-T E.164 country codes are prefix-free: 1 and 7 have one digit, these have two, the
# rest three.
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split())
_BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class DumpPerson:
    """One scraped profile, as the dump should hold it before any mess."""

    id: str                    # whatever id the scraper saw (may be "")
    phone: str                 # E.164, e.g. "+12015550123" (may be "")
    first_name: str
    last_name: str
    gender: str = ""           # "male" | "female" | ""
    location: str = ""
    relationship_status: str = ""
    workplace: str = ""
    email: str = ""
    birthday: str = ""         # ISO "1990-04-01" or ""


@dataclass(frozen=True)
class DumpStats:
    """What `write_dump` wrote, counted row by row as the row reached the file.

    A repeated row counts again for whatever it repeats (a Latin-1 row repeated is two Latin-1
    rows). A row counts as Latin-1 only if it had non-ASCII text, so its bytes really differ
    from UTF-8 (characters outside Latin-1 become "?"). `quoted_newlines` counts rows with a
    newline in any value, including newlines the input already had. The truncated last row
    is in `rows` and `phone_styles` only: it is written in UTF-8 without its own mess, since
    a cut row cannot carry it. A phone that is not E.164 is written as given and counted as
    "verbatim".
    """

    rows: int                  # data rows written (duplicates included, header excluded)
    duplicates: int            # rows that repeat an earlier row
    quoted_newlines: int       # rows with a newline inside a quoted field
    latin1_rows: int           # rows written in Latin-1 instead of UTF-8
    stray_delimiter_rows: int  # rows with an extra/unquoted delimiter (malformed)
    truncated_last_line: bool
    phone_styles: dict[str, int]  # style name -> count


# ---------------------------------------------------------------------------------------------
# Phone numbers


def _e164_digits(phone: str) -> str | None:
    """The digits of an E.164 number ("+", then 4 to 15 digits, the first not 0), or None."""
    digits = phone[1:]
    if (phone[:1] == "+" and 4 <= len(digits) <= 15 and digits.isascii() and digits.isdigit()
            and digits[0] != "0"):
        return digits
    return None


def _split_country_code(digits: str) -> tuple[str, str]:
    """(country code, national significant number) of the digits of an E.164 number."""
    width = 1 if digits[0] in "17" else 2 if digits[:2] in _TWO_DIGIT_CODES else 3
    return digits[:width], digits[width:]


def _group(digits: str) -> str:
    """Digits in groups of four from the right, e.g. "2079460018" -> "20 7946 0018"."""
    groups: list[str] = []
    while len(digits) > 4:
        groups.append(digits[-4:])
        digits = digits[:-4]
    groups.append(digits)
    return " ".join(reversed(groups))


def _format_phone(digits: str, style: str) -> str:
    """The E.164 number +`digits` written in `style` (one of `PHONE_STYLES`)."""
    if style == "e164":
        return "+" + digits
    if style == "digits":
        return digits
    if style == "intl00":
        return "00" + digits
    code, national = _split_country_code(digits)
    nanp = code == "1" and len(national) == 10
    if style == "spaced":
        if nanp:
            return f"+1 {national[:3]}-{national[3:6]}-{national[6:]}"
        return f"+{code} {_group(national)}"
    if style == "national":
        if nanp:
            return f"({national[:3]}) {national[3:6]}-{national[6:]}"
        return "0" + _group(national)
    raise ValueError(f"unknown phone style {style!r}")


# ---------------------------------------------------------------------------------------------
# Rows: what to write for each person, with the mess decided up front


class _Row(NamedTuple):
    values: tuple[str, ...]        # as written, in COLUMNS order
    clean: tuple[str, ...]         # the same row without its per-row mess (for truncation)
    phone_style: str | None        # None when the phone is empty
    empty_style: str = "empty"     # how a JSON object spells an empty value
    stray_suffix: str | None = None
    latin1: bool = False
    duplicate: bool = False


def _values(person: DumpPerson) -> tuple[str, ...]:
    return (person.id or "", person.phone or "", person.first_name or "",
            person.last_name or "", person.gender or "", person.location or "",
            person.relationship_status or "", person.workplace or "", person.email or "",
            person.birthday or "")


def _rng(seed: int, purpose: str) -> random.Random:
    """An independent stream per kind of mess, so changing one rate does not move the rest."""
    return random.Random(f"palisade-dump:{seed}:{purpose}")


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for name, weight in table:
        if roll < weight:
            return name
        roll -= weight
    return table[-1][0]


def _blank_table() -> tuple[list[float], list[tuple[int, ...]]]:
    """Every subset of the optional fields, with the cumulative chance of blanking just it.

    One draw per row then picks the subset; the same as one draw per field, but cheaper.
    """
    bounds: list[float] = []
    subsets: list[tuple[int, ...]] = []
    total = 0.0
    for bits in range(1 << len(_BLANKABLE)):
        subset = tuple(index for k, index in enumerate(_BLANKABLE) if bits >> k & 1)
        kept = len(_BLANKABLE) - len(subset)
        total += BLANK_RATE ** len(subset) * (1 - BLANK_RATE) ** kept
        bounds.append(total)
        subsets.append(subset)
    return bounds, subsets


_BLANK_BOUNDS, _BLANK_SETS = _blank_table()


def _with_newline(value: str) -> str:
    """A multi-line version of a location or workplace, as pasted from an address form."""
    if ", " in value:
        return value.replace(", ", ",\n", 1)
    if " " in value:
        return value.replace(" ", "\n", 1)
    return value + "\n"


class _Mess:
    """Decides, row by row and from `seed`, which mess a row gets."""

    def __init__(self, seed: int, fmt: str) -> None:
        self._delimited = fmt in ("csv", "tsv")
        self._lines = fmt != "json"
        self._json = fmt in ("jsonl", "json")
        self._phones = _rng(seed, "phone")
        self._blank = _rng(seed, "blank")
        self._newline = _rng(seed, "newline")
        self._latin1 = _rng(seed, "latin1")
        self._stray = _rng(seed, "stray")
        self._empty = _rng(seed, "empty")
        self._duplicate = _rng(seed, "duplicate")

    def row(self, person: DumpPerson) -> _Row:
        given = _values(person)
        values = list(given)
        values[_PHONE], style = self._phone(given[_PHONE])
        for index in self._blanks():
            values[index] = ""
        clean = tuple(values)
        if self._newline.random() < NEWLINE_RATE:
            self._add_newline(values, given)
            messy = tuple(values)
        else:
            messy = clean
        return _Row(
            values=messy, clean=clean, phone_style=style,
            empty_style=_weighted(self._empty, JSON_EMPTY_WEIGHTS) if self._json else "empty",
            stray_suffix=self._stray_suffix(),
            latin1=self._lines and self._latin1.random() < LATIN1_RATE,
        )

    def _blanks(self) -> tuple[int, ...]:
        """Which optional fields to leave empty: each one with probability BLANK_RATE."""
        pick = bisect_right(_BLANK_BOUNDS, self._blank.random())
        return _BLANK_SETS[min(pick, len(_BLANK_SETS) - 1)]

    def _phone(self, phone: str) -> tuple[str, str | None]:
        """The phone as written, and its style (None for an empty phone)."""
        if not phone:
            return "", None
        style = _weighted(self._phones, PHONE_STYLE_WEIGHTS)
        digits = _e164_digits(phone)
        if digits is None:
            return phone, VERBATIM
        return _format_phone(digits, style), style

    def _add_newline(self, values: list[str], given: tuple[str, ...]) -> None:
        candidates = [index for index in _NEWLINE_FIELDS if given[index]]
        if candidates:
            index = self._newline.choice(candidates)
            values[index] = _with_newline(given[index])

    def _stray_suffix(self) -> str | None:
        if self._delimited and self._stray.random() < STRAY_DELIMITER_RATE:
            return self._stray.choice(NAME_SUFFIXES)
        return None

    def duplicate(self, recent: deque[_Row]) -> _Row | None:
        if self._duplicate.random() < DUPLICATE_RATE:
            return self._duplicate.choice(recent)._replace(duplicate=True)
        return None


def _plain_rows(people: Iterable[DumpPerson]) -> Iterator[_Row]:
    for person in people:
        values = _values(person)
        style = None
        if values[_PHONE]:
            style = "e164" if _e164_digits(values[_PHONE]) else VERBATIM
        yield _Row(values=values, clean=values, phone_style=style)


def _messy_rows(people: Iterable[DumpPerson], fmt: str, seed: int) -> Iterator[_Row]:
    mess = _Mess(seed, fmt)
    recent: deque[_Row] = deque(maxlen=DUPLICATE_WINDOW)
    for person in people:
        row = mess.row(person)
        yield row
        recent.append(row)
        again = mess.duplicate(recent)
        if again is not None:
            yield again


# ---------------------------------------------------------------------------------------------
# Rendering and writing


class _Renderer:
    """Turns rows into text lines in one format."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._buffer = io.StringIO()
        delimiter = "\t" if fmt == "tsv" else ","
        self._csv = csv.writer(self._buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL,
                               lineterminator="\n")

    def header(self) -> str:
        return self._delimited(list(COLUMNS))

    def row(self, values: tuple[str, ...], empty_style: str, stray_suffix: str | None) -> str:
        if self.fmt in ("csv", "tsv"):
            fields = list(values)
            if stray_suffix is not None:
                # The suffix goes in as a field of its own: an unquoted delimiter in the name.
                joiner = " " if self.fmt == "csv" else ""
                fields[_LAST_NAME:_LAST_NAME + 1] = [fields[_LAST_NAME], joiner + stray_suffix]
            return self._delimited(fields)
        text = json.dumps(_json_object(values, empty_style), ensure_ascii=False)
        return text + "\n" if self.fmt == "jsonl" else text

    def _delimited(self, fields: list[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(fields)
        return self._buffer.getvalue()


def _json_object(values: tuple[str, ...], empty_style: str) -> dict[str, str | None]:
    obj: dict[str, str | None] = {}
    for name, value in zip(COLUMNS, values):
        if value:
            obj[name] = value
        elif empty_style == "null":
            obj[name] = None
        elif empty_style == "empty":
            obj[name] = ""
    return obj


def _encode(text: str, latin1: bool) -> tuple[bytes, bool]:
    """The line's bytes, and whether they are Latin-1 rather than UTF-8."""
    if latin1 and not text.isascii():
        return text.encode("latin-1", errors="replace"), True
    return text.encode("utf-8"), False


def _cut_point(data: bytes) -> int:
    """About half of a line: not inside a UTF-8 character, not right after a newline."""
    cut = len(data) // 2
    while cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    while cut > 0 and data[cut - 1] in b"\r\n":
        cut -= 1
    return cut


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass
class _Tally:
    rows: int = 0
    duplicates: int = 0
    quoted_newlines: int = 0
    latin1_rows: int = 0
    stray_delimiter_rows: int = 0
    truncated_last_line: bool = False
    phone_styles: Counter[str] = field(default_factory=Counter)

    def stats(self) -> DumpStats:
        order = (*PHONE_STYLES, VERBATIM)
        styles = {name: self.phone_styles[name] for name in order if self.phone_styles[name]}
        return DumpStats(rows=self.rows, duplicates=self.duplicates,
                         quoted_newlines=self.quoted_newlines, latin1_rows=self.latin1_rows,
                         stray_delimiter_rows=self.stray_delimiter_rows,
                         truncated_last_line=self.truncated_last_line, phone_styles=styles)


def _has_newline(values: tuple[str, ...]) -> bool:
    for value in values:
        if "\n" in value or "\r" in value:
            return True
    return False


class _DumpWriter:
    """Writes rendered rows to the stream (with JSON array framing) and counts what it wrote."""

    def __init__(self, stream: _Writable, fmt: str) -> None:
        self._stream = stream
        self._render = _Renderer(fmt)
        self._array = fmt == "json"
        self._delimited = fmt in ("csv", "tsv")
        self._first = True
        self.tally = _Tally()

    def start(self, header: bool) -> None:
        if self._array:
            self._stream.write(b"[")
        elif header and self._delimited:
            self._stream.write(self._render.header().encode("utf-8"))

    def row(self, row: _Row) -> None:
        text = self._render.row(row.values, row.empty_style, row.stray_suffix)
        data, latin1 = _encode(text, row.latin1)
        self._separate()
        self._stream.write(data)
        self._count(row)
        tally = self.tally
        if row.duplicate:
            tally.duplicates += 1
        if _has_newline(row.values):
            tally.quoted_newlines += 1
        if latin1:
            tally.latin1_rows += 1
        if row.stray_suffix is not None:
            tally.stray_delimiter_rows += 1

    def truncated_row(self, row: _Row) -> None:
        """The row without its own mess, in UTF-8, cut at about half, with no newline."""
        data = self._render.row(row.clean, row.empty_style, None).encode("utf-8")
        cut = _cut_point(data)
        if cut == 0:
            return
        self._separate()
        self._stream.write(data[:cut])
        self._count(row)
        self.tally.truncated_last_line = True

    def finish(self) -> None:
        if self._array:
            self._stream.write(b"]\n" if self._first else b"\n]\n")

    def _separate(self) -> None:
        if self._array:
            self._stream.write(b"\n" if self._first else b",\n")
        self._first = False

    def _count(self, row: _Row) -> None:
        self.tally.rows += 1
        if row.phone_style is not None:
            self.tally.phone_styles[row.phone_style] += 1


@contextmanager
def _open_output(path: str, compress: bool) -> Iterator[_Writable]:
    """The file opened for bytes, gzip-compressed if asked; either way buffered."""
    with open(path, "wb", buffering=_BUFFER_BYTES) as raw:
        if not compress:
            yield raw
            return
        # No file name and a zero timestamp in the gzip header keep the bytes deterministic;
        # the buffer in front saves compressing each short line on its own.
        with gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                  compresslevel=6) as zipped:
            buffered = io.BufferedWriter(zipped, _BUFFER_BYTES)  # type: ignore[arg-type]
            with buffered:
                yield buffered


def write_dump(path: str, people: Iterable[DumpPerson], *, fmt: str = "csv",
               gzip: bool = False, mess: bool = True, seed: int = 0,
               header: bool = True) -> DumpStats:
    """Write `people` to `path` as a dump in `fmt` ("csv", "tsv", "jsonl" or "json").

    `header` adds the `COLUMNS` row to CSV and TSV. With `mess=False` every row is the
    person exactly as given. With `mess=True` the file carries the mess described in the
    module docstring, decided by `seed`; the returned stats count it. `people` is consumed
    once, as a stream.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown dump format {fmt!r}; expected one of {', '.join(FORMATS)}")
    rows = _messy_rows(people, fmt, seed) if mess else _plain_rows(people)
    truncate = mess and fmt != "json"
    with _open_output(path, gzip) as stream:
        writer = _DumpWriter(stream, fmt)
        writer.start(header)
        pending: _Row | None = None  # held back one row: the last one may be cut
        for row in rows:
            if pending is not None:
                writer.row(pending)
            pending = row
        if pending is not None:
            if truncate:
                writer.truncated_row(pending)
            else:
                writer.row(pending)
        writer.finish()
    return writer.tally.stats()
