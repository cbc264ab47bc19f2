"""Smoke test for bench/discovery_sync.py: it runs end to end and writes sane figures.

It checks shape, sign and that every answer was a checked 200, never the speed targets (those
depend on the machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import positive_figure

BENCH = Path(__file__).resolve().parent.parent / "bench" / "discovery_sync.py"


@pytest.mark.timeout(240)
def test_discovery_sync_bench_quick_sqlite(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--backend", "sqlite", "--people", "5000",
         "--requests", "12", "--rounds", "2", "--warmup", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=220, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Discovery sync" in proc.stdout  # the table was printed

    doc = json.loads(out.read_text())
    assert doc["meta"]["people"] == 5000 and doc["meta"]["quick"] is True
    assert set(doc["backends"]) == {"sqlite"}
    sqlite = doc["backends"]["sqlite"]
    assert positive_figure(sqlite["load_seconds"])
    for path in ("b0", "b0book", "first", "resync"):
        figures = sqlite[path]
        assert figures["requests"] == 12
        assert figures["errors"] == {}, (path, figures["errors"], figures["error_samples"])
        assert figures["identifiers"] == 12 * doc["meta"]["book_size"]
        for key in ("p50_ms", "p99_ms", "ids_per_s_wall", "ids_per_s_process",
                    "server_cpu_ms", "matches_mean"):
            assert positive_figure(figures[key]), (path, key, figures[key])
        assert figures["p99_ms"] >= figures["p50_ms"]
    # B0 returns every member; the defended sync only those whose setting allows it.
    # Re-syncs find the same people, plus any whose own sync since added the searcher.
    assert sqlite["first"]["matches_mean"] < sqlite["b0"]["matches_mean"]
    assert sqlite["b0book"]["matches_mean"] == sqlite["b0"]["matches_mean"]
    assert sqlite["resync"]["matches_mean"] >= sqlite["first"]["matches_mean"]
    for path in ("b0book", "first", "resync"):
        assert positive_figure(sqlite[path]["ratio_p50"])
        assert positive_figure(sqlite[path]["ratio_p50_vs_b0book"])
    counters = sqlite["discovery_counters"]
    assert not any(k.startswith(("refusals", "findings")) for k in counters), counters
    assert isinstance(sqlite["met"]["p50"], bool) and isinstance(sqlite["met"]["cost"], bool)
