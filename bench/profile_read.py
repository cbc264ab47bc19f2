#!/usr/bin/env python
"""Profile-read benchmark: what the access rules and the encryption cost, measured in one run.

Part 1, HTTP (per backend, SQLite and/or PostgreSQL). One synthetic population (generate()) is
loaded through the service's own crypto; the bench adds a plaintext copy of the same profile
fields (plus phone and email) in `bench_plain_profiles`, and serves the real app with one extra
route. Two paths are measured against the same uvicorn process (1 worker), by the same client:

  protected  GET /v1/people/{id}/profile  session auth + relationship from the friendship
             tables + the access decision + AES-GCM decryption of the visible fields
  plain      GET /bench/plain/{id}        the same session auth, then one primary-key read of
             the plaintext copy, every field returned: no relationship, no decision, no crypto

Requests are random (viewer, subject) pairs: one third friends, one third friends of friends,
one third strangers; every viewer has a real session. After a warm-up the two paths run in
alternating rounds (ABBA...) over the very same pairs, so neither gets a warmer cache.

Part 2, the access decision alone, on one core: `relationship_between` + `decide` over an
in-memory graph, beside pycasbin deciding the same (viewer, subject, audience) triples on the
same graph with a model written below (see CASBIN_MODEL). Both must give the same answer for
every triple.

    .venv/bin/python bench/profile_read.py                  # 100,000 people, both backends
    .venv/bin/python bench/profile_read.py --quick --backend sqlite --json /tmp/r.json

Prints a table on stdout (progress goes to stderr); `--json PATH` also writes the figures.
The server process imports this module (`uvicorn --factory profile_read:bench_app`), so keep
the module's top level free of side effects.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform as platform_module
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from pydantic import BaseModel
from run_record import close_run, git_state, log  # the bench folder is on sys.path
from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from palisade.domain.errors import NotFound
from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.schemas import ProfileFields

BENCH_DIR = Path(__file__).resolve().parent
HTTP_TARGET = 1.5  # protected may cost at most 1.5x plain
DECISION_TARGET = 10.0  # our decision at least 10x casbin's
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PATHS = {"protected": "/v1/people/{}/profile", "plain": "/bench/plain/{}"}


# =====================================================================================
# Server side: the plain route and the uvicorn factory (runs in the server process)
# =====================================================================================

class BenchBase(DeclarativeBase):
    """Kept apart from palisade's metadata: the bench table is not part of the schema."""


class PlainProfile(BenchBase):
    __tablename__ = "bench_plain_profiles"
    person_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fields: Mapped[str] = mapped_column(Text)  # JSON text: every field, in plaintext


class PlainOut(BaseModel):
    person_id: str
    fields: ProfileFields


plain_router = APIRouter(tags=["bench"])


@plain_router.get("/bench/plain/{person_id}", response_model=PlainOut,
                  response_model_exclude_none=True)
def plain_profile(auth: Auth, p: PlatformDep,
                  person_id: str = PathParam(max_length=64)) -> PlainOut:
    """The same read with policy and encryption switched off: same session auth (`Auth`),
    same unit of work and ORM primary-key get, same response model; no relationship, no
    decision, no decryption."""
    with p.uow() as session:
        row = session.get(PlainProfile, person_id)
        if row is None:
            raise NotFound("No such person.")
        fields = json.loads(row.fields)
    return PlainOut(person_id=person_id, fields=ProfileFields(**fields))


def bench_app() -> FastAPI:
    """Factory for `uvicorn --factory profile_read:bench_app`: settings from the environment
    (PALISADE_*), exactly like `palisade serve`, plus the plain route."""
    from palisade.bootstrap import build
    from palisade.config import Settings
    from palisade.entrypoints.http.app import create_app
    from palisade.logging import configure

    settings = Settings()
    configure(settings.log_level)
    app = create_app(build(settings))
    app.include_router(plain_router)
    return app


# =====================================================================================
# Load driver (runs in its own process: `profile_read.py --drive SPEC OUT`)
# =====================================================================================

