#!/usr/bin/env python
"""Enumeration benchmark: how many people can a scraper harvest through contact discovery,
and what does each defence cost honest people? A simulation that drives the same defence
code the server runs (`palisade.services.discovery.guard.DiscoveryGuard`, in-process, with an
injected clock: 30 simulated days take minutes).

World (standard size): a country with 2,000,000 valid mobile numbers and 200,000 registered
people, a clustered social graph, log-normal address books (median 150, p90 800, p99 5,000;
about 40% registered; about 70% of a person's registered contacts have them back), 2% of people
behind carrier NAT; honest behaviour over 30 days (full sync at install, daily syncs, 1-3 new
contacts a week, 3% reinstalls). Phones only: emails would go through the same rule and the
same budgets, and the guard sees them only as identifiers without a block, so they are left out.

Attackers, each run alone: A1 one account, one address, full speed over the valid ranges;
A2 five accounts rotating over 10,000 addresses; A3 1,000 fresh sybils just under every
per-account limit; A4 200 aged accounts under refill rates; A5 1,000 sybils validating a
leaked list of 200,000 numbers (60% registered) hidden in plausible address books. Extra, on
request (`--attackers`): A6 = A5 whose sybils put each other in their books.

Defences, each under two settings worlds (everyone `everyone`-discoverable; everyone on the
default `mutual_contacts`): B0 no limits; B1 per-IP bucket; B2 Signal-style per-account bucket
(50,000, 6/h, new identifiers only); B3 incremental contact discovery; Palisade (the guard with
default `DiscoveryLimits()`).

    .venv/bin/python bench/enumeration.py --json enumeration.json     # standard size
    .venv/bin/python bench/enumeration.py --quick                      # 10,000 people, < 1 min
    .venv/bin/python bench/enumeration.py --size large --workers 2     # 1,000,000 people

Prints one table on stdout, then the Palisade targets (progress goes to stderr); `--json PATH`
also writes `{"rows": [...], "targets": [...], "meta": {...}}`. Modelling choices are
documented in the modules of `bench/enumeration_sim/` (world, honest, platform, defences,
attackers, runner).

How the runs are organised: honest traffic is simulated once per (defence, world) and every
attacker alone against the same defence and world. For B0-B3 that is exact (their state is
per account or per IP, and attacker accounts and addresses never overlap honest ones). For
Palisade, the attacker's run replays when the honest traffic hid people from strangers
(the only honest-made state that changes an attacker's answers); what it leaves out is the
attacker's own effect on honest people (each person it finds gets one more stranger toward
the overexposure threshold, each member it looks up one more `known_by`). `--joint` runs
honest traffic and attacker together in every run instead (exact, about 5 times slower).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform as platform_module
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from enumeration_sim import runner  # noqa: E402
from enumeration_sim.attackers import ATTACKERS  # noqa: E402
from enumeration_sim.attackers import DEFAULT as DEFAULT_ATTACKERS  # noqa: E402
from enumeration_sim.defences import DEFENCES, Defence  # noqa: E402
from enumeration_sim.defences import ORDER as DEFENCE_ORDER  # noqa: E402
from enumeration_sim.defences import palisade as palisade_defence  # noqa: E402
from enumeration_sim.runner import Task  # noqa: E402
from enumeration_sim.world import SIZES, WorldParams, build_world  # noqa: E402
from run_record import git_state, log  # noqa: E402

WORLDS = ["everyone", "defaults"]
ROW_KEYS = ["defence", "world", "attacker", "harvested", "harvested_pct", "per_account",
            "honest_first_sync_pct", "honest_24h_pct", "honest_blocked", "honest_p99_delay_s"]


# --- targets ------------------------------------------------------------------------------------
def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets for Palisade, each with the figure and whether it is met."""
    def row(defence: str, world: str, attacker: str) -> dict[str, Any] | None:
        return next((r for r in rows if (r["defence"], r["world"], r["attacker"])
                     == (defence, world, attacker)), None)

    out: list[dict[str, Any]] = []

    def add(target: str, value: str, met: bool | None, note: str = "") -> None:
        out.append({"target": target, "value": value, "met": met, "note": note})

    attackers = sorted({r["attacker"] for r in rows})
    main = [a for a in attackers if a in DEFAULT_ATTACKERS]
    pal_d = [r for r in rows if r["defence"] == "palisade" and r["world"] == "defaults"]
    pal_e = [r for r in rows if r["defence"] == "palisade" and r["world"] == "everyone"]
    if pal_d:
        for a in main:
            r = row("palisade", "defaults", a)
            if r:
                add(f"defaults: {a} harvests <= 0.1% of registered people",
                    f"{r['harvested']:,} ({r['harvested_pct']:.3f}%)", r["harvested_pct"] <= 0.1)
        worst = min(r["honest_first_sync_pct"] for r in pal_d)
        add("defaults: >= 99.5% of honest people get every entitled match on first sync",
            f"{worst:.2f}%", worst >= 99.5,
            "a joiner is entitled to nobody at first sync under mutual_contacts (see "
            "honest_first_syncs_entitled)")
    if pal_e:
        for a in ("A1", "A2"):
            r = row("palisade", "everyone", a)
            if r and a in main:
                add(f"everyone: {a} harvests <= 1,000 people", f"{r['harvested']:,}",
                    r["harvested"] <= 1_000)
        for a in ("A3", "A4", "A5"):
            r = row("palisade", "everyone", a)
            if not r or a not in main:
                continue
            add(f"everyone: {a} harvests <= 100 people per account",
                f"{r['per_account']:.2f}", r["per_account"] <= 100)
            b2 = row("B2", "everyone", a)
            if b2:
                ratio = b2["harvested"] / r["harvested"] if r["harvested"] else float("inf")
                if r["harvested"] == 0:
                    add(f"everyone: {a} harvests >= 100x less than B2",
                        f"0 vs {b2['harvested']:,}", True)
                elif b2["harvested"] < 100:
                    add(f"everyone: {a} harvests >= 100x less than B2",
                        f"{r['harvested']:,} vs {b2['harvested']:,}", None,
                        "B2 itself harvests under 100 people here: a 100x ratio cannot show")
                else:
                    add(f"everyone: {a} harvests >= 100x less than B2",
                        f"{ratio:,.0f}x ({r['harvested']:,} vs {b2['harvested']:,})",
                        ratio >= 100)
        worst = min(r["honest_24h_pct"] for r in pal_e)
        add("everyone: >= 99% of honest people get every entitled match within 24 h",
            f"{worst:.2f}%", worst >= 99.0)
    pal = pal_d + pal_e
    if pal:
        blocked = max(r["honest_blocked"] for r in pal)
        add("no honest person is ever blocked", f"{blocked:,} (worst run)", blocked == 0)
        nat = max(r.get("honest_nat_blocked", 0) for r in pal)
        add("carrier-NAT groups are unharmed (no NAT person blocked)", f"{nat:,} blocked",
            nat == 0, "NAT first-sync/24 h figures are in the JSON rows (honest_nat_*)")
    return out


