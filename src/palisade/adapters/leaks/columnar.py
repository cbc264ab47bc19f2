"""Field offsets of a quote-free CSV block, found with numpy instead of one `split` a row.

Most of a dump is plain: no quote in a megabyte of rows. For such a block the reader hands the
scanner the block's bytes and, for each well-formed row, where each field starts and ends, so
that the identifiers can be read and looked up a whole block at a time in C loops (see
`services.leaks.scanner`). The rows it finds are exactly those `dump_reader.row_batches`
would split from the same block (a test checks it): lines end at "\\n" (a "\\r" before it is
dropped), a row has `width` fields, a blank line is skipped, any other line with another
number of fields is a `ParseFailure` with the same reason and line number."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from palisade.adapters.leaks.dump_reader import (
    MAX_RECORD_LINES,
    Chunk,
    Layout,
    ParseFailure,
    batches,
    failure_reason,
    split_block,
)

Rows = tuple[list[list[bytes]], list[ParseFailure]]


@dataclass(frozen=True)
class PlainBlock:
    """The well-formed rows of a block: row r's field k is `data[starts[r, k]:ends[r, k]]`,
    its whole line `data[line_starts[r]:line_ends[r]]`."""

    data: bytes
    array: np.ndarray  # `data` as uint8, no copy
    starts: np.ndarray  # (rows, width) int64
    ends: np.ndarray  # (rows, width) int64
    line_starts: np.ndarray
    line_ends: np.ndarray
    failures: list[ParseFailure]

    @property
    def rows(self) -> int:
        return len(self.line_starts)

    def cell(self, row: int, column: int) -> bytes:
        return self.data[self.starts[row, column]:self.ends[row, column]]

    def cells(self, row: int, delimiter: bytes) -> list[bytes]:
        return self.data[self.line_starts[row]:self.line_ends[row]].split(delimiter)


def split_plain(body: bytes, delimiter: bytes, width: int | None, first_line: int,
                careful: np.ndarray | None = None,
                lines: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
                ) -> tuple[PlainBlock, int | None]:
    """Split a block from `dump_reader.csv_blocks` (only a range's last block may end
    without a newline). Lines flagged in `careful` (one flag a line: the records that hold
    a quote, read elsewhere) are left out; every other line must hold no quote. `lines` is
    `_lines(body)` when the caller has it. Returns the block and the width (taken from the
    first line when not known)."""
    array, starts, ends, newlines = lines if lines is not None else _lines(body)
    if b"\r" in body and len(ends):  # "\r\n" ends a line like "\n"
        ends = ends - ((array[np.maximum(ends - 1, 0)] == 13) & (ends > starts) & (
            np.arange(len(ends)) < len(newlines)))
    marks = np.flatnonzero(array == delimiter[0])
    first_mark = np.searchsorted(marks, starts)
    count = np.searchsorted(marks, ends) - first_mark
    if width is None and len(count):
        width = int(count[0]) + 1
    if width is None:  # nothing but an empty block
        empty = np.zeros((0, 1), dtype=np.int64)
        return PlainBlock(body, array, empty, empty, starts, ends, []), None
    good = count == width - 1
    if careful is not None:
        good &= ~careful
        odd = ~good & ~careful
    else:
        odd = ~good
    failures: list[ParseFailure] = []
    if odd.any():
        for i in np.flatnonzero(odd).tolist():
            fields = int(count[i]) + 1
            if fields == 1 and not body[starts[i]:ends[i]].strip():
                continue  # a blank line
            last = i == len(ends) - 1 and not body.endswith(b"\n")
            failures.append(ParseFailure(first_line + i, failure_reason(fields, width, last)))
    rows = np.flatnonzero(good)
    row_starts, row_ends, row_first = starts[rows], ends[rows], first_mark[rows]
    if width > 1:
        inner = marks[row_first[:, None] + np.arange(width - 1)]
        field_starts = np.concatenate([row_starts[:, None], inner + 1], axis=1)
        field_ends = np.concatenate([inner, row_ends[:, None]], axis=1)
    else:
        field_starts, field_ends = row_starts[:, None], row_ends[:, None]
    block = PlainBlock(body, array, field_starts, field_ends, row_starts, row_ends, failures)
    return block, width


def _lines(body: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The block as bytes, where each line starts and ends (before its newline), and the
    newlines."""
    array = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(array == 10)
    ends = newlines
    if len(body) and body[-1:] != b"\n":
        ends = np.append(newlines, len(body))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = newlines[: len(ends) - 1] + 1
    return array, starts, ends, newlines


def blocks(path: str, layout: Layout, chunk: Chunk | None = None,
           seen: dict[str, int] | None = None) -> Iterator[PlainBlock | Rows]:
    """The rows and failures of `dump_reader.row_batches`, with a plain CSV file's blocks
    as `PlainBlock`s: the records of a block that hold a quote (with the lines a quoted
    field spans) are read the careful way and come as lists of cells just before the block
    (rows in another order than the file's; failures in the file's order, all with the
    block)."""

    def split(body: bytes, lineno: int, width: int | None):  # type: ignore[no-untyped-def]
        if b'"' not in body:
            block, width = split_plain(body, layout.delimiter, width, lineno)
            return [block], width
        lines = _lines(body)
        _, starts, ends, _ = lines
        runs = _careful_runs(lines[0], starts, ends)
        if width is None and len(starts) and runs[0][0] > 0:  # from the first line
            width = len(body[starts[0]:ends[0]].removesuffix(b"\r").split(layout.delimiter))
        # every careful record of the block in one pass of the line reader, then each
        # failure's line renumbered from the joined text to the file
        careful = np.zeros(len(starts), dtype=bool)
        pieces, offsets, line_at = [], [], 0
        for first, last in runs:
            careful[first:last + 1] = True
            stop = ends[last] + 1 if last + 1 < len(ends) else len(body)
            pieces.append(body[starts[first]:stop])
            offsets.append((line_at, first))
            line_at += last - first + 1
        rows, bad, width = split_block(b"".join(pieces), layout, width, 0)
        joined_lines = [at for at, _ in offsets]
        failures = []
        for f in bad:
            at, first = offsets[bisect_right(joined_lines, f.line) - 1]
            failures.append(ParseFailure(lineno + first + f.line - at, f.reason))
        block, width = split_plain(body, layout.delimiter, width, lineno, careful, lines)
        block.failures[:] = sorted(block.failures + failures, key=lambda f: f.line)
        return [(rows, []), block], width

    return batches(path, layout, chunk, seen, split)


def _careful_runs(array: np.ndarray, starts: np.ndarray, ends: np.ndarray
                  ) -> list[tuple[int, int]]:
    """[first, last] line ranges of the records that hold a quote: from a line with a
    quote through the lines `dump_reader`'s line reader joins to it (while the record's
    quote count is odd, at most MAX_RECORD_LINES more). Adjacent records are one range."""
    quotes = np.flatnonzero(array == 34)
    counts = (np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts)).tolist()
    runs: list[tuple[int, int]] = []
    lines = len(counts)
    for i in np.flatnonzero(np.array(counts, dtype=np.int64) > 0).tolist():
        if runs and i <= runs[-1][1]:
            continue  # joined to the record before
        j, total = i, counts[i]
        while total % 2 and j - i < MAX_RECORD_LINES and j + 1 < lines:
            j += 1
            total += counts[j]
        if runs and runs[-1][1] + 1 == i:
            runs[-1] = (runs[-1][0], j)
        else:
            runs.append((i, j))
    return runs