_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU spent by the app server process and, for PostgreSQL, by the client backends
    connected to the bench database (the SQL work happens there, not in the app)."""

    def __init__(self, server_pid: int, pg_admin: str | None, pg_database: str | None) -> None:
        self.server_pid = server_pid
        self.pg = None
        self.pg_database = pg_database
        if pg_admin and pg_database:
            import psycopg

            self.pg = psycopg.connect(pg_admin, autocommit=True)

    def snapshot(self) -> dict[str, Any]:
        db: dict[int, float] = {}
        if self.pg is not None:
            pids = [r[0] for r in self.pg.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                "AND backend_type = 'client backend'", (self.pg_database,))]
            for pid in pids:
                cpu = _proc_cpu(pid)
                if cpu is not None:
                    db[pid] = cpu
        return {"app": _proc_cpu(self.server_pid), "db": db, "client": time.process_time()}

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        app = (after["app"] - before["app"]) if None not in (after["app"], before["app"]) \
            else float("nan")
        db = sum(cpu - before["db"].get(pid, 0.0) for pid, cpu in after["db"].items())
        return {"app": app, "db": db, "client": after["client"] - before["client"]}

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()


def _drive_phase(clients: list[Any], path: str, items: list[list[str]]
                 ) -> tuple[float, list[float], Counter[str]]:
    queue: deque[list[str]] = deque(items)
    template = PATHS[path]
    results: list[tuple[list[float], Counter[str]]] = []

    def worker(client: Any) -> None:
        lat: list[float] = []
        errors: Counter[str] = Counter()
        while True:
            try:
                token, subject, expected = queue.popleft()
            except IndexError:
                break
            started = time.perf_counter()
            response = client.get(template.format(subject),
                                  headers={"Authorization": "Bearer " + token})
            body = response.content
            lat.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors[f"status_{response.status_code}"] += 1
                continue
            doc = json.loads(body)
            if path == "protected" and doc.get("relationship") != expected:
                errors["wrong_relationship"] += 1
            if not doc.get("fields", {}).get("name"):
                errors["no_name"] += 1
        results.append((lat, errors))

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    for lat, err in results:
        latencies.extend(lat)
        errors.update(err)
    return wall, latencies, errors


def drive(spec_path: str, out_path: str) -> None:
    import httpx

    spec = json.loads(Path(spec_path).read_text())
    clients = [httpx.Client(base_url=spec["base_url"], timeout=60.0)
               for _ in range(spec["clients"])]
    meter = CpuMeter(spec["server_pid"], spec.get("pg_admin"), spec.get("pg_database"))
    try:
        warm = spec["warmup"]
        step = max(1, -(-len(warm) // 4))
        for i, k in enumerate(range(0, len(warm), step)):  # alternate in the warm-up too
            for path in ("protected", "plain") if i % 2 == 0 else ("plain", "protected"):
                _drive_phase(clients, path, warm[k:k + step])
        out: dict[str, dict[str, Any]] = {
            p: {"wall": 0.0, "latencies_ms": [], "errors": Counter(), "round_rps": [],
                "cpu": {"app": 0.0, "db": 0.0, "client": 0.0}}
            for p in PATHS}
        for r, batch in enumerate(spec["rounds"]):
            order = ("protected", "plain") if r % 2 == 0 else ("plain", "protected")
            for path in order:
                before = meter.snapshot()
                wall, lat, errors = _drive_phase(clients, path, batch)
                cpu = CpuMeter.delta(before, meter.snapshot())
                acc = out[path]
                acc["wall"] += wall
                acc["latencies_ms"].extend(x * 1000 for x in lat)
                acc["errors"].update(errors)
                acc["round_rps"].append(len(lat) / wall)
                for k in cpu:
                    acc["cpu"][k] += cpu[k]
        Path(out_path).write_text(json.dumps(out))
    finally:
        meter.close()
        for c in clients:
            c.close()


# =====================================================================================
# The in-memory graph and the casbin model (part 2)
# =====================================================================================

_EMPTY: frozenset[str] = frozenset()


class DictGraph:
    """The `SocialGraph` port over a dict of friend sets and a set of (blocker, blocked)."""

    __slots__ = ("friends", "blocks")

    def __init__(self, friends: dict[str, frozenset[str]],
                 blocks: set[tuple[str, str]]) -> None:
        self.friends = friends
        self.blocks = blocks

    def is_blocked_between(self, a: str, b: str) -> bool:
        blocks = self.blocks
        return (a, b) in blocks or (b, a) in blocks

    def are_friends(self, a: str, b: str) -> bool:
        return b in self.friends.get(a, _EMPTY)

    def have_mutual_friend(self, a: str, b: str) -> bool:
        return not self.friends.get(a, _EMPTY).isdisjoint(self.friends.get(b, _EMPTY))


# Casbin's default role manager answers g(a, b) by walking role links transitively (up to
# `max_hierarchy_level`, 10 by default). Friendship rows in one `g` would therefore make a
# friend of a friend of a friend... a "friend". So the friendship graph is loaded twice, into
# two role managers whose depth the bench limits after loading (has_link counts the person
# themself as level 1):
#   g  = friendships, depth 2 -> g(v, s)  is "v and s are friends"
#   g2 = friendships, depth 3 -> g2(v, s) is "friends, or at most two hops apart", i.e. a
#        friend or a friend of a friend (a mutual friend)
#   g3 = blocks (blocker, blocked), depth 2, asked in both directions
# Every role manager also says g(x, x) is true, so "self" is decided first (r.sub == r.obj).
# The policy rows say which relationship reaches which audience; precedence (self, then
# blocks, then the closest tie) lives in the matcher. Friends also pass the fof row because
# g2 includes one hop, and everyone not blocked passes the `anyone` row.
# This keeps casbin deciding from its own data (no callback into our code, which would make
# the comparison circular); the alternative, materialised friend-of-friend rows, needs
# a row per friend of a friend (~230 per person here, ~23 million rows at 100,000).
CASBIN_MODEL = """\
[request_definition]
r = sub, obj, aud

