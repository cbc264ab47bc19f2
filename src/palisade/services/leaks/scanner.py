"""The dump scanner: reads a leaked file (any size, bounded memory, several processes),
normalises the identifiers in it and matches them against the people held here, the canary
ledger and the ids this service has handed out.

What it keeps grows with the population, never with the file: for each matched person or
canary, which fields of theirs the dump holds (a bit mask), plus counts and the first
failures with their line numbers. The index it matches against maps identifiers in their
canonical form (E.164; lower-case email) to people: it is built in this process from the
encrypted identifiers (`services.leaks.index`) and lives only as long as the scan, because a
keyed hash per dump row would cost more than everything else the scan does.

Two paths read rows, with the same result (tests/test_leak_scanner_vectorised.py checks it):
the quote-free runs of a CSV file (nearly all of a dump) a block at a time in numpy, phones
as integers found in a vectorised hash table (`PhoneKeys`); everything else (quoted records,
JSON, compressed files) as lists of cells with dict look-ups. After a parallel scan, cuts that
fell inside a quoted field, or after a broken quote, are read again (`_final_plan`) so that
the result never depends on the number of processes."""

from __future__ import annotations

import gc
import hashlib
import mmap
import multiprocessing
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import NamedTuple

import numpy as np

from palisade.adapters.leaks import columnar, dump_reader
from palisade.adapters.leaks.columnar import PlainBlock
from palisade.adapters.leaks.dump_reader import BROKEN_QUOTE, Chunk, Layout, ParseFailure
from palisade.domain.leaks.columns import (
    Columns,
    Role,
    from_header,
    from_values,
    with_overrides,
)
from palisade.domain.leaks.phones import MAX_PLAIN_DIGITS, PhoneReader, digits_value

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
    # what the vectorised scan derives from the identifiers, made once (again after an `add`)
    _derived: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def phone_keys(self) -> PhoneKeys:
        """The phones as a vectorised hash table (`PhoneKeys`)."""
        if "phone_keys" not in self._derived:
            self._derived["phone_keys"] = PhoneKeys.of(self.phones)
        return self._derived["phone_keys"]  # type: ignore[return-value]

    def id_lengths(self) -> np.ndarray:
        """The lengths the ids have: a dump id of another length names nobody."""
        if "id_lengths" not in self._derived:
            self._derived["id_lengths"] = np.array(sorted({len(k) for k in self.ids}),
                                                   dtype=np.int64)
        return self._derived["id_lengths"]  # type: ignore[return-value]

    def add(self, kind: str, key: str, phones: Sequence[str] = (),
            emails: Sequence[str] = (), ids: Sequence[str] = ()) -> int:
        n = len(self.targets)
        self._derived.clear()
        self.targets.append((kind, key))
        for p in phones:
            self.phones[p.lstrip("+").encode()] = n  # E.164 digits (PhoneReader's form)
        for e in emails:
            self.emails[e.lower().encode()] = n
        for i in ids:
            self.ids[i.encode()] = n
        return n


