"""The dump scanner on messy dumps: every format (CSV, TSV, JSON lines, JSON array), plain
and gzip, with quoted newlines, Latin-1 lines, stray delimiters, duplicated rows, a
truncated last line and phone numbers in many styles. An independent reading of the same
file (the csv and json modules, phonenumbers) says which members it really holds; the
scanner must find exactly those, in one process or split across several, and report every
malformed row with its line number without stopping."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

import phonenumbers
import pytest

from palisade.demo.dump import DumpPerson, write_dump
from palisade.domain.leaks.columns import Role
from palisade.domain.leaks.phones import PhoneReader
from palisade.services.leaks.scanner import ROLE_BITS, MatchIndex, ScanOptions, scan_file

COUNTRIES = [("US", "+1201555"), ("GB", "+4420794"), ("DE", "+4930123"), ("FR", "+3314567"),
             ("IN", "+9198765"), ("BR", "+5511987")]


def population(n: int, seed: int = 3) -> list[DumpPerson]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        _, prefix = COUNTRIES[i % len(COUNTRIES)]
        digits = 13 - len(prefix) + (1 if prefix.startswith("+1") else 0)
        phone = prefix + f"{i:0{digits}d}"[-digits:]
        people.append(DumpPerson(
            id=str(100000 + i), phone=phone if i % 7 else "",
            first_name=rng.choice(["Ada", "José", "Zoë", "Chloé", "Łukasz", "Grace"]),
            last_name=rng.choice(["Lovelace", "Müller", "Hopper", "Øster"]),
            gender=rng.choice(["male", "female", ""]), location="Town " + str(i % 50),
            workplace="Works " + str(i % 30), email=f"person{i}@example.org" if i % 3 else "",
            birthday="1990-01-01"))
    return people


def index_of(people: list[DumpPerson], members: int) -> MatchIndex:
    index = MatchIndex()
    for p in people[:members]:
        index.add("person", p.id, phones=[p.phone] if p.phone else [],
                  emails=[p.email] if p.email else [])
    return index


def oracle(path: Path, fmt: str, compressed: bool, people: list[DumpPerson],
           members: int) -> set[str]:
    """Which members the file really holds, read with the standard library."""
    data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    text = data.decode("latin-1")
    by_phone = {p.phone: p.id for p in people[:members] if p.phone}
    by_email = {p.email: p.id for p in people[:members] if p.email}
    rows: list[dict] = []
    if fmt in ("csv", "tsv"):
        reader = csv.reader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t")
        header = next(reader)
        complete = data.endswith(b"\n")
        all_rows = list(reader)
        for k, r in enumerate(all_rows):
            if len(r) == len(header) and (complete or k < len(all_rows) - 1):
                rows.append(dict(zip(header, r, strict=True)))
    elif fmt == "jsonl":
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    else:
        rows = json.loads(data.decode("utf-8"))
    found = set()
    for r in rows:
        phone = (r.get("phone") or "").strip()
        if phone:
            # the default region's reading, and for bare digits also "with the country code"
            # (a national number of another country cannot be told apart: a per-country
            # dump is scanned with that country as the default region)
            # and "00" is read as the international prefix (ITU-T E.164's recommendation),
            # whatever the default region's own prefix is
            spellings = [phone] + (["+" + phone] if phone.isdigit() else [])
            if phone.startswith("00"):
                spellings.append("+" + phone[2:])
            for spelling in spellings:
                try:
                    e164 = phonenumbers.format_number(phonenumbers.parse(spelling, "US"),
                                                      phonenumbers.PhoneNumberFormat.E164)
                except phonenumbers.NumberParseException:
                    continue
                if e164 in by_phone:
                    found.add(by_phone[e164])
                    break
        email = (r.get("email") or "").strip().lower()
        if email in by_email:
            found.add(by_email[email])
    return found


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json"])
@pytest.mark.parametrize("compressed", [False, True])
def test_the_scanner_finds_exactly_the_members_a_messy_dump_holds(
        tmp_path: Path, fmt: str, compressed: bool) -> None:
    people = population(3000)
    path = tmp_path / f"dump.{fmt}"
    stats = write_dump(str(path), people, fmt=fmt, gzip=compressed, mess=True, seed=7)
    index = index_of(people, 2000)
    expected = oracle(path, fmt, compressed, people, 2000)
    assert len(expected) > 1000
    for processes, split in ((1, 1 << 30), (2, 1)):
        scan = scan_file(str(path), index, ScanOptions(default_region="US",
                                                       processes=processes, split_above=split))
        got = {index.targets[t][1] for t in scan.result.matched}
        assert got == expected, (processes, len(got), len(expected))
        if fmt in ("csv", "tsv"):
            assert scan.result.failed >= stats.stray_delimiter_rows
            assert scan.result.rows + scan.result.failed >= stats.rows - 1
        assert all(f.line >= 1 and f.reason for f in scan.result.failures)
        assert len(scan.sha256) == 64


def test_failures_carry_the_right_line_numbers_in_one_process_or_many(tmp_path: Path) -> None:
    people = population(4000)
    path = tmp_path / "dump.csv"
    write_dump(str(path), people, fmt="csv", mess=True, seed=11)
    index = index_of(people, 4000)
    one = scan_file(str(path), index, ScanOptions(processes=1, split_above=1 << 30))
    many = scan_file(str(path), index, ScanOptions(processes=3, split_above=1))
    assert [(f.line, f.reason) for f in one.result.failures] == \
        [(f.line, f.reason) for f in many.result.failures]
    lines = path.read_bytes().split(b"\n")
    for failure in one.result.failures:
        if "fields where the header has" in failure.reason:
            assert lines[failure.line - 1].count(b",") > 9  # the stray delimiter is there
    assert one.result.matched == many.result.matched


def test_fields_present_are_reported_per_person(tmp_path: Path) -> None:
    people = [DumpPerson(id="1", phone="+12015550100", first_name="Ada", last_name="L",
                         birthday="1815-12-10"),
              DumpPerson(id="2", phone="", first_name="Bob", last_name="M",
                         email="bob@example.org", workplace="Mill")]
    path = tmp_path / "d.csv"
    write_dump(str(path), people, mess=False)
    index = index_of(people, 2)
    scan = scan_file(str(path), index, ScanOptions(processes=1))
    masks = {index.targets[t][1]: m for t, m in scan.result.matched.items()}
    assert masks["1"] & ROLE_BITS[Role.BIRTHDAY] and not masks["1"] & ROLE_BITS[Role.EMAIL]
    assert masks["2"] & ROLE_BITS[Role.WORKPLACE] and masks["2"] & ROLE_BITS[Role.EMAIL]


def test_phone_candidates_agree_with_phonenumbers() -> None:
    reader = PhoneReader("US")
    for raw, e164 in (("+1 (201) 555-0123", "+12015550123"), ("0012015550123", "+12015550123"),
                      ("12015550123", "+12015550123"), ("(201) 555-0123", "+12015550123"),
                      ("+44 20 7946 0018", "+442079460018"), ("442079460018", "+442079460018")):
        assert e164[1:].encode() in reader.candidates(raw.encode()), raw
    assert PhoneReader("GB").candidates(b"020 7946 0018") == (b"442079460018",)
    assert reader.candidates(b"") == () and reader.candidates(b"12") == ()


def test_a_file_without_identifier_columns_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("first_name,last_name\nAda,Lovelace\n")
    with pytest.raises(ValueError, match="no column of phone numbers"):
        scan_file(str(path), MatchIndex(), ScanOptions(processes=1))


def test_cuts_that_fall_inside_quoted_fields_are_read_again(tmp_path: Path) -> None:
    """Every row has a newline inside a quoted cell, so many cuts between the processes'
    ranges land inside one; those ranges are read again together and the result is the one
    process's, row for row."""
    from palisade.adapters.leaks import dump_reader

    people = population(3000)
    path = tmp_path / "quoted.csv"
    lines = ["id,phone,first_name,last_name,location,email"]
    for p in people:
        lines.append(f'{p.id},{p.phone},{p.first_name},{p.last_name},"{p.location}\n'
                     f'second line",{p.email}')
    path.write_text("\n".join(lines) + "\n")
    layout = dump_reader.sniff(str(path))
    chunks = dump_reader.plan_chunks(str(path), layout, 24, min_bytes=1)
    data = path.read_bytes()
    quotes = [data.count(b'"', c.start, c.end) for c in chunks]
    assert dump_reader.misplaced_cuts(quotes)  # the case under test happens
    index = index_of(people, 2000)
    one = scan_file(str(path), index, ScanOptions(processes=1, split_above=1 << 30))
    many = scan_file(str(path), index, ScanOptions(processes=3, split_above=1))
    assert one.result.failed == many.result.failed == 0
    assert one.result.rows == many.result.rows == len(people)
    assert many.result.matched == one.result.matched
    assert len(one.result.matched) == sum(1 for p in people[:2000] if p.phone or p.email)


