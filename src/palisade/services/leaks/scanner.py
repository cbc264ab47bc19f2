"""The dump scanner: reads a leaked file (any size, bounded memory, several processes),
normalises the identifiers in it and matches them against the people held here, the canary
ledger and the ids this service has handed out.

What it keeps grows with the population, never with the file: for each matched person or
canary, which fields of theirs the dump holds (a bit mask), plus counts and the first
failures with their line numbers. The index it matches against maps identifiers in their
canonical form (E.164; lower-case email) to people: it is built in this process from the
encrypted identifiers (`services.leaks.index`) and lives only as long as the scan, because a
keyed hash per dump row would cost more than everything else the scan does."""

from __future__ import annotations

import gc
import hashlib
import mmap
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat

from palisade.adapters.leaks import dump_reader
from palisade.adapters.leaks.dump_reader import Chunk, Layout, ParseFailure
from palisade.domain.leaks.columns import (
    Columns,
    Role,
    from_header,
    from_values,
    with_overrides,
)
from palisade.domain.leaks.phones import PhoneReader

MAX_FAILURES_KEPT = 100
ROLE_BITS = {role: 1 << i for i, role in enumerate(Role)}


@dataclass
class MatchIndex:
    """Canonical identifier -> target number; `targets[n]` says what target n is: a person
    held here ("person", person id), a canary ("canary", canary id), an id this service
    handed out to an app ("scoped_id", app client id) or a person id ("person_id", id)."""

    phones: dict[bytes, int] = field(default_factory=dict)
    emails: dict[bytes, int] = field(default_factory=dict)
    ids: dict[bytes, int] = field(default_factory=dict)
    targets: list[tuple[str, str]] = field(default_factory=list)
    # a canary's name, lower-case: a row that has a canary's number *and* its name was shown
    # the canary (someone sweeping the range has the number, never the name)
    canary_names: dict[int, bytes] = field(default_factory=dict)

    def add(self, kind: str, key: str, phones: Sequence[str] = (),
            emails: Sequence[str] = (), ids: Sequence[str] = ()) -> int:
        n = len(self.targets)
        self.targets.append((kind, key))
        for p in phones:
            self.phones[p.lstrip("+").encode()] = n  # E.164 digits (PhoneReader's form)
        for e in emails:
            self.emails[e.lower().encode()] = n
        for i in ids:
            self.ids[i.encode()] = n
        return n


@dataclass
class ChunkResult:
    rows: int = 0
    failed: int = 0
    failures: list[ParseFailure] = field(default_factory=list)
    matched: dict[int, int] = field(default_factory=dict)  # target -> fields mask
    strong: set[int] = field(default_factory=set)  # canaries found by id, email or number+name
    # rows matching a target an earlier row of the same worker matched (a lower bound of the
    # file's repeats: each worker sees only its own)
    repeat_matches: int = 0
    lines: int = 0  # lines read (failures are numbered from the chunk's first line)
    quotes: int = 0  # quote characters read (see dump_reader.misplaced_cuts)

    def merge(self, other: ChunkResult, first_line: int = 0) -> None:
        """Add a later chunk's result; its failures' line numbers are shifted by
        `first_line` (the file's line number where that chunk starts, if it numbered from
        0)."""
        self.rows += other.rows
        self.failed += other.failed
        shifted = [ParseFailure(f.line + first_line, f.reason) for f in other.failures]
        self.failures = sorted(self.failures + shifted,
                               key=lambda f: f.line)[:MAX_FAILURES_KEPT]
        self.repeat_matches += other.repeat_matches
        self.strong |= other.strong
        self.lines += other.lines
        self.quotes += other.quotes


@dataclass(frozen=True)
class ScanOptions:
    default_region: str = "US"
    overrides: dict[Role, str] = field(default_factory=dict)
    header: bool | None = None  # None: detect
    processes: int = 0  # 0: one per core
    split_above: int = 2 * dump_reader.BLOCK  # files smaller than this are read by one process


@dataclass
class FileScan:
    path: str
    sha256: str
    size: int
    layout: Layout
    columns: Columns
    result: ChunkResult


# The index and settings of a scan, inherited by forked workers (never pickled: the index
# holds every identifier of the population), and the shared arrays the workers write the
# fields masks into: one array per worker slot, one 16-bit mask per target, in anonymous
# shared memory made before the fork. Results stay as small as the population, whatever
# the file's size, and nothing big crosses a pipe.
_SCAN: tuple[MatchIndex, PhoneReader, Layout, Columns] | None = None
_MASKS: list[memoryview] = []
_SLOT: list[int] = []  # this worker's slot (set by the pool's initializer)
MATCHED = 1 << 15  # set in every mask written, so a match is never zero