[policy_definition]
p = rel, aud

[role_definition]
g = _, _
g2 = _, _
g3 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.aud == p.aud && (r.sub == r.obj || (!g3(r.sub, r.obj) && !g3(r.obj, r.sub) && \
(p.rel == "anyone" || (p.rel == "fof" && g2(r.sub, r.obj)) || \
(p.rel == "friend" && g(r.sub, r.obj)))))
"""

CASBIN_POLICY = [
    ["self", "only_me"],  # r.sub == r.obj passes every row; only the owner reaches only_me
    ["friend", "friends"],
    ["fof", "friends_of_friends"],
    ["anyone", "everyone"],
]
CASBIN_DEPTHS = {"g": 2, "g2": 3, "g3": 2}


def build_casbin(workdir: Path, graph: DictGraph) -> Any:
    import casbin
    from casbin.persist.adapter import Adapter

    class RowsAdapter(Adapter):  # what a database adapter does: rows straight into the model
        def load_policy(self, model: Any) -> None:
            assertions = model.model
            assertions["p"]["p"].policy.extend(list(r) for r in CASBIN_POLICY)
            g, g2, g3 = (assertions["g"][k].policy for k in ("g", "g2", "g3"))
            for person, friends in graph.friends.items():
                for friend in friends:
                    g.append([person, friend])
                    g2.append([person, friend])
            g3.extend([a, b] for a, b in graph.blocks)

    conf = workdir / "casbin_profile_model.conf"
    conf.write_text(CASBIN_MODEL)
    enforcer = casbin.Enforcer(str(conf), RowsAdapter())
    for ptype, depth in CASBIN_DEPTHS.items():
        rm = enforcer.get_named_role_manager(ptype)
        assert enforcer.model.model["g"][ptype].rm is rm  # the one enforce() consults
        rm.max_hierarchy_level = depth
    return enforcer


# =====================================================================================
# Driver-side helpers (the bench's main process)
# =====================================================================================

@dataclass
class Graphs:
    ids: list[str]
    friends: dict[str, frozenset[str]]
    graph: DictGraph  # no blocks: what the database holds
    edges: int


def make_graphs(population: Any) -> Graphs:
    ids = [p.id for p in population.people]
    friends = {ids[i]: frozenset(ids[j] for j in p.friends)
               for i, p in enumerate(population.people)}
    edges = sum(len(f) for f in friends.values()) // 2
    return Graphs(ids, friends, DictGraph(friends, set()), edges)


def pick_pair(rng: random.Random, kind: str, viewers: list[str], g: Graphs
              ) -> tuple[str, str]:
    """A (viewer, subject) pair of the wanted kind: friend, friend_of_friend or stranger."""
    friends = g.friends
    for _ in range(10_000):
        v = rng.choice(viewers)
        fv = friends[v]
        if kind == "friend":
            if fv:
                return v, rng.choice(sorted(fv))
        elif kind == "friend_of_friend":
            if not fv:
                continue
            via = rng.choice(sorted(fv))
            cands = sorted(friends[via] - fv - {v})
            if cands:
                return v, rng.choice(cands)
        else:
            s = rng.choice(g.ids)
            if s != v and s not in fv and fv.isdisjoint(friends[s]):
                return v, s
    raise RuntimeError(f"could not find a {kind} pair")


def http_pairs(rng: random.Random, n: int, viewers: list[str], g: Graphs
               ) -> list[tuple[str, str, str]]:
    from palisade.domain.access import relationship_between

    kinds = ("friend", "friend_of_friend", "stranger")
    out = []
    for k in range(n):
        kind = kinds[k % 3]
        v, s = pick_pair(rng, kind, viewers, g)
        assert relationship_between(v, s, g.graph).value == kind
        out.append((v, s, kind))
    rng.shuffle(out)
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Backend:
    name: str
    url: str
    drop: Any = None  # callable that removes the database, for PostgreSQL
    extra: dict[str, Any] = field(default_factory=dict)


def make_backend(name: str, workdir: Path) -> Backend:
    if name == "sqlite":
        return Backend(name, f"sqlite:///{workdir / 'palisade_bench.db'}")
    base, dbname, admin, drop = scratch_postgres_database(
        os.environ.get("PALISADE_BENCH_POSTGRES_URL", DEFAULT_PG_URL), "palisade_bench_")
    url = base.set(database=dbname).render_as_string(hide_password=False)
    return Backend(name, url, drop, {"database": dbname, "admin": admin})


def scratch_postgres_database(url: str, prefix: str) -> tuple[Any, str, str, Callable[[], None]]:
    """Create a fresh database `prefix<random hex>` on the server of `url`; returns the parsed
    URL, the database name, the admin connection string and a function that drops it."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    dbname = prefix + secrets.token_hex(6)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    return base, dbname, admin, drop