def test_misplaced_cuts_follow_quote_parity() -> None:
    from palisade.adapters.leaks.dump_reader import misplaced_cuts

    assert misplaced_cuts([2, 4, 0]) == []
    assert misplaced_cuts([1, 1, 0]) == [1]  # the cut before chunk 1 is inside a field
    assert misplaced_cuts([1, 0, 1, 2]) == [1, 2]


def test_a_truncated_gzip_is_read_up_to_the_cut_and_a_corrupt_one_refused(tmp_path: Path
                                                                            ) -> None:
    """A dump cut short in transit is real-world mess: read what is there, report the cut
    as a failure on the next line, never crash; a file that is not gzip at all is refused
    with a reason (the CLI exits 2, the operator route answers 422)."""
    rows = "".join(f"{i},+1201555{i:04d}\n" for i in range(5000))
    whole = gzip.compress(("id,phone\n" + rows).encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    index = MatchIndex()
    index.add("person", "p7", phones=["+12015550007"])
    result = scan_file(str(cut), index, ScanOptions(processes=1)).result
    assert 0 < result.rows < 5000 and result.matched.keys() == {0}
    assert result.failures[-1].reason == "the compressed file is cut short here"
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    with pytest.raises(ValueError, match="not a readable gzip file"):
        scan_file(str(bad), index, ScanOptions(processes=1))
