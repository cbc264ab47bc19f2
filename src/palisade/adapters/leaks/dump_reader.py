"""Reading leaked dumps as they come: CSV, TSV, JSON lines or a JSON array, plain or gzip,
of any size, in bounded memory.

Rows are read as bytes: the columns that are matched (phones, emails, ids) are ASCII in
practice, so a line in Latin-1 among UTF-8 ones reads the same, and nothing is decoded that
is not needed. A CSV line without a quote is split directly (most of a dump); a line with
quotes goes through the `csv` module, joined with the following lines while a quoted field
is open (a newline inside quotes). A malformed row (a field too many, a truncated last line,
a quote never closed, JSON that does not parse) becomes a `ParseFailure` with its line
number and reason; it never stops the scan.

A plain (not compressed) CSV, TSV or JSON-lines file can be split into byte ranges that start
at row boundaries, so several processes read one file: `plan_chunks` counts newlines and
quotes in one pass at memory speed and cuts only where no quoted field is open (the count of
quote characters before the cut is even, which RFC 4180's doubled quotes preserve)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

BLOCK = 8 << 20
BATCH_BYTES = 1 << 20  # rows are split a megabyte at a time: the batch stays in cache
SNIFF_BYTES = 256 << 10
MAX_RECORD_LINES = 100  # a quoted field open longer than this is a broken row, not data
# the failure of such a row: where the next row starts depends on where reading started, so a
# scanner that split the file reads what follows again in one piece
BROKEN_QUOTE = f"a quoted field is not closed within {MAX_RECORD_LINES} lines"
MAX_OPEN_QUOTE_BYTES = 64 << 20  # nor is one that stays open for this many bytes


@dataclass(frozen=True)
class Layout:
    fmt: str  # "csv" | "json" | "jsonl"
    delimiter: bytes  # for csv: b",", b"\t", b";" or b"|"
    compressed: bool
    header: list[str] | None  # column names when the file has a header (or JSON keys)
    first_rows: list[list[str]]  # a sample, for column detection


@dataclass(frozen=True)
class ParseFailure:
    line: int
    reason: str


@dataclass(frozen=True)
class Chunk:
    start: int  # byte offset of the chunk's first row
    end: int  # byte offset just past its last row
    first_line: int  # 1-based line number at `start`


class _Gunzip(io.RawIOBase):
    """gzip decompression that ends where the file is cut short or corrupt, instead of
    raising: a dump that was truncated in transit is still read up to the damage, and
    `error` says why it ended (the readers report it as a failure on the next line)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self._gz = gzip.GzipFile(fileobj=raw)
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        if self.error is not None:
            return 0
        try:
            data = self._gz.read1(len(buffer))  # one step: what came before is kept
        except EOFError:
            self.error = "cut short"
            return 0
        except (OSError, zlib.error):  # BadGzipFile is an OSError
            self.error = "corrupt"
            return 0
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gz.close()
        self._raw.close()
        super().close()


def _open(path: str, compressed: bool) -> io.BufferedReader:
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    return io.BufferedReader(_Gunzip(raw), BATCH_BYTES) if compressed else raw


def _damage(f: io.BufferedReader) -> str | None:
    """Why a compressed file's stream ended early, if it did."""
    raw = getattr(f, "raw", None)
    return raw.error if isinstance(raw, _Gunzip) else None


def is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _text(cell: bytes) -> str:
    try:
        return cell.decode("utf-8")
    except UnicodeDecodeError:
        return cell.decode("latin-1")


