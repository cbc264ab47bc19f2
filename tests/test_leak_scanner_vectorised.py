"""The scanner's vectorised path (numpy over quote-free runs of a CSV block) must find exactly
what the reference path (every row as a list of cells, dict look-ups) finds: the same rows,
failures with the same reasons and line numbers, the same people with the same fields, the
same repeats and canary evidence. Each piece is checked against its reference with
hypothesis, then whole messy dumps are scanned both ways."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.adapters.leaks import columnar, dump_reader
from palisade.adapters.leaks.columnar import PlainBlock, split_plain
from palisade.adapters.leaks.dump_reader import sniff, split_block
from palisade.domain.leaks.phones import PhoneReader, digits_value
from palisade.services.leaks.scanner import MatchIndex, PhoneKeys, ScanOptions, scan_file

CELL_BYTES = st.sampled_from([b"1", b"2", b"0", b"9", b"+", b" ", b"a", b"Z", b"-", b"(",
                              b"\xe9", b"\xc3\xa9", b"\r", b"@", b"."])
CELLS = st.lists(CELL_BYTES, max_size=6).map(b"".join)


def _line(cells: list[bytes], delimiter: bytes = b",") -> bytes:
    return delimiter.join(cells)


LINES = st.one_of(
    st.lists(CELLS, min_size=3, max_size=3),  # mostly rows of the right width
    st.lists(CELLS, min_size=3, max_size=3),
    st.lists(CELLS, min_size=1, max_size=5),  # and some of another
).map(_line)


@st.composite
def plain_bodies(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(LINES, max_size=30))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = ending.join(lines)
    if lines and draw(st.booleans()):
        body += ending  # most blocks end with a newline; a file's last may not
    return body


def _layout(width: int | None = 3) -> dump_reader.Layout:
    header = ["a", "b", "c"][:width] if width else None
    return dump_reader.Layout("csv", b",", False, header, [])


@settings(max_examples=300, deadline=None)
@given(body=plain_bodies(), width=st.sampled_from([3, None]), first=st.integers(1, 10_000))
def test_split_plain_reads_what_split_block_reads(body: bytes, width: int | None,
                                                  first: int) -> None:
    good, bad, found_width = split_block(body, _layout(width), width, first)
    block, plain_width = split_plain(body, b",", width, first)
    assert plain_width == found_width
    assert [block.cells(r, b",") for r in range(block.rows)] == good
    assert [[block.cell(r, k) for k in range(found_width or 0)]
            for r in range(block.rows)] == good
    assert block.failures == bad


QUOTED_LINES = st.one_of(LINES, LINES, st.sampled_from([
    b'"a, b",1,2', b'"multi\nline",x,y', b'"open,1,2', b'x,"he said ""hi""",z',
    b'"a\r\nb",c,d', b'q"uote,1,2']))


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(QUOTED_LINES, max_size=40), ending=st.sampled_from([b"\n", b"\r\n"]),
       final=st.booleans(), header=st.booleans())
def test_blocks_read_the_rows_row_batches_reads(lines: list[bytes], ending: bytes,
                                                final: bool, header: bool) -> None:
    """A block with quotes: its records that hold one are read the careful way, the rest
    in numpy."""
    body = b"a,b,c\n" + ending.join(lines) + (ending if final else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dump.csv")
        Path(path).write_bytes(body)
        layout = sniff(path, header=header)
        reference = list(dump_reader.row_batches(path, layout))
        vectorised = list(columnar.blocks(path, layout))
    expected_rows = [cells for good, _ in reference for cells in good]
    expected_bad = [f for _, bad in reference for f in bad]
    rows: list[list[bytes]] = []
    bad: list[dump_reader.ParseFailure] = []
    for item in vectorised:
        if isinstance(item, PlainBlock):
            rows += [item.cells(r, b",") for r in range(item.rows)]
            bad += item.failures
        else:
            rows += item[0]
            bad += item[1]
    assert sorted(rows) == sorted(expected_rows)  # careful records come before their block
    assert bad == expected_bad


@settings(max_examples=100, deadline=None)
@given(keys=st.dictionaries(st.integers(1, 10**15), st.integers(0, 10**6), max_size=300),
       probes=st.lists(st.integers(0, 10**15), max_size=300))
def test_phone_keys_find_what_a_dict_finds(keys: dict[int, int], probes: list[int]) -> None:
    as_bytes = {str(k).encode(): t for k, t in keys.items()}
    table = PhoneKeys.of(as_bytes)
    values = np.array(probes + list(keys), dtype=np.int64)
    assert table.find(values).tolist() == [keys.get(v, -1) for v in values.tolist()]


def test_phone_keys_survive_a_crowded_table() -> None:
    """Many keys sharing a few home slots: the probe sequences are long and interleaved."""
    keys = {str(10**9 + i * (1 << 20)).encode(): i for i in range(2000)}
    table = PhoneKeys.of(keys)
    assert table.probes > 1
    values = np.array([int(k) for k in keys] + [10**9 + 7, 10**9 + (1 << 20) * 5000],
                      dtype=np.int64)
    assert table.find(values).tolist() == list(range(2000)) + [-1, -1]


DIGIT_CELLS = st.text("0123456789", min_size=0, max_size=20).map(str.encode)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.one_of(DIGIT_CELLS, CELLS), min_size=1, max_size=40),
       region=st.sampled_from(["US", "GB", "DE", "FR", "IN", "BR", "RU", "HU", "JP", "AU"]))
