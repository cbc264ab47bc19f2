"""The synthetic leaked-data dump: clean files round-trip, messy files carry exactly the mess
their stats report, output is deterministic and streamed."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

import pytest

from palisade.demo.dump import COLUMNS, NAME_SUFFIXES, DumpPerson, DumpStats, write_dump

FORMATS = ("csv", "tsv", "jsonl", "json")
DELIMITERS = {"csv": ",", "tsv": "\t"}
BLANKABLE = ("gender", "location", "relationship_status", "workplace", "email", "birthday")

# Non-ASCII names stay inside Latin-1 here, so a Latin-1 line is always invalid UTF-8.
FIRST = ("Ann", "José", "Zoë", "Søren", "Chen", "Amara", "Inês", "Kofi", "Hana", "Björn")
LAST = ("Müller", "Garcia", "Okafor", "Núñez", "Kim", "O'Hara", "Larsen", "Patel")
PHONES = ("+1201555{:04d}", "+4420794600{:02d}", "+33612345{:03d}", "+49151123{:05d}",
          "+3906123{:05d}", "+8131234{:04d}", "+35385123{:04d}", "+919812{:06d}")
LOCATIONS = ("Springfield, Illinois", "London", "Paris, France", "", "São Paulo", "Zürich")
WORKPLACES = ("Acme Corp", "", "Café Rouge", "Müller & Söhne", "Smith, Jones and Co")
STATUSES = ("Single", "Married", "In a relationship", "")


def person(i: int) -> DumpPerson:
    pattern = PHONES[i % len(PHONES)]
    width = int(pattern[-3])  # the {:0Nd} width
    return DumpPerson(
        id=str(100_000_000 + i),
        phone="" if i % 17 == 0 else pattern.format(i % 10**width),
        first_name=FIRST[i % len(FIRST)],
        last_name=LAST[(i // 3) % len(LAST)],
        gender=("male", "female", "")[i % 3],
        location=LOCATIONS[(i // 2) % len(LOCATIONS)],
        relationship_status=STATUSES[(i // 5) % len(STATUSES)],
        workplace=WORKPLACES[(i // 7) % len(WORKPLACES)],
        email=f"person{i}@example.com" if i % 4 else "",
        birthday=f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}" if i % 6 else "",
    )


def people(n: int) -> Iterator[DumpPerson]:
    return (person(i) for i in range(n))


# ---------------------------------------------------------------------------------------------
# Reading a dump back, the way a tolerant scanner would


@dataclass
class Record:
    values: dict[str, str]   # COLUMNS -> value, "" for empty/null/missing
    key: str                 # the row's text, to spot repeats
    latin1: bool             # some line of the row was not UTF-8
    malformed: bool          # one field too many
    extra: str = ""          # the stray field of a malformed row
    field_count: int = len(COLUMNS)


def decode_lines(data: bytes) -> tuple[list[str], list[bool]]:
    """Physical lines (ends kept), each UTF-8 or else Latin-1, and which were Latin-1."""
    lines: list[str] = []
    latin1: list[bool] = []
    for raw in io.BytesIO(data):
        try:
            lines.append(raw.decode("utf-8"))
            latin1.append(False)
        except UnicodeDecodeError:
            lines.append(raw.decode("latin-1"))
            latin1.append(True)
    return lines, latin1


def read_delimited(data: bytes, fmt: str, header: bool = True) -> list[Record]:
    lines, latin1 = decode_lines(data)
    reader = csv.reader(iter(lines), delimiter=DELIMITERS[fmt])
    records: list[Record] = []
    start = 0
    for fields in reader:
        end = reader.line_num
        count = len(fields)
        malformed = count == len(COLUMNS) + 1
        extra = fields.pop(COLUMNS.index("last_name") + 1) if malformed else ""
        records.append(Record(values=dict(zip(COLUMNS, fields)), key="".join(lines[start:end]),
                              latin1=any(latin1[start:end]), malformed=malformed, extra=extra,
                              field_count=count))
        start = end
    if header:
        assert records[0].values == dict(zip(COLUMNS, COLUMNS))
        records = records[1:]
    return records


def json_record(obj: dict[str, str | None], key: str, latin1: bool) -> Record:
    assert set(obj) <= set(COLUMNS)
    return Record(values={name: obj.get(name) or "" for name in COLUMNS}, key=key,
                  latin1=latin1, malformed=False)


def read_jsonl(data: bytes) -> tuple[list[Record], str | None]:
    """Complete records, and the final line if it is not valid JSON (a truncated line)."""
    lines, latin1 = decode_lines(data)
    records: list[Record] = []
    broken: str | None = None
    for index, (line, was_latin1) in enumerate(zip(lines, latin1)):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            assert index == len(lines) - 1, f"only the last line may be broken: {line!r}"
            broken = line
            continue
        records.append(json_record(obj, line, was_latin1))
    return records, broken


def read_json(data: bytes) -> list[Record]:
    objects = json.loads(data.decode("utf-8"))
    return [json_record(obj, json.dumps(obj, sort_keys=True), False) for obj in objects]


def read(data: bytes, fmt: str) -> list[Record]:
    """Every record, including a truncated last one for CSV/TSV."""
    if fmt in DELIMITERS:
        return read_delimited(data, fmt)
    if fmt == "jsonl":
        return read_jsonl(data)[0]
    return read_json(data)


def phone_style(written: str, e164: str) -> str | None:
    """Which style `written` is, if it reduces to `e164`'s digits (None if it does not)."""
    digits = re.sub(r"[^0-9]", "", written)
    want = e164[1:]
    if written.startswith("+"):
        return ("spaced" if " " in written else "e164") if digits == want else None
    if written.startswith("("):
        return "national" if want == "1" + digits else None
    if " " in written:  # national outside +1: trunk prefix 0, then the national number
        code_length = len(want) - len(digits) + 1
        ok = (digits.startswith("0") and want.endswith(digits[1:]) and 1 <= code_length <= 3
              and not want.startswith("1"))
        return "national" if ok else None
    if written.startswith("00"):
        return "intl00" if digits == "00" + want else None
    return "digits" if written == want else None