class PhoneKeys(NamedTuple):
    """The index's phones that are bare digits (every E.164 number), as integers in an
    open-addressing hash table held in two numpy arrays, so that a block of phones is found
    with a few vectorised gathers. Written here because neither Python's dict nor numpy has
    a look-up of many keys at once: at a million people a dict look-up misses the CPU caches
    every time, in a chain of dependent loads, one row after another, where a gather
    overlaps the misses of thousands of rows (about 8x faster here; `searchsorted` on a
    sorted array is in between)."""

    keys: np.ndarray  # int64; EMPTY where no key
    targets: np.ndarray  # int64; the target of keys[i]
    probes: int  # the longest probe sequence of any key: a look-up never needs more

    EMPTY = -1  # keys are positive: digits with no leading zero

    @classmethod
    def of(cls, phones: dict[bytes, int]) -> PhoneKeys:
        # the integer of a string of digits with no leading zero names that string alone
        pairs = [(int(k), t) for k, t in phones.items()
                 if k.isdigit() and k[:1] != b"0" and len(k) <= MAX_PLAIN_DIGITS]
        keys = np.array([k for k, _ in pairs], dtype=np.int64)
        targets = np.array([t for _, t in pairs], dtype=np.int64)
        bits = max(4, int(2 * len(keys) - 1).bit_length())  # at most half full
        table = np.full(1 << bits, cls.EMPTY, dtype=np.int64)
        table_targets = np.full(1 << bits, -1, dtype=np.int64)
        slots = _slots(keys, bits)
        pending = np.arange(len(keys))
        probes = 0
        while len(pending):  # linear probing, a round for all pending keys at once
            probes += 1
            at = slots[pending]
            free = table[at] == cls.EMPTY
            # of the keys that want one free slot, the first takes it
            wanted, first = np.unique(at[free], return_index=True)
            placed = pending[free][first]
            table[wanted], table_targets[wanted] = keys[placed], targets[placed]
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            slots[pending] = (slots[pending] + 1) & ((1 << bits) - 1)
        return cls(table, table_targets, probes)

    def find(self, values: np.ndarray) -> np.ndarray:
        """The target of each value, or -1."""
        bits = len(self.keys).bit_length() - 1
        slots = _slots(values, bits)
        found = np.full(len(values), -1, dtype=np.int64)
        active = np.arange(len(values))
        for _ in range(self.probes):
            at = slots[active]
            seen = self.keys[at]
            hit = seen == values[active]
            found[active[hit]] = self.targets[at[hit]]
            active = active[~hit & (seen != self.EMPTY)]
            if not len(active):
                break
            slots[active] = (slots[active] + 1) & (len(self.keys) - 1)
        return found


def _slots(values: np.ndarray, bits: int) -> np.ndarray:
    """Fibonacci hashing: the top `bits` bits of value x 2^64/phi."""
    mixed = values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


@dataclass
class ChunkResult:
    rows: int = 0
    failed: int = 0
    failures: list[ParseFailure] = field(default_factory=list)
    matched: dict[int, int] = field(default_factory=dict)  # target -> fields mask
    strong: set[int] = field(default_factory=set)  # canaries found by id, email or number+name
    repeat_matches: int = 0  # rows matching a target an earlier row matched (whole file only)
    lines: int = 0  # lines read (failures are numbered from the chunk's first line)
    quotes: int = 0  # quote characters read (see dump_reader.misplaced_cuts)
    broken_quote: bool = False  # a row failed with dump_reader.BROKEN_QUOTE

    def merge(self, other: ChunkResult, first_line: int = 0) -> None:
        """Add a later chunk's result; its failures' line numbers are shifted by
        `first_line` (the file's line number where that chunk starts, if it numbered from
        0)."""
        self.rows += other.rows
        self.failed += other.failed
        shifted = [ParseFailure(f.line + first_line, f.reason) for f in other.failures]
        self.failures = sorted(self.failures + shifted,
                               key=lambda f: f.line)[:MAX_FAILURES_KEPT]
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
    vectorised: bool = True  # False: every row as a list of cells (the reference path)


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
# fields masks and row counts into: one pair of arrays per worker slot, a 16-bit mask and a
# 32-bit count per target, in anonymous shared memory made before the fork (a target was
# matched when its count is not zero). Results stay as small as the population, whatever
# the file's size, and nothing big crosses a pipe. One scan at a time in a process
# (`_SCANNING`): the server's operator route may be called twice at once.
_SCAN: tuple[MatchIndex, PhoneReader, Layout, Columns, PhoneKeys, bool] | None = None
_MASKS: list[memoryview] = []
_COUNTS: list[memoryview] = []
_SLOT: list[int] = []  # this worker's slot (set by the pool's initializer)
_SCANNING = threading.Lock()


def _take_slot(counter) -> None:  # type: ignore[no-untyped-def]
    with counter.get_lock():
        _SLOT.append(counter.value)
        counter.value += 1