def batching_repository(session: Any, flush_rows: int = 20_000) -> Any:
    """A Repository whose `bulk_insert` buffers rows and writes them in big batches.

    `load()` inserts each conversation and its messages with two statements of one or a few
    rows (~100,000 round trips at 100,000 people, most of PostgreSQL's load time). Buffered,
    the same rows go in a few hundred large statements. Tables are always flushed in the
    order they were first seen, which is `load()`'s parent-before-child order, so foreign
    keys hold. Loading is not what this bench measures; the rows are identical."""
    from palisade.adapters.storage.repository import Repository

    class BatchingRepository(Repository):
        def __init__(self, s: Any) -> None:
            super().__init__(s)
            self._buffers: dict[type, list[dict[str, object]]] = {}
            self._buffered = 0

        def bulk_insert(self, table: type, rows: Any) -> None:
            rows = list(rows)
            self._buffers.setdefault(table, []).extend(rows)
            self._buffered += len(rows)
            if self._buffered >= flush_rows:
                self.flush_buffers()

        def flush_buffers(self) -> None:
            for table, rows in self._buffers.items():
                for k in range(0, len(rows), 5000):
                    super().bulk_insert(table, rows[k:k + 5000])
                rows.clear()
            self._buffered = 0

    return BatchingRepository(session)


def settings_env(workdir: Path, url: str) -> dict[str, str]:
    return {
        "PALISADE_HOME": str(workdir),
        "PALISADE_DATABASE_URL": url,
        "PALISADE_KEYS_FILE": str(workdir / "keys.json"),
        "PALISADE_LOG_LEVEL": "WARNING",
        # The purge of disappeared messages is a background job, not the read path; keep it
        # from landing inside one round and not the other.
        "PALISADE_PURGE_INTERVAL_SECONDS": "3600",
    }