# --- table ----------------------------------------------------------------------------------------
def render(rows: list[dict[str, Any]], targets: list[dict[str, Any]], meta: dict[str, Any]):
    from rich.table import Table

    w = meta["world"]
    title = (f"Enumeration: {w['people']:,} people, {w['numbers']:,} numbers, "
             f"{meta['days']:g} days, seed {meta['seed']}")
    table = Table(title=title)
    for col, just in (("world", "left"), ("attacker", "left"), ("defence", "left"),
                      ("harvested", "right"), ("% reg.", "right"), ("per acct", "right"),
                      ("1st sync %", "right"), ("24 h %", "right"), ("blocked", "right"),
                      ("p99 delay s", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    order = {d: i for i, d in enumerate(DEFENCE_ORDER)}
    rows = sorted(rows, key=lambda r: (WORLDS.index(r["world"]), r["attacker"],
                                       order.get(r["defence"], 99)))
    for i, r in enumerate(rows):
        last = i + 1 == len(rows) or (rows[i + 1]["world"], rows[i + 1]["attacker"]) != (
            r["world"], r["attacker"])
        table.add_row(r["world"], r["attacker"], r["defence"], f"{r['harvested']:,}",
                      f"{r['harvested_pct']:.3f}", f"{r['per_account']:,.2f}",
                      f"{r['honest_first_sync_pct']:.2f}", f"{r['honest_24h_pct']:.2f}",
                      f"{r['honest_blocked']:,}", f"{r['honest_p99_delay_s']:,.0f}",
                      end_section=last)
    ttable = Table(title="Palisade targets")
    ttable.add_column("target")
    ttable.add_column("value", justify="right")
    ttable.add_column("met?", justify="center")
    for t in targets:
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]n/a[/]"}[t["met"]]
        ttable.add_row(t["target"], t["value"], met)
    return table, ttable


# --- orchestration ----------------------------------------------------------------------------------
def plan(defences: list[str], attackers: list[str], joint: bool) -> list[Task]:
    tasks: list[Task] = []
    baselines = [d for d in defences if d != "palisade"]
    # baselines whose honest traffic can be shared (see runner.py): the others run their own
    shadows = tuple(d for d in baselines[1:]
                    if DEFENCES[d].needs_every_sync is Defence.needs_every_sync)
    for world in WORLDS:
        for d in defences:
            if joint:
                tasks.extend(Task(d, world, a, True) for a in attackers)
            elif d not in shadows:
                tasks.append(Task(d, world, None, True,
                                  shadows=shadows if baselines and d == baselines[0] else ()))
            if not joint and d != "palisade":
                tasks.extend(Task(d, world, a, False) for a in attackers)
    # the longest first: Palisade, then honest runs, then attacker runs
    return sorted(tasks, key=lambda t: (t.defence != "palisade", not t.honest))


def execute(tasks: list[Task], attackers: list[str], workers: int
            ) -> dict[Task, dict[str, Any]]:
    """Runs the tasks; a Palisade honest run, when it ends, releases the Palisade attacker
    runs of its world (they replay the people it hid from strangers)."""
    results: dict[Task, dict[str, Any]] = {}
    total = len(tasks) + sum(len(t.shadows) for t in tasks) + sum(len(attackers) for t in tasks
                             if t.defence == "palisade" and t.honest and not t.attacker)
    started = time.perf_counter()

    def done(task: Task, out: dict[str, Any]) -> list[Task]:
        results[task] = out
        extra = ""
        if task.attacker:
            extra = f"harvested {out['harvested']:,} ({out['harvested_pct']:.3f}%)"
        if task.honest:
            extra += (f"{'; ' if extra else ''}honest first sync "
                      f"{out['honest_first_sync_pct']:.2f}%, 24 h {out['honest_24h_pct']:.2f}%, "
                      f"blocked {out['honest_blocked']:,}")
        log(f"[{len(results)}/{total}] {task.label}: {extra} ({out['seconds']:.0f} s run, "
            f"{time.perf_counter() - started:.0f} s elapsed)")
        if task.defence == "palisade" and task.honest and not task.attacker:
            log_ = out.pop("_hidden_log", ())
            return [Task(task.defence, task.world, a, False, tuple(log_)) for a in attackers]
        out.pop("_hidden_log", None)
        diverged = out.pop("_shadows_diverged", ())
        more = []
        for name in task.shadows:
            if name in diverged:
                log(f"{name} {task.world}: answered differently from {task.defence}; "
                    "its honest traffic gets a run of its own")
                more.append(Task(name, task.world, None, True))
            else:
                results[Task(name, task.world, None, True)] = {
                    **out, "seconds": 0.0, "honest_shadow_of": task.defence}
                log(f"{name} {task.world} honest only: the same run as {task.defence}'s "
                    "(shadow, every answer identical)")
        return more

    if workers <= 1:
        queue = list(tasks)
        while queue:
            task = queue.pop(0)
            queue[0:0] = done(*runner.run_task(task))
        return results
    ctx = multiprocessing.get_context("fork")
    # One task per worker process: each run starts from a fresh fork of the parent (the world
    # shared copy-on-write) and gives all its memory back when it ends. A long-lived worker
    # keeps the heap of its biggest run and the fragments of every run before (at the
    # standard size one reached 6.3 GB after runs that peak at 2.7 GB each alone), which is
    # what a --size large run cannot afford. Runs share no state, so the answers are the same.
    with ctx.Pool(workers, maxtasksperchild=1) as pool:
        pending: list[Any] = [pool.apply_async(runner.run_task, (t,)) for t in tasks]
        while pending:
            still = []
            for res in pending:
                if res.ready():
                    task, out = res.get()
                    for t in done(task, out):
                        still.append(pool.apply_async(runner.run_task, (t,)))
                else:
                    still.append(res)
            pending = still
            if pending:
                pending[0].wait(0.5)
    return results


def rows_from(results: dict[Task, dict[str, Any]], defences: list[str], attackers: list[str],
              joint: bool) -> list[dict[str, Any]]:
    rows = []
    for world in WORLDS:
        for d in defences:
            honest = None if joint else next(out for t, out in results.items()
                                             if (t.defence, t.world, t.attacker) == (d, world,
                                                                                     None))
            for a in attackers:
                att = next(out for t, out in results.items()
                           if (t.defence, t.world, t.attacker) == (d, world, a))
                merged = dict(att) if joint else {**honest, **att}
                merged["seconds"] = att["seconds"] + (0 if joint else honest["seconds"])
                row = {"defence": d, "world": world, "attacker": a}
                row.update({k: merged[k] for k in ROW_KEYS[3:]})
                row.update({k: v for k, v in merged.items() if k not in row})
                row["honest_source"] = (
                    "joint run" if joint else
                    f"shadow of {honest['honest_shadow_of']}'s honest-only run (every answer "
                    "identical)" if honest.get("honest_shadow_of") else
                    "honest-only run of this defence and world")
                rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="the quick world (same as --size quick): 10,000 people, < 1 min")
    ap.add_argument("--size", choices=sorted(SIZES), default=None,
                    help="quick | standard (default) | large")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--days", type=float, default=30.0, help="simulated days (default 30)")
    ap.add_argument("--only-attacker", action="append", default=None, metavar="NAME",
                    help="run only this attacker (repeatable)")
    ap.add_argument("--attackers", default=None,
                    help="comma-separated attackers (default A1..A5; A6 is an extra)")
    ap.add_argument("--only-defence", action="append", default=None, metavar="NAME",
                    help="run only this defence (repeatable)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--joint", action="store_true",
                    help="simulate honest traffic together with every attacker (exact, slower)")
    ap.add_argument("--exact-guard", action="store_true",
                    help="the guard exactly as shipped: address_group not memoized, counter "
                         "store swept (slower; results are the same)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = ap.parse_args(argv)
    if args.quick and args.size not in (None, "quick"):
        ap.error("--quick and --size disagree")
    args.size = "quick" if args.quick else (args.size or "standard")
    attackers = (args.attackers.split(",") if args.attackers else list(DEFAULT_ATTACKERS))
    if args.only_attacker:
        attackers = args.only_attacker
    unknown = [a for a in attackers if a not in ATTACKERS]
    if unknown:
        ap.error(f"unknown attacker(s) {unknown}; known: {sorted(ATTACKERS)}")
    defences = list(DEFENCE_ORDER)
    if args.only_defence:
        defences = [d for d in DEFENCE_ORDER if d in args.only_defence]
        unknown = [d for d in args.only_defence if d not in DEFENCES]
        if unknown:
            ap.error(f"unknown defence(s) {unknown}; known: {sorted(DEFENCES)}")
    args.attacker_list = attackers
    args.defence_list = defences
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    started = time.perf_counter()
    palisade_defence.use_exact_guard(args.exact_guard)
    params = WorldParams(size=args.size, seed=args.seed, days=args.days)
    log(f"building the {args.size} world (seed {args.seed})")
    world = build_world(params)
    runner.WORLD = world
    # The world is millions of long-lived objects the runs only read: keep the collector from
    # walking them again and again (and, after fork, from touching every shared page), and
    # collect the young generation less often; the runs create few reference cycles.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    built = time.perf_counter() - started
    tasks = plan(args.defence_list, args.attacker_list, args.joint)
    log(f"{len(tasks)} runs to start on {args.workers} worker(s)")
    results = execute(tasks, args.attacker_list, args.workers)
    rows = rows_from(results, args.defence_list, args.attacker_list, args.joint)
    targets = evaluate_targets(rows)
    seconds = round(time.perf_counter() - started, 1)
    meta = {
        "size": args.size, "seed": args.seed, "days": args.days, "workers": args.workers,
        "joint": args.joint, "exact_guard": args.exact_guard,
        "attackers": {a: ATTACKERS[a].label for a in args.attacker_list},
        "defences": {d: DEFENCES[d].label for d in args.defence_list},
        "world": world.summary(), "world_build_seconds": round(built, 1),
        "seconds": seconds, "cpus": os.cpu_count(),
        "python": platform_module.python_version(), "machine": platform_module.machine(),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "command": "python bench/enumeration.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "targets": targets, "meta": meta},
                                              indent=2, default=str))
    console = Console() if sys.stdout.isatty() else Console(width=140)
    table, ttable = render(rows, targets, meta)
    console.print(table)
    if targets:
        console.print(ttable)
    log(f"done in {seconds} s (world {built:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
