"""Smoke test for bench/profile_read.py: it runs end to end and writes sane figures.

It checks shape and sign only, never the speed targets (those depend on the machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import positive_figure

BENCH = Path(__file__).resolve().parent.parent / "bench" / "profile_read.py"

pytest.importorskip("casbin")


@pytest.mark.timeout(240)
def test_profile_read_bench_quick_sqlite(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--backend", "sqlite", "--json", str(out)],
        capture_output=True, text=True, timeout=220, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "access decision" in proc.stdout  # the table was printed

    doc = json.loads(out.read_text())
    assert set(doc) >= {"meta", "http", "decision"}
    assert doc["meta"]["people"] > 0 and doc["meta"]["quick"] is True
    assert set(doc["http"]) == {"sqlite"}

    sqlite = doc["http"]["sqlite"]
    for path in ("protected", "plain"):
        figures = sqlite[path]
        for key in ("rps", "p50_ms", "p99_ms", "mean_ms", "server_cpu_ms"):
            assert positive_figure(figures[key]), (path, key, figures[key])
        assert figures["requests"] == doc["meta"]["requests_per_path"]
        assert figures["p99_ms"] >= figures["p50_ms"]
        assert figures["errors"] == {}, (path, figures["errors"])
    for key in ("cost_ratio_rps", "ratio_p50", "ratio_p99", "ratio_cpu"):
        assert positive_figure(sqlite[key]), key
    assert isinstance(sqlite["met"], bool)
    assert set(sqlite["mix"]) == {"friend", "friend_of_friend", "stranger"}

    decision = doc["decision"]
    assert decision["agree"] is True
    assert decision["triples"] > 0
    for key in ("ours_per_s", "casbin_per_s", "ratio"):
        assert positive_figure(decision[key]), key
    assert isinstance(decision["met"], bool)


@pytest.mark.timeout(240)
def test_tokens_bench_runs_and_reports_every_path(tmp_path: Path) -> None:
    out = tmp_path / "tokens.json"
    bench = BENCH.parent / "tokens.py"
    proc = subprocess.run([sys.executable, str(bench), "--checks", "400", "--rounds", "2",
                           "--tokens", "50", "--json", str(out)],
                          capture_output=True, text=True, timeout=220, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Target: DPoP costs at most 2× bearer" in proc.stdout
    rows = {r["path"]: r for r in json.loads(out.read_text())["rows"]}
    assert len(rows) == 3 and next(iter(rows)).startswith("bearer")
    for row in rows.values():
        assert row["checks"] == 400
        for key in ("per_second", "p50_us", "p99_us", "cost_vs_bearer"):
            assert positive_figure(row[key]), (row["path"], key)