def write(tmp_path: Path, name: str, count: int, **options: object) -> tuple[bytes, DumpStats]:
    path = tmp_path / name
    stats = write_dump(str(path), people(count), **options)  # type: ignore[arg-type]
    return path.read_bytes(), stats


# ---------------------------------------------------------------------------------------------
# Clean files


TRICKY = [
    DumpPerson(id="1", phone="+12015550123", first_name="Ann", last_name="Lee"),
    DumpPerson(id="2", phone="+442079460018", first_name="Łukasz", last_name="Nowak, Jr.",
               gender="male", location="Line one\nLine two", relationship_status="Married",
               workplace='The "Big" Shop\tLtd', email="l@example.com", birthday="1990-04-01"),
    DumpPerson(id="", phone="", first_name="李", last_name="雷", location="北京"),
    DumpPerson(id="4", phone="not a phone", first_name="Zoë", last_name="O'Hara",
               workplace="Café Rouge, Zürich"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_dump_round_trips(tmp_path: Path, fmt: str) -> None:
    expected = [person(i) for i in range(500)] + TRICKY
    path = tmp_path / f"clean.{fmt}"
    stats = write_dump(str(path), iter(expected), fmt=fmt, mess=False)
    data = path.read_bytes()
    records = read(data, fmt)
    assert [tuple(r.values[c] for c in COLUMNS) for r in records] == [astuple(p) for p in expected]
    assert not any(r.latin1 or r.malformed for r in records)
    assert data.endswith(b"\n")
    assert stats == DumpStats(
        rows=len(expected), duplicates=0, quoted_newlines=1, latin1_rows=0,
        stray_delimiter_rows=0, truncated_last_line=False,
        phone_styles={"e164": sum(p.phone.startswith("+") for p in expected), "verbatim": 1})


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_header_is_optional(tmp_path: Path, fmt: str) -> None:
    data, _ = write(tmp_path, f"noheader.{fmt}", 20, fmt=fmt, mess=False, header=False)
    records = read_delimited(data, fmt, header=False)
    assert [r.values["id"] for r in records] == [person(i).id for i in range(20)]
    with_header, _ = write(tmp_path, f"header.{fmt}", 20, fmt=fmt, mess=False)
    header_line = DELIMITERS[fmt].join(COLUMNS) + "\n"
    assert with_header == header_line.encode() + data


def test_empty_input(tmp_path: Path) -> None:
    for fmt in FORMATS:
        data, stats = write(tmp_path, f"empty.{fmt}", 0, fmt=fmt)
        assert stats.rows == 0 and not stats.truncated_last_line
        assert read(data, fmt) == []
    assert (tmp_path / "empty.json").read_bytes() == b"[]\n"


# ---------------------------------------------------------------------------------------------
# Messy files


MESSY_COUNT = 10_000


@pytest.mark.parametrize("fmt", FORMATS)
def test_messy_dump_matches_its_stats(tmp_path: Path, fmt: str) -> None:
    data, stats = write(tmp_path, f"messy.{fmt}", MESSY_COUNT, fmt=fmt, seed=7)
    records = read(data, fmt)
    truncated = fmt != "json"
    assert stats.truncated_last_line is truncated
    assert data.endswith(b"\n") is not truncated
    if fmt in DELIMITERS:
        last = records.pop()  # the cut row: fewer fields, and no mess of its own
        assert last.field_count <= len(COLUMNS)
        assert all(r.field_count in (len(COLUMNS), len(COLUMNS) + 1) for r in records)
    elif fmt == "jsonl":
        broken = read_jsonl(data)[1]
        assert broken is not None and not broken.endswith("\n")
    assert len(records) + truncated == stats.rows

    seen: set[str] = set()
    duplicates = 0
    for record in records:
        duplicates += record.key in seen
        seen.add(record.key)
    assert duplicates == stats.duplicates
    assert len({r.values["id"] for r in records}) >= MESSY_COUNT - truncated
    assert sum(any("\n" in v for v in r.values.values()) for r in records) \
        == stats.quoted_newlines
    assert sum(r.latin1 for r in records) == stats.latin1_rows
    assert sum(r.malformed for r in records) == stats.stray_delimiter_rows
    assert all(r.extra.strip() in NAME_SUFFIXES for r in records if r.malformed)

    # Each kind of mess is there, at about its rate.
    assert 0.005 * MESSY_COUNT < stats.duplicates < 0.015 * MESSY_COUNT
    assert 0.002 * MESSY_COUNT < stats.quoted_newlines < 0.008 * MESSY_COUNT
    if fmt == "json":
        assert stats.latin1_rows == stats.stray_delimiter_rows == 0
    else:
        assert stats.latin1_rows > 0
        if fmt in DELIMITERS:
            assert 0.001 * MESSY_COUNT < stats.stray_delimiter_rows < 0.006 * MESSY_COUNT
        else:
            assert stats.stray_delimiter_rows == 0

    by_id = {p.id: p for p in people(MESSY_COUNT)}
    styles: Counter[str] = Counter()
    blanked = given = 0
    for record in records:
        if record.malformed:
            continue
        original = by_id[record.values["id"]]
        for name in BLANKABLE:
            if getattr(original, name):
                given += 1
                blanked += record.values[name] == ""
        written = record.values["phone"]
        if not original.phone:
            assert written == ""
            continue
        style = phone_style(written, original.phone)
        assert style is not None, (written, original.phone)
        styles[style] += 1
    assert set(styles) == {"e164", "digits", "intl00", "spaced", "national"}
    malformed_phones = sum(1 for r in records if r.malformed and r.values["phone"])
    for style, count in stats.phone_styles.items():
        assert count >= styles[style]
    assert 0 <= sum(stats.phone_styles.values()) - sum(styles.values()) - malformed_phones \
        <= truncated
    assert 0.35 < blanked / given < 0.45


def test_jsonl_spells_empty_values_several_ways(tmp_path: Path) -> None:
    data, _ = write(tmp_path, "empties.jsonl", 2000, fmt="jsonl", seed=3)
    lines, _ = decode_lines(data)
    objects = [json.loads(line) for line in lines[:-1]]
    assert any(len(obj) < len(COLUMNS) for obj in objects)
    assert any(None in obj.values() for obj in objects)
    assert any("" in obj.values() for obj in objects)


def test_characters_outside_latin1_become_question_marks(tmp_path: Path) -> None:
    path = tmp_path / "polish.csv"
    crowd = (DumpPerson(id=str(i), phone="+48601234567", first_name="Łukasz",
                        last_name="Kowalski") for i in range(3000))
    stats = write_dump(str(path), crowd, fmt="csv", seed=1)
    text = path.read_bytes().decode("utf-8")  # still valid UTF-8: "Ł" became "?"
    assert stats.latin1_rows > 0
    assert text.count("?ukasz,Kowalski") == stats.latin1_rows


# ---------------------------------------------------------------------------------------------
# Determinism, compression, memory, errors


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, fmt: str) -> None:
    first, stats = write(tmp_path, f"a.{fmt}", 3000, fmt=fmt, seed=42)
    again, stats_again = write(tmp_path, f"b.{fmt}", 3000, fmt=fmt, seed=42)
    other, _ = write(tmp_path, f"c.{fmt}", 3000, fmt=fmt, seed=43)
    assert first == again and stats == stats_again
    assert first != other


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_gzip_holds_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    plain, stats = write(tmp_path, f"plain.{fmt}", 5000, fmt=fmt, seed=5)
    zipped, zipped_stats = write(tmp_path, f"dump.{fmt}.gz", 5000, fmt=fmt, seed=5, gzip=True)
    again, _ = write(tmp_path, f"again.{fmt}.gz", 5000, fmt=fmt, seed=5, gzip=True)
    assert zipped[:2] == b"\x1f\x8b"
    assert gzip.decompress(zipped) == plain
    assert zipped_stats == stats
    assert zipped == again


def test_memory_stays_flat_for_300k_people(tmp_path: Path) -> None:
    """The people come from a generator cycling through a pre-built pool, so what is traced
    (and timed: every traced allocation is slow) is the writer, not the making of people."""
    pool = [person(i) for i in range(1000)]
    crowd = (pool[i % len(pool)] for i in range(300_000))
    path = tmp_path / "big.csv.gz"
    tracemalloc.start()
    try:
        stats = write_dump(str(path), crowd, fmt="csv", gzip=True, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.rows > 300_000
    assert peak < 20 * 1024 * 1024


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dump.xml"
    with pytest.raises(ValueError, match="xml"):
        write_dump(str(path), people(3), fmt="xml")
    assert not path.exists()