def _csv_rows(sample: bytes, delimiter: bytes, limit: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample.decode("latin-1")), delimiter=delimiter.decode())
    rows = []
    try:
        for row in reader:
            rows.append([_text(c.encode("latin-1")) for c in row])
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def sniff(path: str, header: bool | None = None) -> Layout:
    """The format, the delimiter, the header and a sample of rows. `header` forces whether
    the first row is a header (None: decided from the first row)."""
    from palisade.domain.leaks.columns import looks_like_header

    compressed = is_gzip(path)
    with _open(path, compressed) as f:
        sample = f.read(SNIFF_BYTES)
        if not sample and (damage := _damage(f)):
            raise ValueError(f"{path}: not a readable gzip file ({damage})")
    sample = sample.removeprefix(b"\xef\xbb\xbf")
    if sample.rstrip().rfind(b"\n") > 0:  # drop a row cut off by the sample's end
        sample = sample[: sample.rfind(b"\n") + 1]
    head = sample.lstrip()[:1]
    if head in (b"[", b"{"):
        fmt = "json" if head == b"[" else "jsonl"
        objects = _json_sample(sample, fmt)
        keys: list[str] = []
        for obj in objects:
            keys.extend(k for k in obj if k not in keys)
        rows = [[_cell(obj.get(k)).decode("utf-8", "replace") for k in keys]
                for obj in objects]
        return Layout(fmt, b",", compressed, keys, rows)
    lines = sample.split(b"\n")[:50]
    counts = {d: min(line.count(d) for line in lines if line.strip()) if any(
        line.strip() for line in lines) else 0 for d in (b"\t", b",", b";", b"|")}
    delimiter = max(counts, key=lambda d: (counts[d], d == b","))
    rows = _csv_rows(sample, delimiter, 1000)
    has_header = looks_like_header(rows[0]) if header is None and rows else bool(header)
    if has_header and rows:
        return Layout("csv", delimiter, compressed, [c.strip() for c in rows[0]], rows[1:])
    return Layout("csv", delimiter, compressed, None, rows)