def test_digit_values_and_other_spellings_agree_with_the_bytes(cells: list[bytes],
                                                               region: str) -> None:
    data = b",".join(cells)
    starts, at = [], 0
    for c in cells:
        starts.append(at)
        at += len(c) + 1
    s = np.array(starts, dtype=np.int64)
    e = s + np.array([len(c) for c in cells], dtype=np.int64)
    array = np.frombuffer(data, dtype=np.uint8)
    values, plain = digits_value(array, s, e)
    reader = PhoneReader(region)
    others = reader.other_spellings_of_digits(array, s, e - s)
    for i, cell in enumerate(cells):
        is_plain = cell.isdigit() and cell[:1] != b"0" and len(cell) <= 18
        assert bool(plain[i]) == is_plain, cell
        if is_plain:
            assert int(values[i]) == int(cell)
            assert bool(others[i]) == reader.other_spellings(cell), cell


# --- whole dumps, scanned both ways --------------------------------------------------------

SPELLINGS = [
    lambda n: n.lstrip("+"),  # 12015550123
    lambda n: n,  # +12015550123
    lambda n: "00" + n[1:],  # 0012015550123
    lambda n: n[:2] + " " + n[2:5] + "-" + n[5:],
    lambda n: "(" + n[2:5] + ") " + n[5:8] + "-" + n[8:] if n.startswith("+1") else n,
    lambda n: "0" + n[3:] if n.startswith("+44") else n,  # a national form with trunk 0
    lambda n: n.removeprefix("+1"),  # national digits, the default region
    lambda n: " " + n + " ",
]
NUMBERS = ["+1201555{:04d}", "+44207946{:04d}", "+4930123{:04d}", "+9198765{:05d}"]


def messy_dump(path: Path, seed: int, quotes: bool) -> MatchIndex:
    """A dump with the mess of real ones, and the index it is matched against (members,
    canaries with names, ids)."""
    rng = random.Random(seed)
    index = MatchIndex()
    people = []
    for i in range(600):
        phone = NUMBERS[i % len(NUMBERS)].format(i)
        email = f"p{i}@example.org"
        people.append((phone, email, f"id{i:06d}", f"Name{i}"))
        if i % 10 == 0:
            t = index.add("canary", f"c{i}", phones=[phone], emails=[email],
                          ids=[f"id{i:06d}"])
            index.canary_names[t] = f"name{i} last".encode()
        elif i % 2 == 0:
            index.add("person", f"p{i}", phones=[phone] if i % 4 else [],
                      emails=[email], ids=[f"id{i:06d}"] if i % 3 == 0 else [])
    lines = [b"id,phone,first_name,last_name,email,workplace"]
    for _ in range(4000):
        phone, email, pid, name = rng.choice(people)
        spelled = rng.choice(SPELLINGS)(phone) if rng.random() < 0.9 else ""
        row = [pid if rng.random() < 0.3 else str(rng.randrange(10**12)), spelled,
               name if rng.random() < 0.8 else "", "Last" if rng.random() < 0.5 else "",
               (email.upper() if rng.random() < 0.2 else email) if rng.random() < 0.5
               else "", "Works" if rng.random() < 0.3 else ""]
        line = ",".join(row).encode()
        kind = rng.random()
        if kind < 0.02:
            line += b",stray"
        elif kind < 0.03:
            line = b""
        elif kind < 0.05:
            line = line.replace(b"Works", b"Caf\xe9")  # Latin-1
        elif quotes and kind < 0.09:
            line = line.replace(b"Works", b'"Works, Inc.\nLondon"')
        elif quotes and kind < 0.092:
            line = line.replace(b"Last", b'"Last')  # never closed
        lines.append(line)
    ending = rng.choice([b"\n", b"\r\n"])
    data = ending.join(lines)
    path.write_bytes(data[: len(data) - rng.randrange(0, 20)])  # a truncated last line
    return index


def test_vectorised_and_reference_scans_agree_on_messy_dumps(tmp_path: Path) -> None:
    for seed in range(12):
        path = tmp_path / f"dump{seed}.csv"
        index = messy_dump(path, seed, quotes=seed % 3 != 0)
        results = []
        for vectorised in (True, False):
            for processes in (1, 3):
                scan = scan_file(str(path), index, ScanOptions(
                    processes=processes, split_above=1024, vectorised=vectorised))
                r = scan.result
                results.append((r.rows, r.failed, r.failures, r.matched, r.strong,
                                r.lines, r.quotes, r.repeat_matches))
        assert all(r == results[0] for r in results), seed
        rows, failed, _, matched, strong, _, _, _ = results[0]
        assert rows > 2500 and failed > 0 and len(matched) > 100 and strong


def test_scans_in_threads_of_one_process_do_not_mix(tmp_path: Path) -> None:
    """The operator route can be called twice at once: each scan must see its own index
    (the module's scan state is shared, so scans take turns)."""
    import threading

    paths, indexes = [], []
    for k in range(2):
        path = tmp_path / f"dump{k}.csv"
        rows = [f"{i},+1{201 + k}555{i:04d}" for i in range(9000)]
        path.write_text("id,phone\n" + "\n".join(rows) + "\n")
        index = MatchIndex()
        for i in range(0, 9000, 3 + k):  # each index holds other people of its own file
            index.add("person", f"p{k}-{i}", phones=[f"+1{201 + k}555{i:04d}"])
        paths.append(path)
        indexes.append(index)
    options = ScanOptions(processes=1, split_above=1 << 62)
    alone = [scan_file(str(p), i, options).result.matched for p, i in zip(paths, indexes,
                                                                             strict=True)]
    for _ in range(3):
        together: list = [None, None]

        def scan(k: int, together: list = together) -> None:
            together[k] = scan_file(str(paths[k]), indexes[k], options).result.matched

        threads = [threading.Thread(target=scan, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert together == alone
