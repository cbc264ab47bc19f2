"""Tests for bench/enumeration.py: it runs end to end at the quick size and writes the rows
the issue names; its shortcuts give the same answers as the exact runs; and the defences are
blind to the simulation's world, honest model and attackers.

Never a speed or harvest target: those are figures of the standard size, recorded in
docs/benchmarks.md. The harvest orderings checked here (no limits harvests more than Palisade)
hold at any size, so a defence that stopped defending would fail them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
ROW_KEYS = {"defence", "world", "attacker", "harvested", "harvested_pct", "per_account",
            "honest_first_sync_pct", "honest_24h_pct", "honest_blocked", "honest_p99_delay_s"}


@pytest.fixture(scope="module")
def sim():
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    from enumeration_sim import runner
    from enumeration_sim.world import WorldParams, build_world

    runner.WORLD = build_world(WorldParams(size="quick", seed=7, days=3.0))
    yield runner
    runner.WORLD = None


@pytest.mark.timeout(400)
def test_quick_run_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "enumeration.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "enumeration.py"), "--quick", "--days", "8",
         "--json", str(out)],
        capture_output=True, text=True, timeout=380, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Enumeration:" in proc.stdout and "Palisade targets" in proc.stdout

    doc = json.loads(out.read_text())
    rows = doc["rows"]
    combos = {(r["defence"], r["world"], r["attacker"]) for r in rows}
    assert combos == {(d, w, a) for d in ("B0", "B1", "B2", "B3", "palisade")
                      for w in ("everyone", "defaults") for a in ("A1", "A2", "A3", "A4", "A5")}
    for r in rows:
        assert ROW_KEYS <= set(r), r
        assert 0 <= r["harvested_pct"] <= 100 and r["harvested"] >= 0
        assert 0 <= r["honest_first_sync_pct"] <= 100 and 0 <= r["honest_24h_pct"] <= 100
        assert r["honest_blocked"] >= 0 and r["honest_p99_delay_s"] >= 0

    def row(d: str, w: str, a: str) -> dict:
        return next(r for r in rows if (r["defence"], r["world"], r["attacker"]) == (d, w, a))

    for a in ("A1", "A2", "A3", "A4", "A5"):
        # with everyone discoverable, no limits gives a scraper most people; Palisade does not
        assert row("B0", "everyone", a)["harvested_pct"] > 50
        assert row("palisade", "everyone", a)["harvested"] * 100 <= row(
            "B0", "everyone", a)["harvested"]
        # the default setting protects people whatever the rate limits
        assert row("palisade", "defaults", a)["harvested"] == 0
    assert {t["target"] for t in doc["targets"]}, "the targets table is missing"


def test_baselines_split_runs_equal_the_joint_run(sim) -> None:
    """The runner simulates a baseline's honest traffic once and each attacker alone; that is
    exact only if they cannot affect each other. Check it against a joint run."""
    from enumeration_sim.runner import Task

    _, joint = sim.run_task(Task("B2", "everyone", "A3", True))
    _, honest = sim.run_task(Task("B2", "everyone", None, True))
    _, attack = sim.run_task(Task("B2", "everyone", "A3", False))
    for key in ("honest_first_sync_pct", "honest_24h_pct", "honest_blocked",
                "honest_p99_delay_s"):
        assert joint[key] == honest[key], key
    for key in ("harvested", "attacker_requests", "attacker_numbers_sent"):
        assert joint[key] == attack[key], key


def _honest_metrics(out: dict) -> dict:
    return {k: v for k, v in out.items() if k.startswith("honest_")}


def test_a_shadow_that_never_diverged_had_its_own_run(sim) -> None:
    """B2 riding along B0's honest run must report exactly what its own honest run reports."""
    from enumeration_sim.runner import Task

    _, primary = sim.run_task(Task("B0", "everyone", None, True, shadows=("B2",)))
    _, alone = sim.run_task(Task("B2", "everyone", None, True))
    assert primary["_shadows_diverged"] == ()
    assert _honest_metrics(primary) == _honest_metrics(alone)
    assert primary["server_requests"] == alone["server_requests"]


def test_a_shadow_that_answers_differently_is_marked_diverged(sim) -> None:
    """B3 reveals only recent registrations in daily syncs, so it cannot share B0's run; a
    divergence check that missed it would copy wrong figures."""
    from enumeration_sim.runner import Task

    _, primary = sim.run_task(Task("B0", "defaults", None, True, shadows=("B3",)))
    assert primary["_shadows_diverged"] == ("B3",)


def test_the_simulation_speedups_do_not_change_the_guard(sim) -> None:
    """Memoized address groups and an unswept store must give the shipped guard's answers."""
    from enumeration_sim.defences import palisade as palisade_defence
    from enumeration_sim.runner import Task

    task = Task("palisade", "everyone", "A4", True)
    try:
        palisade_defence.use_exact_guard(True)
        _, exact = sim.run_task(task)
    finally:
        palisade_defence.use_exact_guard(False)
    _, fast = sim.run_task(task)
    for out in (exact, fast):
        out.pop("seconds")
        out.pop("_hidden_log", None)
    assert exact == fast


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_defences_cannot_read_the_world_or_the_attackers() -> None:
    """The world, the honest model and the attackers are parameters of the simulation, not of
    the defence: no defence module imports them."""
    forbidden = ("world", "honest", "attackers", "platform", "runner")
    for module in sorted((BENCH_DIR / "enumeration_sim" / "defences").glob("*.py")):
        for name in _imports(module):
            assert not any(part in forbidden for part in name.strip(".").split(".")), (
                module.name, name)
    # and the server's defence never imports the benchmark
    src = Path(__file__).resolve().parent.parent / "src" / "palisade"
    for module in src.rglob("*.py"):
        assert not any(n.split(".")[0] in {"enumeration_sim", "bench"}
                       for n in _imports(module)), module