def prepare(backend: Backend, workdir: Path, population: Any, viewers: list[str]
            ) -> dict[str, str]:
    """Migrate, load the population through the service's crypto, add the plaintext copy,
    gather statistics, and open a session for every viewer. Returns viewer -> token."""
    from sqlalchemy import insert, text

    from palisade.adapters.crypto.blind_index import BlindIndex
    from palisade.adapters.storage.repository import Repository
    from palisade.bootstrap import build, initialise
    from palisade.config import Settings
    from palisade.demo.population import load

    env = settings_env(workdir, backend.url)
    settings = Settings(home=workdir, database_url=backend.url, keys_file=Path(env[
        "PALISADE_KEYS_FILE"]), log_level="WARNING", _env_file=None)
    initialise(settings)
    platform = build(settings)
    try:
        bidx = BlindIndex(platform.keyrings.get().secrets["blind_index"])
        n = len(population.people)
        done = [0, time.perf_counter()]

        def progress(k: int) -> None:
            done[0] += k
            if done[0] % max(1, n // 5) < k or done[0] == n:
                log(f"  {backend.name}: loaded {done[0]:,}/{n:,} people "
                    f"({time.perf_counter() - done[1]:.0f} s)")

        started = time.perf_counter()
        with platform.uow() as session:
            repo = batching_repository(session)
            load(repo, population, platform.envelope, bidx, progress=progress)
            repo.flush_buffers()
        backend.extra["load_seconds"] = round(time.perf_counter() - started, 1)
        log(f"  {backend.name}: population loaded in {backend.extra['load_seconds']} s")

        BenchBase.metadata.create_all(platform.engine)
        with platform.uow() as session:
            rows = []
            for p in population.people:
                rows.append({"person_id": p.id,
                             "fields": json.dumps({**p.fields, "phone": p.phone,
                                                   "email": p.email})})
                if len(rows) >= 5000:
                    session.execute(insert(PlainProfile), rows)
                    rows = []
            if rows:
                session.execute(insert(PlainProfile), rows)

        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            # Planner statistics, as a live database would have them (PostgreSQL's autovacuum
            # does this on its own after a bulk load; SQLite only when asked).
            c.execute(text("VACUUM ANALYZE" if backend.name == "postgresql" else "ANALYZE"))

        tokens: dict[str, str] = {}
        with platform.uow() as session:
            repo = Repository(session)
            now = platform.clock()
            for v in viewers:
                tokens[v], _ = platform.accounts._new_session(repo, v, "bench", now)
        return tokens
    finally:
        platform.close()


def start_server(workdir: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALISADE_")}
    env.update(settings_env(workdir, url))
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "profile_read:bench_app",
           "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--log-level", "warning", "--no-access-log",
           "--no-proxy-headers"]
    server = subprocess.Popen(cmd, cwd=workdir, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(server, base)
    return server, base


def wait_until_serving(server: subprocess.Popen[bytes], base: str, seconds: float = 60) -> None:
    """Wait for `/healthz` to answer 200; stop the server and raise if it never does."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server did not come up within {seconds:g} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def summarise(path_result: dict[str, Any]) -> dict[str, Any]:
    lat = sorted(path_result["latencies_ms"])
    n = len(lat)
    return {
        "requests": n,
        "errors": dict(path_result["errors"]),
        "seconds": round(path_result["wall"], 3),
        "rps": n / path_result["wall"],
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "mean_ms": sum(lat) / n,
        "round_rps": [round(x, 1) for x in path_result["round_rps"]],
        # CPU per request: the app server process; the PostgreSQL backends serving it (0 for
        # SQLite, which runs inside the app process); the load-generating client.
        "app_cpu_ms": path_result["cpu"]["app"] * 1000 / n,
        "db_cpu_ms": path_result["cpu"]["db"] * 1000 / n,
        "server_cpu_ms": (path_result["cpu"]["app"] + path_result["cpu"]["db"]) * 1000 / n,
        "client_cpu_ms": path_result["cpu"]["client"] * 1000 / n,
    }


def run_http(backend_name: str, args: argparse.Namespace, workdir: Path, population: Any,
             g: Graphs, rng: random.Random) -> dict[str, Any]:
    backend = make_backend(backend_name, workdir)
    log(f"{backend_name}: database {backend.extra.get('database', backend.url)}")
    try:
        viewers = rng.sample(g.ids, min(args.viewers, len(g.ids)))
        tokens = prepare(backend, workdir, population, viewers)
        total = args.rounds * args.round_size
        pairs = http_pairs(rng, args.warmup + total, viewers, g)
        mix = Counter(kind for _, _, kind in pairs[args.warmup:])
        items = [[tokens[v], s, kind] for v, s, kind in pairs]
        spec: dict[str, Any] = {
            "clients": args.clients,
            "pg_admin": backend.extra.get("admin"),
            "pg_database": backend.extra.get("database"),
            "warmup": items[:args.warmup],
            "rounds": [items[args.warmup + r * args.round_size:
                             args.warmup + (r + 1) * args.round_size]
                       for r in range(args.rounds)],
        }
        load_before = round(os.getloadavg()[0], 2)
        server, base = start_server(workdir, backend.url)
        try:
            spec["base_url"] = base
            spec["server_pid"] = server.pid
            spec_path, out_path = workdir / "drive-spec.json", workdir / "drive-out.json"
            spec_path.write_text(json.dumps(spec))
            log(f"{backend_name}: {args.warmup} warm-up pairs, then {args.rounds} rounds x "
                f"{args.round_size} requests per path, {args.clients} clients")
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--drive",
                            str(spec_path), str(out_path)], check=True)
            raw = json.loads(out_path.read_text())
        finally:
            stop_server(server)
        result: dict[str, Any] = {p: summarise(raw[p]) for p in PATHS}
        prot, plain = result["protected"], result["plain"]
        result["cost_ratio_rps"] = plain["rps"] / prot["rps"]
        result["ratio_p50"] = prot["p50_ms"] / plain["p50_ms"]
        result["ratio_p99"] = prot["p99_ms"] / plain["p99_ms"]
        result["ratio_cpu"] = prot["server_cpu_ms"] / plain["server_cpu_ms"]
        result["loadavg_1m_before"] = load_before
        result["target"] = HTTP_TARGET
        result["met"] = bool(max(result["cost_ratio_rps"], result["ratio_p50"],
                                 result["ratio_p99"]) <= HTTP_TARGET)
        result["mix"] = dict(mix)
        result["load_seconds"] = backend.extra.get("load_seconds")
        log(f"{backend_name}: protected {prot['rps']:.0f} req/s, plain {plain['rps']:.0f} "
            f"req/s, cost ratio {result['cost_ratio_rps']:.2f}")
        return result
    finally:
        if backend.drop is not None:
            backend.drop()
            log(f"{backend_name}: dropped database {backend.extra['database']}")


def decision_triples(rng: random.Random, n: int, g: Graphs, blocks: set[tuple[str, str]]
                     ) -> list[tuple[str, str, Any]]:
    from palisade.domain.profile import Audience

    audiences = list(Audience)
    block_list = sorted(blocks)
    out: list[tuple[str, str, Any]] = []
    for k in range(n):
        slot = k % 20  # 6 friend, 6 fof, 6 stranger, 1 blocked, 1 self in every 20
        if slot < 6:
            v, s = pick_pair(rng, "friend", g.ids, g)
        elif slot < 12:
            v, s = pick_pair(rng, "friend_of_friend", g.ids, g)
        elif slot < 18:
            v, s = pick_pair(rng, "stranger", g.ids, g)
        elif slot == 18:
            v, s = rng.choice(block_list)
            if rng.random() < 0.5:
                v, s = s, v
        else:
            v = s = rng.choice(g.ids)
        out.append((v, s, rng.choice(audiences)))
    rng.shuffle(out)
    return out


def run_decisions(args: argparse.Namespace, workdir: Path, g: Graphs,
                  rng: random.Random) -> dict[str, Any]:
    from palisade.domain.access import decide, relationship_between

    # Blocks do not come with the generated population; add some (1% of people block one
    # of their friends, another 1% someone at random) so blocked viewers are exercised and
    # a block must override a friendship.
    blocks: set[tuple[str, str]] = set()
    for blocker in rng.sample(g.ids, max(2, len(g.ids) // 100)):
        if g.friends[blocker]:
            blocks.add((blocker, rng.choice(sorted(g.friends[blocker]))))
    for blocker in rng.sample(g.ids, max(2, len(g.ids) // 100)):
        other = rng.choice(g.ids)
        if other != blocker:
            blocks.add((blocker, other))
    graph = DictGraph(g.friends, blocks)

    started = time.perf_counter()
    enforcer = build_casbin(workdir, graph)
    casbin_load = time.perf_counter() - started
    log(f"decision: casbin loaded {2 * g.edges:,} directed friendships twice and "
        f"{len(blocks):,} blocks in {casbin_load:.1f} s")

    triples = decision_triples(rng, args.decisions, g, blocks)
    ours_triples = triples
    casbin_triples = [(v, s, str(a.value)) for v, s, a in triples]
    relationships = Counter(relationship_between(v, s, graph).value for v, s, _ in triples)

    def run_ours() -> list[bool]:
        out: list[bool] = []
        append = out.append
        for v, s, a in ours_triples:
            append(decide(relationship_between(v, s, graph), a).allowed)
        return out

    def run_casbin() -> list[bool]:
        out: list[bool] = []
        append = out.append
        enforce = enforcer.enforce
        for v, s, a in casbin_triples:
            append(enforce(v, s, a))
        return out

    gc.collect()
    gc.freeze()  # the big graphs are not garbage: keep full collections from walking them
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if affinity:
        os.sched_setaffinity(0, {min(affinity)})  # one core
    try:
        ours_answers = run_ours()  # warm
        passes, ours_seconds = 0, 0.0
        while ours_seconds < args.decision_seconds or passes < 3:
            t = time.perf_counter()
            ours_answers = run_ours()
            ours_seconds += time.perf_counter() - t
            passes += 1
        run_casbin_warm = casbin_triples[: max(1, len(casbin_triples) // 20)]
        for v, s, a in run_casbin_warm:
            enforcer.enforce(v, s, a)
        t = time.perf_counter()
        casbin_answers = run_casbin()
        casbin_seconds = time.perf_counter() - t
    finally:
        if affinity:
            os.sched_setaffinity(0, affinity)
        gc.unfreeze()

    disagreements = [(t, o, c) for t, o, c in zip(triples, ours_answers, casbin_answers)
                     if o != c]
    if disagreements:
        (v, s, a), o, c = disagreements[0]
        raise AssertionError(
            f"casbin and palisade disagree on {len(disagreements)} of {len(triples)} triples, "
            f"e.g. viewer {v} subject {s} audience {a.value}: ours {o}, casbin {c}, "
            f"relationship {relationship_between(v, s, graph).value}")
    ours_rate = passes * len(triples) / ours_seconds
    casbin_rate = len(triples) / casbin_seconds
    result = {
        "triples": len(triples),
        "agree": True,
        "allowed": sum(ours_answers),
        "relationships": dict(relationships),
        "blocks": len(blocks),
        "ours_per_s": ours_rate,
        "casbin_per_s": casbin_rate,
        "ratio": ours_rate / casbin_rate,
        "target": DECISION_TARGET,
        "met": ours_rate / casbin_rate >= DECISION_TARGET,
        "ours_passes": passes,
        "casbin_load_seconds": round(casbin_load, 1),
        "casbin_version": _version("casbin"),
    }
    log(f"decision: ours {ours_rate:,.0f}/s, casbin {casbin_rate:,.0f}/s, "
        f"{result['ratio']:.0f}x, all {len(triples):,} triples agree")
    del enforcer
    return result


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def render_table(results: dict[str, Any]) -> Any:
    from rich.table import Table

    meta = results["meta"]
    table = Table(title=f"Profile reads and the access decision: {meta['people']:,} people, "
                        f"{meta['friendships']:,} friendships")
    for col, just in (("measurement", "left"), ("backend", "left"), ("ours", "right"),
                      ("comparison", "right"), ("ratio", "right"), ("target", "right"),
                      ("met?", "center")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def yes(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    within = f"<= {HTTP_TARGET:g}x"
    for name, r in results["http"].items():
        prot, plain = r["protected"], r["plain"]
        table.add_row("read: requests/s, protected vs plain", name,
                      f"{prot['rps']:,.0f}", f"{plain['rps']:,.0f}",
                      f"{r['cost_ratio_rps']:.2f}x", within,
                      yes(r["cost_ratio_rps"] <= HTTP_TARGET))
        table.add_row("read: p50 ms, protected vs plain", name,
                      f"{prot['p50_ms']:.1f}", f"{plain['p50_ms']:.1f}",
                      f"{r['ratio_p50']:.2f}x", within, yes(r["ratio_p50"] <= HTTP_TARGET))
        table.add_row("read: p99 ms, protected vs plain", name,
                      f"{prot['p99_ms']:.1f}", f"{plain['p99_ms']:.1f}",
                      f"{r['ratio_p99']:.2f}x", within, yes(r["ratio_p99"] <= HTTP_TARGET))
        table.add_row("read: server CPU ms/request (app + db)", name,
                      f"{prot['server_cpu_ms']:.2f}", f"{plain['server_cpu_ms']:.2f}",
                      f"{r['ratio_cpu']:.2f}x", within, yes(r["ratio_cpu"] <= HTTP_TARGET),
                      end_section=True)
    d = results.get("decision")
    if d:
        table.add_row("access decision: decisions/s, 1 core, ours vs pycasbin", "in-memory",
                      f"{d['ours_per_s']:,.0f}", f"{d['casbin_per_s']:,.0f}",
                      f"{d['ratio']:.0f}x faster", f">= {DECISION_TARGET:g}x", yes(d["met"]))
    return table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=None,
                    help="population size (default 100,000; 2,000 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="small population and few requests (smoke test, well under a minute)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    ap.add_argument("--rounds", type=int, default=None, help="measured rounds per backend")
    ap.add_argument("--round-size", type=int, default=None, help="requests per path per round")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up requests per path")
    ap.add_argument("--viewers", type=int, default=None, help="viewers with a session")
    ap.add_argument("--decisions", type=int, default=None,
                    help="(viewer, subject, audience) triples for the decision benchmark")
    ap.add_argument("--decision-seconds", type=float, default=None,
                    help="minimum time spent timing our decision (repeated passes)")
    ap.add_argument("--skip-decision", action="store_true", help="only the HTTP part")
    ap.add_argument("--skip-http", action="store_true", help="only the decision part")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--mean-degree", type=float, default=12.0)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (SQLite)")
    ap.add_argument("--drive", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {
        "people": 2_000 if quick else 100_000,
        "rounds": 4 if quick else 10,
        "round_size": 100 if quick else 400,
        "warmup": 60 if quick else 400,
        "viewers": 200 if quick else 2_000,
        "decisions": 3_000 if quick else 20_000,
        "decision_seconds": 0.5 if quick else 3.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.rounds % 2:
        args.rounds += 1  # each path goes first equally often
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.drive:
        drive(*args.drive)
        return 0

    from rich.console import Console

    from palisade.demo.population import generate

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="palisade-bench-"))
    try:
        log(f"generating {args.people:,} people (seed {args.seed})")
        population = generate(args.people, args.seed, args.mean_degree)
        g = make_graphs(population)
        log(f"{len(g.ids):,} people, {g.edges:,} friendships "
            f"(mean degree {2 * g.edges / len(g.ids):.1f})")
        results: dict[str, Any] = {
            "meta": {
                "people": len(g.ids), "friendships": g.edges, "seed": args.seed,
                "quick": args.quick, "clients": args.clients, "rounds": args.rounds,
                "round_size": args.round_size, "requests_per_path": args.rounds *
                args.round_size, "warmup_per_path": args.warmup, "viewers": args.viewers,
                "cpus": os.cpu_count(), "python": platform_module.python_version(),
                "machine": platform_module.machine(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "loadavg_1m_start": round(os.getloadavg()[0], 2),
                "git": git_state(),
                "versions": {d: _version(d) for d in ("sqlalchemy", "fastapi", "uvicorn",
                                                      "httpx", "psycopg", "casbin")},
                "command": "python bench/profile_read.py " + " ".join(
                    sys.argv[1:] if argv is None else argv),
            },
            "http": {},
        }
        for name in [] if args.skip_http else backends:
            rng = random.Random(f"{args.seed}-{name}")
            results["http"][name] = run_http(name, args, workdir, population, g, rng)
        if not args.skip_decision:
            results["decision"] = run_decisions(args, workdir, g,
                                                random.Random(f"{args.seed}-decision"))
        close_run(results, started, args.json)
        console = Console() if sys.stdout.isatty() else Console(width=132)
        console.print(render_table(results))
        log(f"done in {results['meta']['seconds']} s")
        return 0
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