def _take_slot(counter) -> None:  # type: ignore[no-untyped-def]
    with counter.get_lock():
        _SLOT.append(counter.value)
        counter.value += 1


def _masks_for(slots: int, targets: int) -> list[memoryview]:
    return [memoryview(mmap.mmap(-1, max(2, 2 * targets))).cast("H") for _ in range(slots)]


def _scan_chunk(args: tuple[str, Chunk]) -> ChunkResult:
    """Scan one byte range of a file. This is the whole cost of a scan, so it works a batch
    of rows at a time with C-level loops (`map` over dict look-ups, `compress` for the
    masks) and drops to Python only for rows whose phone is not already in E.164 digits."""
    path, chunk = args
    assert _SCAN is not None
    index, phones, layout, columns = _SCAN
    masks = _MASKS[_SLOT[0] if _SLOT else 0]
    out = ChunkResult()
    failures = out.failures
    phone_col, email_col, id_col = (columns.of(Role.PHONE), columns.of(Role.EMAIL),
                                    columns.of(Role.ID))
    phone_get, email_get, id_get = index.phones.get, index.emails.get, index.ids.get
    candidates = phones.candidates
    # the bit of each column's role, position by position: a row's fields mask is the sum
    # of the bits of its non-empty cells
    column_bits = [0] * columns.width
    for role, i in columns.roles.items():
        column_bits[i] = ROLE_BITS[role]
    canary_names = index.canary_names
    name_cols = [columns.of(r) for r in (Role.NAME, Role.FIRST_NAME, Role.LAST_NAME)]
    use_ids = id_col is not None and bool(index.ids)
    rows = failed = repeats = 0
    seen: dict[str, int] = {}

    def respell(cells: list[bytes]) -> int | None:
        """A row whose phone may be written in another form than E.164 digits."""
        for candidate in candidates(cells[phone_col]):  # type: ignore[index]
            found = phone_get(candidate)
            if found is not None:
                return found
        return None

    others = phones.other_spellings
    # a batch is tens of thousands of small lists that die together: the cycle collector
    # would walk them again and again for nothing (nothing here makes a cycle)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for batch, bad in dump_reader.row_batches(path, layout, chunk, seen):
            if bad:
                failed += len(bad)
                failures.extend(bad[:MAX_FAILURES_KEPT - len(failures)])
            rows += len(batch)
            if phone_col is not None:
                written = [cells[phone_col] for cells in batch]
                hits = list(map(phone_get, written))  # most dumps write E.164 digits
                for i in [i for i, h in enumerate(hits)
                          if h is None and written[i] and others(written[i])]:
                    hits[i] = respell(batch[i])
            else:
                hits = [None] * len(batch)
            if email_col is not None:
                todo = [i for i, h in enumerate(hits) if h is None and batch[i][email_col]]
                for i, found in zip(todo, map(email_get, [batch[i][email_col].strip().lower()
                                                          for i in todo]), strict=True):
                    hits[i] = found
            pairs = [(h, cells) for h, cells in zip(hits, batch, strict=True)
                     if h is not None]
            if use_ids:  # an id is a fingerprint of its own (an app's scoped id names it)
                pairs += [(h, cells) for h, cells in zip(
                    map(id_get, [cells[id_col] for cells in batch]), batch, strict=True)
                    if h is not None]
            if not pairs:
                continue
            found_masks = map(sum, map(compress, repeat(column_bits),
                                       [cells for _, cells in pairs]))
            for (target, cells), mask in zip(pairs, found_masks, strict=True):
                previous = masks[target]
                if previous:
                    repeats += 1
                masks[target] = previous | mask | MATCHED
                if canary_names and target in canary_names:
                    _canary_evidence(cells, target, email_col, canary_names, name_cols,
                                     email_get, id_get, id_col, out.strong)
    finally:
        if collecting:
            gc.enable()
    out.rows, out.failed, out.repeat_matches = rows, failed, repeats
    out.lines, out.quotes = seen.get("lines", 0), seen.get("quotes", 0)
    return out


def _canary_evidence(cells: list[bytes], target: int, email_col: int | None,
                     canary_names: dict[int, bytes], name_cols: list[int | None],
                     email_get: Callable[..., int | None], id_get: Callable[..., int | None],
                     id_col: int | None, strong: set[int]) -> None:
    """Is this hit on a canary strong evidence? By its id or its email (both random): yes.
    By its number: only with its name beside it (a sweep has the number, never the name)."""
    if id_col is not None and id_get(cells[id_col]) == target:
        strong.add(target)
        return
    email = cells[email_col].strip().lower() if email_col is not None else b""
    if email and email_get(email) == target:
        strong.add(target)
        return
    full, first, last = (cells[i].strip().lower() if i is not None else b"" for i in name_cols)
    written = full or (first + b" " + last).strip()
    if written and written == canary_names[target]:
        strong.add(target)