def _shared(slots: int, targets: int, code: str) -> list[memoryview]:
    size = struct.calcsize(code)
    return [memoryview(mmap.mmap(-1, max(size, size * targets))).cast(code)
            for _ in range(slots)]


class _Worker:
    """What one worker needs to scan rows, taken once from the forked scan state."""

    def __init__(self, index: MatchIndex, phones: PhoneReader, layout: Layout,
                 columns: Columns, keys: PhoneKeys, masks: memoryview,
                 counts: memoryview) -> None:
        self.index, self.phones, self.layout, self.columns = index, phones, layout, columns
        self.keys = keys
        self.masks = masks
        self.array = np.frombuffer(masks, dtype=np.uint16)  # the same memory, for numpy
        self.counts = counts
        self.count_array = np.frombuffer(counts, dtype=np.uint32)
        self.phone_col, self.email_col, self.id_col = (
            columns.of(Role.PHONE), columns.of(Role.EMAIL), columns.of(Role.ID))
        # the bit of each column's role, position by position: a row's fields mask is the
        # sum of the bits of its non-empty cells
        self.column_bits = [0] * columns.width
        for role, i in columns.roles.items():
            self.column_bits[i] = ROLE_BITS[role]
        self.bits = np.array(self.column_bits, dtype=np.int64)
        self.name_cols = [columns.of(r) for r in (Role.NAME, Role.FIRST_NAME, Role.LAST_NAME)]
        self.use_ids = self.id_col is not None and bool(index.ids)
        self.id_lengths = index.id_lengths()
        self.canaries = np.array(sorted(index.canary_names), dtype=np.int64)
        self.strong: set[int] = set()

    # -- rows as lists of cells (quoted blocks, JSON, compressed files) ------------------------

    def respell(self, written: bytes) -> int | None:
        """A phone that may be written in another form than E.164 digits."""
        get = self.index.phones.get
        for candidate in self.phones.candidates(written):
            found = get(candidate)
            if found is not None:
                return found
        return None

    def scan_cells(self, batch: list[list[bytes]]) -> None:
        """Look up a batch of rows with C-level loops (`map` over dict look-ups, `compress`
        for the masks), dropping to Python only for phones not already in E.164 digits."""
        index, phone_col, email_col, id_col = (self.index, self.phone_col, self.email_col,
                                               self.id_col)
        if phone_col is not None:
            written = [cells[phone_col] for cells in batch]
            hits = list(map(index.phones.get, written))  # most dumps write E.164 digits
            others = self.phones.other_spellings
            for i in [i for i, h in enumerate(hits)
                      if h is None and written[i] and others(written[i])]:
                hits[i] = self.respell(written[i])
        else:
            hits = [None] * len(batch)
        if email_col is not None:
            todo = [i for i, h in enumerate(hits) if h is None and batch[i][email_col]]
            for i, found in zip(todo, map(index.emails.get, [
                    batch[i][email_col].strip().lower() for i in todo]), strict=True):
                hits[i] = found
        pairs = [(h, cells) for h, cells in zip(hits, batch, strict=True) if h is not None]
        if self.use_ids:  # an id is a fingerprint of its own (an app's scoped id names it)
            pairs += [(h, cells) for h, cells in zip(
                map(index.ids.get, [cells[id_col] for cells in batch]), batch, strict=True)
                if h is not None]
        if not pairs:
            return
        masks, counts = self.masks, self.counts
        found_masks = map(sum, map(compress, repeat(self.column_bits),
                                   [cells for _, cells in pairs]))
        for (target, cells), mask in zip(pairs, found_masks, strict=True):
            masks[target] |= mask
            counts[target] += 1
            if target in index.canary_names:
                self.evidence(cells, target)

    # -- quote-free CSV blocks, a block at a time in numpy -------------------------------------

    def scan_plain(self, block: PlainBlock) -> None:
        """The same look-ups as `scan_cells`, for a block split by `columnar.split_plain`:
        phones written as bare digits (nearly all of a dump) are read as integers and found
        in the `PhoneKeys` table a block at a time; every other phone, the emails of
        rows not found by phone, ids of a length the index holds and canary rows go
        through the same Python code as `scan_cells`."""
        index, data = self.index, block.data
        rows = block.rows
        if not rows:
            return
        hits = np.full(rows, -1, dtype=np.int64)
        if self.phone_col is not None:
            starts = block.starts[:, self.phone_col]
            ends = block.ends[:, self.phone_col]
            values, plain = digits_value(block.array, starts, ends)
            hits = self.keys.find(np.where(plain, values, 0))  # no key is 0
            lengths = ends - starts
            # a phone the vectorised path could not read, or bare digits that could mean
            # another number (PhoneReader.other_spellings): the careful path
            careful = (lengths > 0) & ~plain
            careful |= plain & (hits < 0) & self.phones.other_spellings_of_digits(
                block.array, starts, lengths)
            get, others = index.phones.get, self.phones.other_spellings
            for r, a, b in zip(*(x.tolist() for x in (
                    np.flatnonzero(careful), starts[careful], ends[careful])), strict=True):
                written = data[a:b]
                found = get(written)
                if found is None and others(written):
                    found = self.respell(written)
                if found is not None:
                    hits[r] = found
        if self.email_col is not None:
            starts = block.starts[:, self.email_col]
            ends = block.ends[:, self.email_col]
            todo = (hits < 0) & (ends > starts)
            get = index.emails.get
            for r, a, b in zip(*(x.tolist() for x in (
                    np.flatnonzero(todo), starts[todo], ends[todo])), strict=True):
                found = get(data[a:b].strip().lower())
                if found is not None:
                    hits[r] = found
        matched = np.flatnonzero(hits >= 0)
        targets = hits[matched]
        if self.use_ids:
            starts = block.starts[:, self.id_col]
            ends = block.ends[:, self.id_col]
            todo = np.isin(ends - starts, self.id_lengths)  # ids of another length: no one
            get = index.ids.get
            more = [(r, t) for r, t in ((r, get(data[a:b])) for r, a, b in zip(*(
                x.tolist() for x in (np.flatnonzero(todo), starts[todo], ends[todo])),
                strict=True)) if t is not None]
            if more:
                matched = np.concatenate([matched, np.array([r for r, _ in more])])
                targets = np.concatenate([targets, np.array([t for _, t in more])])
        if not len(matched):
            return
        filled = block.ends[matched] > block.starts[matched]
        row_masks = filled @ self.bits
        np.bitwise_or.at(self.array, targets, row_masks.astype(np.uint16))
        np.add.at(self.count_array, targets, 1)
        if len(self.canaries):
            for i in np.flatnonzero(np.isin(targets, self.canaries)).tolist():
                self.evidence(block.cells(int(matched[i]), self.layout.delimiter),
                              int(targets[i]))

    def evidence(self, cells: list[bytes], target: int) -> None:
        _canary_evidence(cells, target, self.email_col, self.index.canary_names,
                         self.name_cols, self.index.emails.get, self.index.ids.get,
                         self.id_col, self.strong)


