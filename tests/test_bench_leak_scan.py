"""Smoke test for bench/leak_scan.py: it runs end to end, finds exactly the members it placed
in the dump and writes sane figures.

It checks shape, sign and correctness, never the speed or memory targets (those depend on
the machine). The generated dumps go to a cache folder under the test's tmp dir, never into
the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CI, positive_figure

BENCH = Path(__file__).resolve().parent.parent / "bench" / "leak_scan.py"
RG = Path("/usr/bin/rg")


@pytest.mark.timeout(240)
def test_leak_scan_bench_quick(tmp_path: Path) -> None:
    if not os.access(RG, os.X_OK):
        if CI:
            pytest.fail(f"{RG} is missing; with CI=true the ripgrep comparison is required",
                        pytrace=False)
        pytest.skip(f"{RG} is missing: install ripgrep to run the leak-scan benchmark test")
    out = tmp_path / "bench.json"
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--cache-dir", str(cache), "--json", str(out)],
        capture_output=True, text=True, timeout=220, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Leaked-dump scan" in proc.stdout  # the table was printed
    assert "ripgrep -F -c -f" in proc.stdout and "Targets:" in proc.stdout

    doc = json.loads(out.read_text())
    assert set(doc) >= {"meta", "scan", "scan_small", "ripgrep", "index"}
    meta = doc["meta"]
    assert meta["quick"] is True and meta["rows"] == 200_000 and meta["people"] == 20_000
    assert meta["small_rows"] == meta["rows"] // 10
    # two dumps and the quoted variant, with their sidecars, and the patterns
    assert sorted(p.suffix for p in cache.iterdir()) == [".csv"] * 3 + [".json"] * 3 + [".txt"]

    index = doc["index"]
    assert index["phones"] == meta["people"] and 0 < index["emails"] < meta["people"]
    assert positive_figure(index["seconds"])

    for key, rows in (("scan", meta["rows"]), ("scan_small", meta["small_rows"]),
                      ("scan_quoted", meta["rows"])):
        scan = doc[key]
        assert scan["rows"] == rows and scan["failed"] == 0
        assert scan["matched"] == scan["expected_matched"] > 0, key
        # distinct people + repeat_matches: every member row, across the workers
        assert scan["matched"] < scan["matched_rows"] == scan["expected_matched_rows"], key
        assert scan["correct"] is True
        for figure in ("seconds", "rows_per_s", "peak_main_mb", "cpu_seconds"):
            assert positive_figure(scan[figure]), (key, figure, scan[figure])
    assert positive_figure(doc["scan"]["peak_worker_mb"])  # the full file uses workers
    assert doc["scan"]["chunks"] > 1
    assert isinstance(doc["scan"]["met"], bool)
    assert doc["correct"] is True and doc["problems"] == []
    assert all(doc["meta"]["scanner_source"].values())

    rg = doc["ripgrep"]
    for figure in ("seconds", "rows_per_s", "peak_mb", "compile_seconds"):
        assert positive_figure(rg[figure]), (figure, rg[figure])
    # every member row whose phone is written as bare digits holds one of rg's patterns
    assert rg["lines_matched"] >= meta["dump"]["phone_styles"]["digits"]
