#!/usr/bin/env python
"""Access-log benchmark: appends per second into the tamper-evident log (RFC 6962 Merkle tree,
leaves sealed under each person's data key, completed subtrees stored, an Ed25519-signed head
per batch, all in one transaction per batch) beside plain row inserts of the same entries in
the same run; and inclusion proofs (size and time) at 1 million and 100 million leaves.

Part 1 runs the real sequencer (`services.transparency.log.TransparencyLog.sequence`) on
SQLite (or PostgreSQL with --database-url) over pending access events for a synthetic
population. The plain path inserts the same number of rows (person, entry bytes) into a table
of its own with the same driver, in batches of the same size.

Part 2 uses the real proof code (`domain.transparency.rfc6962.inclusion_proof` and
`verify_inclusion`) over a simulated tree: seen from the proven leaf, every subtree on its path
is split by the real recursion and every subtree off it is a deterministic stand-in hash, so
100 million leaves need no storage; proof sizes and the work of building and checking a proof
are those of a real tree of that size (the stored tree adds one index look-up per hash).

    .venv/bin/python bench/access_log.py --json /tmp/access_log.json
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_record import close_run, git_state, log  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from palisade.adapters.storage.repository import Repository  # noqa: E402
from palisade.adapters.storage.tables import AccessEventRow  # noqa: E402
from palisade.bootstrap import build, initialise  # noqa: E402
from palisade.config import Settings  # noqa: E402
from palisade.demo.population import generate, load  # noqa: E402
from palisade.domain.transparency import rfc6962  # noqa: E402

PLAIN = sa.Table("bench_plain_log", sa.MetaData(),
                 sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                           primary_key=True, autoincrement=True),
                 sa.Column("person_id", sa.String(32)), sa.Column("entry", sa.LargeBinary))


def pending_events(platform, people: list[str], n: int) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    rows = [{"person_id": random.choice(people), "actor_kind": "app", "actor_id": "app_bench",
             "fields": ["name", "birthday"], "purpose": "personalisation",
             "outcome": "released", "route": "/v1/graph/me", "at": now} for _ in range(n)]
    with platform.uow() as session:
        session.execute(sa.insert(AccessEventRow), rows)


def appends(platform, people: list[str], n: int, batch: int) -> dict:  # type: ignore[no-untyped-def]
    pending_events(platform, people, n)
    started = time.perf_counter()
    done = 0
    while done < n:
        done += platform.transparency.sequence(limit=batch)
    seconds = time.perf_counter() - started
    return {"entries": n, "seconds": round(seconds, 3), "per_second": round(n / seconds)}


def summary(runs: list[dict]) -> dict:
    rates = sorted(r["per_second"] for r in runs)
    return {"entries": runs[0]["entries"], "rounds": len(runs),
            "per_second": rates[len(rates) // 2], "min_per_second": rates[0],
            "max_per_second": rates[-1], "runs": runs}


def plain_inserts(platform, people: list[str], n: int, batch: int) -> dict:  # type: ignore[no-untyped-def]
    PLAIN.create(platform.engine, checkfirst=True)
    entry = b'{"fields":["name","birthday"],"purpose":"personalisation"}' * 3
    started = time.perf_counter()
    for start in range(0, n, batch):
        with platform.uow() as session:
            session.execute(sa.insert(PLAIN), [{"person_id": random.choice(people),
                                                "entry": entry}
                                               for _ in range(min(batch, n - start))])
    seconds = time.perf_counter() - started
    return {"entries": n, "seconds": round(seconds, 3), "per_second": round(n / seconds)}


class SimulatedTree:
    """A tree of any size seen from one leaf: every subtree that contains the leaf is split by
    the real recursion of RFC 9162 (rfc6962.split_point, node_hash); the hash of every
    subtree off that path is a deterministic stand-in. Building and checking the leaf's proof
    then does exactly the work it does on a real tree of that size."""

    def __init__(self, target: int) -> None:
        self.target = target

    def __call__(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return rfc6962.EMPTY_ROOT
        if n == 1:
            return rfc6962.leaf_hash(start.to_bytes(8, "big"))
        if not start <= self.target < end:
            return hashlib.sha256(b"sim:%d:%d" % (start, end)).digest()
        k = rfc6962.split_point(n)
        return rfc6962.node_hash(self(start, start + k), self(start + k, end))


def proofs(size: int, samples: int, rng: random.Random) -> dict:
    build_us, verify_us, lengths = [], [], []
    for _ in range(samples):
        index = rng.randrange(size)
        tree = SimulatedTree(index)
        root = rfc6962.root(size, tree)
        t0 = time.perf_counter()
        proof = rfc6962.inclusion_proof(index, size, tree)
        t1 = time.perf_counter()
        rfc6962.verify_inclusion(index, size, tree(index, index + 1), proof, root)
        t2 = time.perf_counter()
        build_us.append((t1 - t0) * 1e6)
        verify_us.append((t2 - t1) * 1e6)
        lengths.append(len(proof))
    return {"leaves": size, "proof_hashes_max": max(lengths),
            "proof_bytes_max": 32 * max(lengths),
            "build_us_p50": round(statistics.median(build_us), 1),
            "verify_us_p50": round(statistics.median(verify_us), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000,
                        help="entries per transaction (the sequencer's default is 5,000)")
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of each path, interleaved; the table shows the median "
                        "and the range (this VM's speed varies by a third from run to run)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    random.seed(5)
    home = Path(tempfile.mkdtemp(prefix="palisade-access-log-"))
    settings = Settings(home=home, database_url=args.database_url, _env_file=None)
    initialise(settings)
    platform = build(settings)
    population = generate(args.people, seed=5, mean_degree=2)
    with platform.uow() as session:
        load(Repository(session), population, platform.envelope, platform.accounts.bidx)
    people = [p.id for p in population.people]
    log(f"appending {args.rounds} x {args.entries} entries in batches of {args.batch}")
    plain_runs, merkle_runs = [], []
    for _ in range(args.rounds):
        plain_runs.append(plain_inserts(platform, people, args.entries, args.batch))
        merkle_runs.append(appends(platform, people, args.entries, args.batch))
    plain, merkle = summary(plain_runs), summary(merkle_runs)
    head = platform.transparency.head()
    assert head.size == args.entries * args.rounds
    stored = [platform.transparency.inclusion(random.randrange(head.size), head.size)
              for _ in range(50)]
    rng = random.Random(9)
    sizes = [proofs(n, args.samples, rng) for n in (1_000_000, 100_000_000)]
    backend = "PostgreSQL" if args.database_url and "postgres" in args.database_url else "SQLite"
    print(f"\nAccess log ({backend}, one process, batches of {args.batch})\n")
    print(f"{'path':<50} {'entries':>8} {'per second (median)':>20} {'range':>16}")
    for label, row in (("plain row inserts (same entries, same batches)", plain),
                       ("Merkle log: sealed leaves + nodes + signed head", merkle)):
        print(f"{label:<50} {row['entries']:>8,} {row['per_second']:>20,} "
              f"{row['min_per_second']:>7,}–{row['max_per_second']:,}")
    print(f"\nInclusion proofs (real proof code; tree of {head.size:,} stored leaves: "
          f"{max(len(p) for p in stored)} hashes max)\n")
    print(f"{'leaves':>12} {'hashes':>7} {'bytes':>6} {'build µs p50':>13} {'verify µs p50':>14}")
    for row in sizes:
        print(f"{row['leaves']:>12,} {row['proof_hashes_max']:>7} {row['proof_bytes_max']:>6} "
              f"{row['build_us_p50']:>13} {row['verify_us_p50']:>14}")
    print("\nTargets: at least 20,000 appends/s per process; inclusion proofs under 1 KB at "
          "100 million leaves.")
    results = {"meta": {"backend": backend, "batch": args.batch, "git": git_state()},
               "plain": plain, "merkle": merkle, "proofs": sizes,
               "stored_proof_hashes_max": max(len(p) for p in stored)}
    close_run(results, started, args.json)
    platform.close()


if __name__ == "__main__":
    main()