def _scan_chunk(args: tuple[str, Chunk]) -> ChunkResult:
    """Scan one byte range of a file. This is the whole cost of a scan: rows are worked a
    block at a time, in numpy where the block has no quotes (see `_Worker.scan_plain`)."""
    path, chunk = args
    assert _SCAN is not None
    index, phones, layout, columns, keys, vectorised = _SCAN
    slot = _SLOT[0] if _SLOT else 0
    worker = _Worker(index, phones, layout, columns, keys, _MASKS[slot], _COUNTS[slot])
    out = ChunkResult()
    failures = out.failures
    rows = failed = 0
    seen: dict[str, int] = {}
    reader = columnar.blocks if vectorised else dump_reader.row_batches
    # a batch is tens of thousands of small objects that die together: the cycle collector
    # would walk them again and again for nothing (nothing here makes a cycle)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for item in reader(path, layout, chunk, seen):
            if type(item) is PlainBlock:
                bad = item.failures
                rows += item.rows
                worker.scan_plain(item)
            else:
                batch, bad = item  # type: ignore[misc]
                rows += len(batch)
                worker.scan_cells(batch)
            if bad:
                failed += len(bad)
                failures.extend(bad[:MAX_FAILURES_KEPT - len(failures)])
                out.broken_quote = out.broken_quote or any(
                    f.reason == BROKEN_QUOTE for f in bad)
    finally:
        if collecting:
            gc.enable()
    out.rows, out.failed = rows, failed
    out.strong = worker.strong
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