def detect_columns(layout: Layout, overrides: dict[Role, str]) -> Columns:
    columns = (from_header(layout.header) if layout.header is not None
               else from_values(layout.first_rows))
    return with_overrides(columns, overrides) if overrides else columns


def _sha256(path: str, out: list[str]) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(dump_reader.BLOCK):
            h.update(block)  # releases the GIL: runs beside the workers
    out.append(h.hexdigest())


def _reread_misplaced(path: str, chunks: list[Chunk], parts: list[ChunkResult]
                      ) -> tuple[list[Chunk], list[ChunkResult]]:
    """A cut that fell inside a quoted field (a newline in a quoted cell exactly there) makes
    the two chunks around it wrong: read each such run of chunks again as one, here. Counts
    and failures are replaced; the masks already written stay (a mis-split row can only add
    a field bit to someone its cells really name, or nothing)."""
    bad = set(dump_reader.misplaced_cuts([p.quotes for p in parts]))
    if not bad:
        return chunks, parts
    out_chunks: list[Chunk] = []
    out_parts: list[ChunkResult] = []
    i = 0
    while i < len(chunks):
        j = i
        while j + 1 < len(chunks) and j + 1 in bad:
            j += 1
        if j == i:
            out_chunks.append(chunks[i])
            out_parts.append(parts[i])
        else:
            merged = Chunk(chunks[i].start, chunks[j].end, 0)
            out_chunks.append(merged)
            out_parts.append(_scan_chunk((path, merged)))
        i = j + 1
    return out_chunks, out_parts


def _collect(masks: list[memoryview]) -> dict[int, int]:
    """The workers' arrays, OR-ed: target -> fields mask, for every target matched."""
    merged = masks[0]
    if len(masks) > 1:
        merged = memoryview(bytearray(merged.nbytes)).cast("H")
        merged[:] = masks[0]
        for other in masks[1:]:
            for t in [t for t, m in enumerate(other) if m]:
                merged[t] |= other[t]
    return {t: m & ~MATCHED for t, m in enumerate(merged) if m}


def scan_file(path: str, index: MatchIndex, options: ScanOptions,
              progress: Callable[[int], None] | None = None) -> FileScan:
    """Scan one file with up to `options.processes` worker processes (forked, so they share
    the index without copying it). `progress` is told each chunk's byte count as it ends."""
    global _SCAN
    layout = dump_reader.sniff(path, options.header)
    columns = detect_columns(layout, options.overrides)
    if columns.of(Role.PHONE) is None and columns.of(Role.EMAIL) is None and \
            columns.of(Role.ID) is None:
        raise ValueError(f"{path}: no column of phone numbers, emails or ids was recognised "
                         f"(columns: {', '.join(columns.names)}); name them with "
                         "--phone-column, --email-column or --id-column")
    processes = options.processes or os.cpu_count() or 1
    chunks = dump_reader.plan_chunks(path, layout, processes * 8,  # a smooth progress bar
                                     options.split_above)
    digest: list[str] = []
    hasher = threading.Thread(target=_sha256, args=(path, digest))
    hasher.start()
    _SCAN = (index, PhoneReader(options.default_region), layout, columns)
    workers = min(processes, len(chunks))
    _MASKS[:] = _masks_for(max(1, workers if len(chunks) > 1 else 1), len(index.targets))
    _SLOT.clear()
    try:
        parts = [_scan_chunk((path, chunks[0]))] if len(chunks) == 1 else []
        if len(chunks) > 1:
            context = multiprocessing.get_context("fork")
            counter = context.Value("i", 0)
            with context.Pool(workers, initializer=_take_slot, initargs=(counter,)) as pool:
                for chunk, part in zip(chunks, pool.imap(_scan_chunk, [
                        (path, c) for c in chunks]), strict=True):
                    parts.append(part)
                    if progress:
                        progress(max(chunk.end - chunk.start, 0))
            chunks, parts = _reread_misplaced(path, chunks, parts)
        elif progress:
            progress(os.path.getsize(path))
        result = ChunkResult()
        line = 2 if layout.header is not None and layout.fmt == "csv" else 1
        for chunk, part in zip(chunks, parts, strict=True):
            result.merge(part, line if chunk.first_line == 0 else 0)  # 0: numbered from 0
            line += part.lines
        result.matched = _collect(_MASKS)
    finally:
        _SCAN = None
        _MASKS.clear()
        hasher.join()
    return FileScan(path, digest[0], os.path.getsize(path), layout, columns, result)