def _json_sample(sample: bytes, fmt: str) -> list[dict]:
    text = sample.decode("utf-8", "replace")
    out: list[dict] = []
    if fmt == "jsonl":
        for line in text.splitlines()[:1000]:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out
    decoder = json.JSONDecoder()
    pos = text.find("[") + 1
    while len(out) < 1000:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _cell(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode() if isinstance(value, dict | list) else str(
        value).encode()


def plan_chunks(path: str, layout: Layout, parts: int, min_bytes: int = 2 * BLOCK
                ) -> list[Chunk]:
    """Split a plain CSV or JSON-lines file into about `parts` byte ranges, each starting
    just after a newline (found by seeking: no pass over the file). A cut can fall inside a
    quoted field that holds a newline; the reader of each range counts the quotes it saw,
    and `misplaced_cuts` finds the cuts where the count before them is odd, so that those
    ranges are read again together. First line numbers are 0 (unknown): readers number
    lines from 1 within their range and the caller adds the lines of the ranges before."""
    if layout.compressed:
        return [Chunk(0, -1, 1)]  # read whole, as one stream
    size = os.path.getsize(path)
    start = _after_header(path) if layout.header is not None and layout.fmt == "csv" else 0
    if layout.fmt == "json" or parts <= 1 or size - start < min_bytes:
        return [Chunk(start, size, 2 if start else 1)]
    cuts = [start]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(start + (size - start) * i // parts)
            f.readline()  # to the end of the row the offset falls in
            at = f.tell()
            if cuts[-1] < at < size:
                cuts.append(at)
    cuts.append(size)
    return [Chunk(a, b, 0) for a, b in pairwise(cuts)]


def misplaced_cuts(quotes: list[int]) -> list[int]:
    """Indexes i such that the cut before chunk i lies inside a quoted field: the quote
    characters of the chunks before it add up to an odd number (RFC 4180's doubled quotes
    keep an even count outside fields)."""
    out, total = [], 0
    for i, q in enumerate(quotes):
        if i and total % 2:
            out.append(i)
        total += q
    return out


def _after_header(path: str) -> int:
    with open(path, "rb") as f:
        first = f.readline()
        while first.count(b'"') % 2:  # a header with a quoted newline
            more = f.readline()
            if not more:
                break
            first += more
        return f.tell()


def rows(path: str, layout: Layout, chunk: Chunk | None = None,
         seen: dict[str, int] | None = None
         ) -> Iterator[tuple[int, list[bytes]] | ParseFailure]:
    """(line number, cells) for each row, or a ParseFailure; a chunk reads only its range.
    `seen["lines"]` ends as the number of lines read."""
    if layout.fmt == "json":
        yield from _json_array_rows(path, layout)
        return
    with _open(path, layout.compressed) as f:
        if chunk is None or layout.compressed:  # a compressed file is read whole
            chunk = Chunk(0, -1, 1)
            if layout.header is not None and layout.fmt == "csv":
                _skip_record(f)
                chunk = Chunk(0, -1, 2)
        elif chunk.start:
            f.seek(chunk.start)
        lines = _Lines(f, chunk)
        yield from (_jsonl_rows if layout.fmt == "jsonl" else _csv_file_rows)(lines, layout)
        if damage := _damage(f):
            yield ParseFailure(lines.lineno + 1, f"the compressed file is {damage} here")
        if seen is not None:
            seen["lines"] = lines.read


def row_batches(path: str, layout: Layout, chunk: Chunk | None = None,
                seen: dict[str, int] | None = None
                ) -> Iterator[tuple[list[list[bytes]], list[ParseFailure]]]:
    """The same rows as `rows`, without line numbers, in batches: a CSV block with no quote
    at all (most of a dump) is split in one go, the rest row by row. For the scanner, where
    the per-row cost of a generator would be a third of the total. `seen` receives the
    number of lines and of quote characters read (see `misplaced_cuts`)."""

    def split(body: bytes, lineno: int, width: int | None):  # type: ignore[no-untyped-def]
        good, bad, width = split_block(body, layout, width, lineno)
        return [(good, bad)], width

    return batches(path, layout, chunk, seen, split)


def batches(path: str, layout: Layout, chunk: Chunk | None, seen: dict[str, int] | None,
            split: Callable[[bytes, int, int | None], tuple[list, int | None]]
            ) -> Iterator[object]:
    """What `split(block, first line, width) -> (items, width)` makes of each block of a
    plain CSV file, in order; the rows of any other file (JSON, JSON lines, compressed) in
    batches of lists of cells."""
    seen = seen if seen is not None else {}
    if layout.fmt != "csv" or layout.compressed:
        yield from record_batches(path, layout, chunk, seen)
        return
    width = len(layout.header) if layout.header is not None else None
    for body, lineno in csv_blocks(path, layout, chunk, seen):
        items, width = split(body, lineno, width)
        yield from items


def record_batches(path: str, layout: Layout, chunk: Chunk | None, seen: dict[str, int]
                   ) -> Iterator[tuple[list[list[bytes]], list[ParseFailure]]]:
    """Rows of a file that is not read in blocks (JSON, JSON lines, anything compressed),
    ten thousand at a time."""
    seen["lines"] = seen["quotes"] = 0
    batch: list[list[bytes]] = []
    failures: list[ParseFailure] = []
    for item in rows(path, layout, chunk, seen):
        if type(item) is ParseFailure:
            failures.append(item)
        else:
            batch.append(item[1])  # type: ignore[index]
        if len(batch) >= 10_000:
            yield batch, failures
            batch, failures = [], []
    yield batch, failures


def csv_blocks(path: str, layout: Layout, chunk: Chunk | None, seen: dict[str, int]
               ) -> Iterator[tuple[bytes, int]]:
    """(block, line number of its first line): whole records of a plain CSV file's range,
    about a megabyte at a time, never cut inside a quoted field (unless one stays open for
    MAX_OPEN_QUOTE_BYTES). Only the range's last block may lack a final newline. `seen`
    receives the number of lines and of quote characters read."""
    seen["lines"] = seen["quotes"] = 0
    if chunk is None:
        start = _after_header(path) if layout.header is not None else 0
        chunk = Chunk(start, os.path.getsize(path), 2 if start else 1)
    with open(path, "rb") as f:
        f.seek(chunk.start)
        remaining = chunk.end - chunk.start
        carry = b""
        lineno = chunk.first_line  # the line number of the first line in `carry + block`
        while remaining > 0 or carry:
            block = f.read(min(BATCH_BYTES, remaining)) if remaining > 0 else b""
            remaining -= len(block)
            data = carry + block
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if remaining > 0 else len(data)
            if cut == 0:  # one line longer than a block: read on
                carry = data
                continue
            body, carry = data[:cut], data[cut:]
            quotes = body.count(b'"')
            if remaining > 0 and quotes % 2 and len(data) < MAX_OPEN_QUOTE_BYTES:
                carry = data  # a quoted field is open across the cut: read on first
                continue
            seen["quotes"] += quotes
            yield body, lineno
            lineno += body.count(b"\n")
            seen["lines"] = lineno - chunk.first_line


def failure_reason(fields: int, width: int, last: bool) -> str:
    """Why a row of `fields` fields is not a row (`last`: the file's last line, without a
    newline)."""
    if last and fields < width:
        return f"the last row is cut short ({fields} of {width} fields)"
    return f"{fields} fields where the header has {width}"


def split_block(body: bytes, layout: Layout, width: int | None, lineno: int
                ) -> tuple[list[list[bytes]], list[ParseFailure], int | None]:
    """The rows and failures of one block from `csv_blocks`, and the width (from the
    first row, if it was not known)."""
    delimiter = layout.delimiter
    if b'"' in body:
        # the careful path for this block, through the line reader
        sub = _Lines(io.BytesIO(body), Chunk(0, -1, lineno))  # type: ignore[arg-type]
        items = list(_csv_file_rows(sub, layout, width))
        good = [item[1] for item in items if type(item) is not ParseFailure]
        bad = [item for item in items if type(item) is ParseFailure]
        if width is None and good:
            width = len(good[0])
        return good, bad, width  # type: ignore[return-value]
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    split = [line.split(delimiter) for line in lines]
    if width is None and split:
        width = len(split[0])
    good = [cells for cells in split if len(cells) == width]
    bad = []
    if len(good) != len(split):
        for offset, cells in enumerate(split):
            if len(cells) != width and (len(cells) > 1 or cells[0].strip()):
                last = offset == len(split) - 1 and not body.endswith(b"\n")
                bad.append(ParseFailure(lineno + offset, failure_reason(
                    len(cells), width, last)))  # type: ignore[arg-type]
    return good, bad, width


def _skip_record(f: io.BufferedReader) -> None:
    line = f.readline()
    while line.count(b'"') % 2:
        more = f.readline()
        if not more:
            return
        line += more


class _Lines:
    """The lines of a byte range, numbered; a record may take more lines (`more`), and the
    continuation still counts against the range (it may run past its end: a record that
    starts in the range is read whole)."""

    def __init__(self, f: io.BufferedReader, chunk: Chunk) -> None:
        self.f = f
        self.first = chunk.first_line
        self.lineno = chunk.first_line - 1
        self.remaining = chunk.end - chunk.start if chunk.end >= 0 else -1

    @property
    def read(self) -> int:
        """How many lines were read so far, blank ones included."""
        return self.lineno - self.first + 1

    def __iter__(self) -> Iterator[bytes]:
        for line in self.f:
            if self.remaining == 0 or self.remaining < -1:
                return
            self._count(line)
            yield line

    def more(self) -> bytes:
        line = self.f.readline()
        if line:
            self._count(line)
        return line

    def _count(self, line: bytes) -> None:
        self.lineno += 1
        if self.remaining >= 0:
            self.remaining = max(self.remaining - len(line), 0) if self.remaining > 0 else -2


def _csv_file_rows(lines: _Lines, layout: Layout, width: int | None = None
                   ) -> Iterator[tuple[int, list[bytes]] | ParseFailure]:
    delimiter = layout.delimiter
    text_delimiter = delimiter.decode()
    if layout.header is not None:
        width = len(layout.header)
    for line in lines:
        first = lines.lineno
        complete = line.endswith(b"\n")
        if b'"' in line:
            extra = 0
            while line.count(b'"') % 2 and extra < MAX_RECORD_LINES:
                more = lines.more()
                if not more:
                    break
                extra += 1
                line += more
                complete = line.endswith(b"\n")
            if line.count(b'"') % 2:
                yield ParseFailure(first, BROKEN_QUOTE if extra == MAX_RECORD_LINES
                                   else "a quoted field is never closed")
                continue
            try:
                parsed = next(csv.reader([line.decode("latin-1")], delimiter=text_delimiter))
            except (csv.Error, StopIteration):
                yield ParseFailure(first, "the quoting is malformed")
                continue
            cells = [c.encode("latin-1") for c in parsed]
        else:
            # a line ends at "\n", with a "\r" just before it (as `split_block` reads it)
            cells = line[:-2 if line.endswith(b"\r\n") else -1 if complete else None
                         ].split(delimiter)
        if width is None:
            width = len(cells)
        if len(cells) != width:
            if len(cells) == 1 and not cells[0].strip():
                continue  # a blank line
            yield ParseFailure(first, failure_reason(len(cells), width, not complete))
            continue
        yield first, cells


def _jsonl_rows(lines: _Lines, layout: Layout
                ) -> Iterator[tuple[int, list[bytes]] | ParseFailure]:
    keys = layout.header or []
    for line in lines:
        lineno = lines.lineno
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            try:
                obj = json.loads(line.decode("latin-1"))
            except ValueError:
                yield ParseFailure(lineno, "not a JSON object" if line.endswith(b"\n")
                                   else "the last row is cut short")
                continue
        if not isinstance(obj, dict):
            yield ParseFailure(lineno, "not a JSON object")
            continue
        yield lineno, [_cell(obj.get(k)) for k in keys]


def _json_array_rows(path: str, layout: Layout
                     ) -> Iterator[tuple[int, list[bytes]] | ParseFailure]:
    """Objects of a JSON array, decoded one at a time from a sliding buffer (memory bounded
    by the largest object, not the file)."""
    keys = layout.header or []
    decoder = json.JSONDecoder()
    with _open(path, layout.compressed) as f:
        stream = io.TextIOWrapper(f, encoding="utf-8", errors="replace")
        buffer, pos, lineno, started = "", 0, 1, False
        while True:
            if len(buffer) - pos < (1 << 16):
                more = stream.read(1 << 20)
                buffer = buffer[pos:] + more
                pos = 0
                at_end = not more
            else:
                at_end = False
            while pos < len(buffer) and buffer[pos] in " \t\r\n,[":
                if buffer[pos] == "\n":
                    lineno += 1
                if buffer[pos] == "[":
                    started = True
                pos += 1
            if pos >= len(buffer):
                if at_end:
                    return
                continue
            if buffer[pos] == "]" or not started:
                return
            try:
                obj, end = decoder.raw_decode(buffer, pos)
            except ValueError:
                if not at_end and len(buffer) - pos < (64 << 20):
                    more = stream.read(1 << 20)
                    if more:
                        buffer = buffer[pos:] + more
                        pos = 0
                        continue
                yield ParseFailure(lineno, "the JSON array is malformed or cut short here")
                return
            lineno += buffer.count("\n", pos, end)
            pos = end
            if isinstance(obj, dict):
                yield lineno, [_cell(obj.get(k)) for k in keys]
            else:
                yield ParseFailure(lineno, "an array item that is not an object")