def _final_plan(chunks: list[Chunk], parts: list[ChunkResult]) -> list[Chunk]:
    """The chunks to read so that the result is the one a single reader gets. A cut that
    fell inside a quoted field (a newline in a quoted cell exactly there) makes the chunks
    around it wrong: each such run of chunks is read again as one. After a row whose quote
    is never closed, where rows start depends on where reading started: everything from
    that chunk on is read as one."""
    bad = set(dump_reader.misplaced_cuts([p.quotes for p in parts]))
    broken = next((i for i, p in enumerate(parts) if p.broken_quote), None)
    if broken is not None:
        bad |= set(range(broken + 1, len(chunks)))
    plan: list[Chunk] = []
    for i, chunk in enumerate(chunks):
        if i in bad:
            plan[-1] = Chunk(plan[-1].start, chunk.end, 0)
        else:
            plan.append(chunk)
    return plan


def _collect(masks: list[memoryview], counts: list[memoryview]) -> tuple[dict[int, int], int]:
    """The workers' arrays merged: target -> fields mask for every target some row
    matched, and how many rows matched in all."""
    merged = np.bitwise_or.reduce([np.frombuffer(m, dtype=np.uint16) for m in masks])
    rows = np.add.reduce([np.frombuffer(c, dtype=np.uint32).astype(np.uint64)
                          for c in counts])
    matched = np.flatnonzero(rows)
    return (dict(zip(matched.tolist(), merged[matched].tolist(), strict=True)),
            int(rows.sum()))


def scan_file(path: str, index: MatchIndex, options: ScanOptions,
              progress: Callable[[int], None] | None = None) -> FileScan:
    """Scan one file with up to `options.processes` worker processes (forked, so they share
    the index without copying it). `progress` is told each chunk's byte count as it ends.
    Scans in one process run one after another: they share the module's scan state."""
    with _SCANNING:
        return _scan_file(path, index, options, progress)


def _scan_file(path: str, index: MatchIndex, options: ScanOptions,
               progress: Callable[[int], None] | None) -> FileScan:
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
    _SCAN = (index, PhoneReader(options.default_region), layout, columns,
             index.phone_keys(), options.vectorised)
    workers = min(processes, len(chunks))
    slots = max(1, workers if len(chunks) > 1 else 1)
    _MASKS[:] = _shared(slots, len(index.targets), "H")
    _COUNTS[:] = _shared(slots, len(index.targets), "I")
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
                # rare (a quoted newline at a cut, a broken quote): read again, exactly as
                # one reader would, from clean masks (a mis-split row may have named
                # someone the file does not hold in that place)
                while (plan := _final_plan(chunks, parts)) != chunks:
                    for shared in (*_MASKS, *_COUNTS):
                        np.frombuffer(shared, dtype=np.uint8)[:] = 0
                    chunks = plan
                    parts = pool.map(_scan_chunk, [(path, c) for c in chunks], chunksize=1)
        elif progress:
            progress(os.path.getsize(path))
        result = ChunkResult()
        line = 2 if layout.header is not None and layout.fmt == "csv" else 1
        for chunk, part in zip(chunks, parts, strict=True):
            result.merge(part, line if chunk.first_line == 0 else 0)  # 0: numbered from 0
            line += part.lines
        result.matched, rows = _collect(_MASKS, _COUNTS)
        result.repeat_matches = rows - len(result.matched)
    finally:
        _SCAN = None
        _MASKS.clear()
        _COUNTS.clear()
        hasher.join()
    return FileScan(path, digest[0], os.path.getsize(path), layout, columns, result)
