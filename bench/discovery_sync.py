#!/usr/bin/env python
"""Discovery-sync benchmark: 1,000-identifier address-book syncs against a large population,
the defended sync beside an undefended importer ("B0"), in one run, over HTTP.

Per backend (SQLite and/or PostgreSQL), one synthetic world is loaded (1,000,000 people by
default) with the service's own crypto: a wrapped per-person data key, a phone identifier (and
an email for 30% of people) as blind index + sealed value, each with a discoverability setting
(30% everyone, 50% mutual_contacts, 15% friends_of_friends, 5% nobody), and a sealed profile
with a name. People live in clustered communities with friendships (mean degree about 12).

Searchers are existing members: each has friends, and most of the members in their address
book have them in their own synced book (preloaded `address_book_edges`), so, as in a real
honest book, most people they find know them back. Each searcher's book has 1,000 entries in
mixed formatting (E.164, "(201) 555-0123", "201-555-0123", "201 555 0123", "+1 201-555-0123",
emails in mixed case), about 40% of which belong to members. Every searcher has a real session
and its own client address (a distinct /24, via X-Forwarded-For from a trusted proxy), so no
per-account or per-address allowance is exhausted: the runs measure answers, not refusals.

Four paths against the same uvicorn process (1 worker), by the same client, on the same books:

  B0          POST /bench/b0/sync      the 2019 importer: same session auth and request body,
              the same normaliser (read_entry) and blind index, one look-up of every entry,
              every member found returned with their name decrypted. No discoverability rule,
              no guard, no seen-set, no address-book edges.
  B0 + book   POST /bench/b0-book/sync B0 that also keeps the members it found (as ids), as the
              2019 importer kept uploaded contacts: the state any mutual-contacts feature must
              write, with no defence. Its own table, shaped like address_book_edges (keys,
              index, the same INSERT), so it never warms the real sync's rows; the look-up
              holds the rows found, as the sync's does. A reference for what the defences
              themselves cost; the target is against B0.
  first sync  POST /v1/discovery/sync  the real route, default DiscoveryLimits, the real guard
              (embedded counter store on SQLite; Redis on PostgreSQL, as in production), a
              searcher's first sync: every identifier is new and charged.
  re-sync     POST /v1/discovery/sync  the same searcher sends the same book again: all seen,
              nothing charged.

Searchers are split into rounds. In every round each searcher of the round goes through B0,
B0 + book and its first sync (each of the three leads in turn, so none always gets the warmer
cache), then its re-sync. Every response must be 200 and is checked (B0 must
find exactly the members in the book; a first sync must charge about 1,000, a re-sync 0).
Both syncs are `mode: full` with the whole book. One client by default (`--clients`), so a
latency is one request's service time, not time queued behind other requests.

Figures: p50/p99 are client-side (send to last body byte), nearest rank. "ids/s/process wall"
is identifiers sent / wall seconds of the path (with one client: one request at a time);
"busy" is identifiers / CPU-seconds of the uvicorn process, what one fully busy process would
sustain when the database (PostgreSQL backends, Redis) runs on other cores. Server CPU/request
adds the PostgreSQL backends and Redis to the app process. The JSON also has p90, the mean,
per-round p50s, the CPU split and the server's own palisade_discovery_* counters (an honest
run shows no refusals and no findings).

Loading: the world is generated and sealed once (one keyring serves both backends), then
bulk-loaded per backend: SQLite by executemany on the raw sqlite3 connection in 200,000-row
transactions, PostgreSQL by COPY. Secondary indexes (and PostgreSQL unique constraints) are
dropped for the load and rebuilt from their own definitions; PostgreSQL skips foreign-key
triggers for the loading session. Then ANALYZE / VACUUM ANALYZE, and 20 random people are
read back through the service's repository and crypto as a check.

    .venv/bin/python bench/discovery_sync.py                      # 1,000,000 people, both
    .venv/bin/python bench/discovery_sync.py --quick --backend sqlite --json /tmp/s.json

Prints a table on stdout (progress goes to stderr); `--json PATH` also writes the figures.
The server process imports this module (`uvicorn --factory discovery_sync:bench_app`), so keep
the module's top level free of side effects.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gc
import json
import math
import os
import platform as platform_module
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from palisade.adapters.storage.repository import Repository
from palisade.domain.discovery.address_book import read_entry
from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.schemas import ProfileFields, SyncIn
from palisade.services.people import PersonKeys

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # the helpers shared with the profile-read bench
    sys.path.insert(0, str(BENCH_DIR))

from profile_read import (  # noqa: E402
    CpuMeter,
    _proc_cpu,
    _version,
    free_port,
    percentile,
    scratch_postgres_database,
    stop_server,
    wait_until_serving,
)
from run_record import close_run, git_state, log  # noqa: E402

P50_TARGET_MS = 50.0  # a 1,000-identifier sync
COST_TARGET = 1.5  # the defended sync may cost at most 1.5x B0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
BOOK_SIZE = 1_000
REGISTERED_SHARE = 0.40  # of a book's entries, belong to members
KNOWS_BACK = 0.85  # of the members in a searcher's book (not friends), have the searcher
EMAIL_SHARE = 0.30  # of people, with an email identifier as well
SETTINGS_MIX = (("everyone", 0.30), ("mutual_contacts", 0.50), ("friends_of_friends", 0.15),
                ("nobody", 0.05))
PATHS = {"b0": "/bench/b0/sync", "b0book": "/bench/b0-book/sync", "first": "/v1/discovery/sync",
         "resync": "/v1/discovery/sync"}
PATH_LABELS = {"b0": "B0 (no limits)", "b0book": "B0 + book kept", "first": "first sync",
               "resync": "re-sync"}
B0_BOOK_TABLE = "bench_b0_book_edges"
LOADED_TABLES = ("persons", "data_keys", "identifiers", "profiles", "friendships",
                 "address_book_edges")


# =====================================================================================
# Server side: the B0 route and the uvicorn factory (runs in the server process)
# =====================================================================================

class B0Match(BaseModel):
    person_id: str
    identifiers: list[str]
    fields: ProfileFields


class B0Out(BaseModel):
    matches: list[B0Match]
    received: int
    unreadable: int


b0_router = APIRouter(tags=["bench"])


@b0_router.post("/bench/b0/sync", response_model=B0Out, response_model_exclude_none=True)
def b0_sync(body: SyncIn, auth: Auth, p: PlatformDep, request: Request) -> B0Out:
    """The 2019 importer: the same session auth (`Auth`), request model, normaliser and blind
    index as the real sync; every entry looked up, every member found returned with their
    name. No discoverability, no guard, no seen-set, no edges, no response shaping."""
    return _b0(body, auth, p, request, keep_book=False)


@b0_router.post("/bench/b0-book/sync", response_model=B0Out, response_model_exclude_none=True)
def b0_book_sync(body: SyncIn, auth: Auth, p: PlatformDep, request: Request) -> B0Out:
    """B0 that also keeps the members of the uploaded book (as ids), as the 2019 importer kept
    uploaded contacts for friend suggestions: the state any address-book feature with mutual
    contacts must write, without any defence. Written to its own table of the same shape as
    `address_book_edges` (keys, index, and the same insert), so it never warms the real sync's
    rows; like the sync, it holds the identifier rows it found (`members_by_bidx(hold_for=...)`)
    while it writes."""
    return _b0(body, auth, p, request, keep_book=True)


def _b0(body: SyncIn, auth: Auth, p: PlatformDep, request: Request, keep_book: bool) -> B0Out:
    bidx = request.app.state.bench_blind_index
    region = p.settings.default_region
    canonical: dict[str, Any] = {}
    unreadable = 0
    for raw in body.contacts:
        entry = read_entry(raw, region)
        if entry is None:
            unreadable += 1
        else:
            canonical.setdefault(entry.identifier.value, entry.identifier)
    by_bidx = {bidx.of(identifier): value for value, identifier in canonical.items()}
    matches: list[B0Match] = []
    with p.uow() as session:
        repo = Repository(session)
        found: dict[str, list[str]] = {}
        for row in repo.members_by_bidx(list(by_bidx),
                                       hold_for=auth.person_id if keep_book else None):
            found.setdefault(row.person_id, []).append(by_bidx[row.value_bidx])
        profiles = repo.profiles_with_keys(list(found))
        for pid, via in found.items():
            row = profiles.get(pid)
            if row is None:
                continue
            key = p.envelope.unwrap(pid, row.master_key_id, row.wrapped)
            fields = PersonKeys.open_fields(key, pid, row.fields_ct)
            matches.append(B0Match(person_id=pid, identifiers=via,
                                   fields=ProfileFields(name=fields.get("name"))))
        if keep_book:
            _keep_book(repo, auth.person_id, list(found), p.clock())
    return B0Out(matches=matches, received=len(body.contacts), unreadable=unreadable)


@functools.cache  # the table, built once in the server process
def _b0_book_table() -> Any:
    from sqlalchemy import Boolean, Column, Index, MetaData, Table

    from palisade.adapters.storage.tables import ID, UTCDateTime

    return Table(B0_BOOK_TABLE, MetaData(),
                 Column("owner_id", ID, primary_key=True),
                 Column("contact_id", ID, primary_key=True),
                 Column("created_at", UTCDateTime(), nullable=False),
                 Column("revealed_at", UTCDateTime()),
                 Column("vouches", Boolean, nullable=False),
                 Index(f"ix_{B0_BOOK_TABLE}_contact_owner", "contact_id", "owner_id"))


def _keep_book(repo: Repository, owner: str, members: list[str], now: datetime) -> None:
    """The same INSERT ... SELECT as `Repository.add_edges_always`, into B0's own table."""
    from palisade.adapters.storage.repository import edge_params, insert_edges

    pg = repo._is_pg()
    repo.s.connection().execute(insert_edges(_b0_book_table(), pg),
                                edge_params(owner, members, now, True, (), pg))


def bench_app() -> FastAPI:
    """Factory for `uvicorn --factory discovery_sync:bench_app`: settings from the environment
    (PALISADE_*), exactly like `palisade serve`, plus the B0 route."""
    from palisade.adapters.crypto.blind_index import BlindIndex
    from palisade.bootstrap import build
    from palisade.config import Settings
    from palisade.entrypoints.http.app import create_app, settle_garbage_collector
    from palisade.logging import configure

    settings = Settings()
    configure(settings.log_level)
    platform = build(settings)
    app = create_app(platform)
    # The same key bootstrap gives the real sync's BlindIndex (read once, never rotated).
    app.state.bench_blind_index = BlindIndex(platform.keyrings.get().secrets["blind_index"])
    app.include_router(b0_router)
    settle_garbage_collector()  # as app_from_environment does for `palisade serve`
    return app


# =====================================================================================
# Load driver (runs in its own process: `discovery_sync.py --drive SPEC OUT`)
# =====================================================================================

def _check(path: str, doc: dict[str, Any], expected_members: int, distinct: int,
           errors: Counter[str]) -> int:
    """Count what is wrong with one 200 answer; returns the number of matches."""
    matches = doc.get("matches", [])
    if any(not m.get("fields", {}).get("name") for m in matches):
        errors["match_without_name"] += 1
    if path in ("b0", "b0book"):
        if len(matches) != expected_members:
            errors["b0_member_count"] += 1
    else:
        if len(matches) > expected_members:
            errors["more_matches_than_members"] += 1
        charged = doc.get("charged", -1)
        if path == "first" and not distinct - 10 <= charged <= distinct:
            errors["first_sync_charge"] += 1  # a few lossy-tag collisions are expected
        if path == "resync" and charged != 0:
            errors["resync_charged"] += 1
    return len(matches)


def _drive_phase(clients: list[Any], path: str, items: list[dict[str, Any]],
                 bodies: list[bytes]) -> dict[str, Any]:
    queue: deque[dict[str, Any]] = deque(items)
    url = PATHS[path]
    results: list[tuple[list[float], Counter[str], list[int], list[str]]] = []

    def worker(client: Any) -> None:
        lat: list[float] = []
        errors: Counter[str] = Counter()
        found: list[int] = []
        samples: list[str] = []
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                break
            headers = {"Authorization": "Bearer " + item["token"],
                       "X-Forwarded-For": item["address"],
                       "Content-Type": "application/json"}
            started = time.perf_counter()
            response = client.post(url, content=bodies[item["book"]], headers=headers)
            body = response.content
            lat.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors[f"status_{response.status_code}"] += 1
                if len(samples) < 3:
                    samples.append(f"{response.status_code}: {body[:300]!r}")
                continue
            found.append(_check(path, json.loads(body), item["members"], item["distinct"],
                                errors))
        results.append((lat, errors, found, samples))

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    out: dict[str, Any] = {"wall": wall, "latencies": [], "errors": Counter(), "matches": [],
                           "samples": []}
    for lat, err, found, samples in results:
        out["latencies"].extend(lat)
        out["errors"].update(err)
        out["matches"].extend(found)
        out["samples"].extend(samples)
    return out


def drive(spec_path: str, out_path: str) -> None:
    import httpx

    spec = json.loads(Path(spec_path).read_text())
    bodies = [b.encode() for b in spec["bodies"]]
    clients = [httpx.Client(base_url=spec["base_url"], timeout=120.0)
               for _ in range(spec["clients"])]
    meter = CpuMeter(spec["server_pid"], spec.get("pg_admin"), spec.get("pg_database"))
    redis_pid = spec.get("redis_pid")
    out: dict[str, dict[str, Any]] = {
        p: {"wall": 0.0, "latencies_ms": [], "errors": Counter(), "matches": [],
            "identifiers": 0, "samples": [], "round_p50_ms": [],
            "cpu": {"app": 0.0, "db": 0.0, "redis": 0.0, "client": 0.0}}
        for p in PATHS}

    def run(path: str, batch: list[dict[str, Any]], measured: bool) -> None:
        before = meter.snapshot()
        redis_before = _proc_cpu(redis_pid) if redis_pid else None
        phase = _drive_phase(clients, path, batch, bodies)
        cpu = CpuMeter.delta(before, meter.snapshot())
        redis_after = _proc_cpu(redis_pid) if redis_pid else None
        cpu["redis"] = (redis_after - redis_before
                        if redis_before is not None and redis_after is not None else 0.0)
        acc = out[path]
        acc["errors"].update(phase["errors"])  # warm-up errors count too
        acc["samples"].extend(phase["samples"][: max(0, 5 - len(acc["samples"]))])
        if not measured:
            return
        acc["wall"] += phase["wall"]
        acc["latencies_ms"].extend(x * 1000 for x in phase["latencies"])
        acc["round_p50_ms"].append(round(percentile(sorted(phase["latencies"]), 50) * 1000, 1))
        acc["matches"].extend(phase["matches"])
        acc["identifiers"] += sum(spec["received"][item["book"]] for item in batch)
        for k in acc["cpu"]:
            acc["cpu"][k] += cpu[k]

    try:
        for measured, batches in ((False, spec["warmup"]), (True, spec["rounds"])):
            for r, batch in enumerate(batches):
                order = ("b0", "b0book", "first")
                k = r % len(order)  # each path leads in turn, so none always gets the warm cache
                for path in (*order[k:], *order[:k], "resync"):
                    run(path, batch, measured)
        Path(out_path).write_text(json.dumps(out))
    finally:
        meter.close()
        for c in clients:
            c.close()


# =====================================================================================
# The synthetic world (the bench's main process)
# =====================================================================================

@dataclass
class Searcher:
    person: int
    address: str
    book: list[str]  # the raw entries, as a phone's contacts app would send them
    members: list[int]  # the people behind the book's member entries
    knows_back: list[int]  # members who have the searcher in their own synced book
    distinct: int  # distinct identifiers in the book


@dataclass
class World:
    now: datetime
    ids: list[str]  # sorted, so loading in person order is loading in key order
    phones: list[str]  # E.164
    emails: list[str | None]
    names: list[str]
    age_days: array  # account age, days
    phone_setting: bytearray  # index into SETTINGS_MIX
    email_setting: bytearray
    friends: list[list[int]]  # sorted adjacency, both directions
    searchers: list[Searcher] = field(default_factory=list)

    @property
    def friendships(self) -> int:
        return sum(len(f) for f in self.friends) // 2


def _random_ids(rng: random.Random, n: int) -> list[str]:
    """n distinct ids shaped like `new_id()` (128 bits, url-safe base64), from `rng`, sorted."""
    out: set[str] = set()
    while len(out) < n:
        out.update(base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode()
                   for _ in range(n - len(out)))
    return sorted(out)


def _formatted(e164: str, rng: random.Random) -> str:
    """A NANP number the way contacts apps hold them."""
    d = e164[2:]
    r = rng.random()
    if r < 0.30:
        return e164
    if r < 0.60:
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    if r < 0.75:
        return f"{d[:3]}-{d[3:6]}-{d[6:]}"
    if r < 0.85:
        return f"{d[:3]} {d[3:6]} {d[6:]}"
    return f"+1 {d[:3]}-{d[3:6]}-{d[6:]}"


def _email_as_typed(email: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return email
    local, _, domain = email.partition("@")
    return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()


def generate_world(n: int, searchers: int, seed: int) -> World:
    from palisade.demo.population import FIRST, LAST, synthetic_area_codes

    rng = random.Random(seed)
    area_codes = synthetic_area_codes()
    per_area = 9_900  # NPA-555-0100 .. NPA-555-9999
    capacity = len(area_codes) * per_area
    pool_size = min(capacity - n, max(20_000, searchers * 700))
    if pool_size < searchers * 10:
        raise ValueError(f"the synthetic numbering plan has room for about {capacity:,} people")
    slots = rng.sample(range(capacity), n + pool_size)

    def phone(slot: int) -> str:
        return f"+1{area_codes[slot // per_area]}555{100 + slot % per_area:04d}"

    ids = _random_ids(rng, n)
    phones = [phone(s) for s in slots[:n]]
    unregistered = [phone(s) for s in slots[n:]]
    names: list[str] = []
    emails: list[str | None] = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        names.append(f"{first} {last}")
        emails.append(f"{first}.{last}.{i}@example.{rng.choice(('com', 'org', 'net'))}".lower()
                      if rng.random() < EMAIL_SHARE else None)
    cum, total = [], 0.0
    for _, share in SETTINGS_MIX:
        total += share
        cum.append(total)
    choices = range(len(SETTINGS_MIX))
    phone_setting = bytearray(rng.choices(choices, cum_weights=cum, k=n))
    email_setting = bytearray(rng.choices(choices, cum_weights=cum, k=n))
    age_days = array("H", (rng.randint(30, 900) for _ in range(n)))

    # Communities (log-normal sizes, median 30) over a random order; inside each, a ring
    # lattice (each member befriends the 5 next ones), plus weak ties across communities.
    order = list(range(n))
    rng.shuffle(order)
    community_of = array("i", bytes(4 * n))
    bounds: list[tuple[int, int]] = []
    friends: list[list[int]] = [[] for _ in range(n)]
    pos = 0
    while pos < n:
        size = max(3, int(rng.lognormvariate(math.log(30), 0.6)))
        end = min(n, pos + size)
        members = order[pos:end]
        m = len(members)
        for k, a in enumerate(members):
            community_of[a] = len(bounds)
            for d in range(1, min(5, (m - 1) // 2) + 1):
                b = members[(k + d) % m]
                friends[a].append(b)
                friends[b].append(a)
        bounds.append((pos, end))
        pos = end
    for a in range(n):
        for _ in range(rng.choice((0, 1, 1, 2))):
            b = rng.randrange(n)
            if b != a and b not in friends[a]:
                friends[a].append(b)
                friends[b].append(a)
    for f in friends:
        f.sort()

    world = World(datetime.now(UTC).replace(microsecond=0), ids, phones, emails, names,
                  age_days, phone_setting, email_setting, friends)

    # Searchers: members with at least 3 friends, each with one 1,000-entry book.
    candidates = rng.sample(range(n), min(n, searchers * 3))
    chosen = [c for c in candidates if len(friends[c]) >= 3][:searchers]
    if len(chosen) < searchers:
        raise ValueError("not enough people with friends to act as searchers")
    # A searcher's own synced book is the one it sends, so only non-searchers get preloaded
    # edges: a searcher's full sync would otherwise delete edges its book does not back.
    is_searcher = set(chosen)
    for k, s in enumerate(chosen):
        registered = max(len(friends[s]) + 1,
                         int(BOOK_SIZE * rng.uniform(REGISTERED_SHARE - 0.05,
                                                     REGISTERED_SHARE + 0.05)))
        members = list(friends[s])
        taken = set(members) | {s}
        start, end = bounds[community_of[s]]
        neighbours = [p for p in order[start:end] if p not in taken]
        for p in rng.sample(neighbours, min(len(neighbours), 20)):
            members.append(p)
            taken.add(p)
        while len(members) < registered:
            p = rng.randrange(n)
            if p not in taken:
                members.append(p)
                taken.add(p)
        friend_set = set(friends[s])
        knows_back = [p for p in members if p not in is_searcher
                      and (p in friend_set or rng.random() < KNOWS_BACK)]
        entries: list[str] = []
        for p in members:
            if emails[p] is not None and rng.random() < 0.25:
                entries.append(_email_as_typed(emails[p], rng))  # type: ignore[arg-type]
            else:
                entries.append(_formatted(phones[p], rng))
        others = BOOK_SIZE - len(members)
        email_others = others // 20  # 5% of non-members are email addresses
        for e164 in rng.sample(unregistered, others - email_others):
            entries.append(_formatted(e164, rng))
        for _ in range(email_others):
            entries.append(f"contact.{rng.randrange(10**9)}@example.org")
        rng.shuffle(entries)
        address = f"10.{(k >> 8) & 255}.{k & 255}.{rng.randrange(1, 255)}"  # one /24 each
        world.searchers.append(Searcher(s, address, entries, members, knows_back,
                                        len(set(entries))))
    return world


# =====================================================================================
# Sealing (once) and bulk loading (per backend)
# =====================================================================================

@dataclass
class Sealed:
    key_id: str
    wrapped: list[bytes]
    identifier_ids: list[str]  # sorted, handed out in loading order
    phone_bidx: list[bytes]
    phone_ct: list[bytes]
    email_bidx: list[bytes | None]
    email_ct: list[bytes | None]
    profile_ct: list[bytes]


def seal_world(world: World, keys_file: Path, seed: int,
               progress: Callable[[int], None]) -> Sealed:
    """Per person, exactly what `PersonKeys.create_person` / `demo.population.load` store: a
    fresh data key wrapped by the current master key, each identifier as blind index + value
    sealed under the data key, and the profile fields sealed as JSON."""
    from palisade.adapters.crypto.blind_index import BlindIndex
    from palisade.adapters.crypto.envelope import Envelope, new_data_key, seal
    from palisade.adapters.crypto.keyring import KeyringSource
    from palisade.domain.identifiers import Identifier, IdentifierKind
    from palisade.services.people import identifier_context, profile_context

    keyrings = KeyringSource(keys_file, None)
    envelope = Envelope(keyrings)
    bidx = BlindIndex(keyrings.get().secrets["blind_index"])
    phone_kind, email_kind = IdentifierKind.PHONE, IdentifierKind.EMAIL
    n = len(world.ids)
    rng = random.Random(f"{seed}-identifier-ids")
    out = Sealed(envelope.current_key_id, [], _random_ids(rng, n + sum(
        e is not None for e in world.emails)), [], [], [], [], [])
    for i in range(n):
        pid = world.ids[i]
        key = new_data_key()
        key_id, wrapped = envelope.wrap(pid, key)
        out.wrapped.append(wrapped)
        phone = world.phones[i]
        out.phone_bidx.append(bidx.of(Identifier(phone_kind, phone)))
        out.phone_ct.append(seal(key, phone.encode(), identifier_context(pid, "phone")))
        email = world.emails[i]
        if email is None:
            out.email_bidx.append(None)
            out.email_ct.append(None)
        else:
            out.email_bidx.append(bidx.of(Identifier(email_kind, email)))
            out.email_ct.append(seal(key, email.encode(), identifier_context(pid, "email")))
        fields = {"name": world.names[i]}
        out.profile_ct.append(seal(key, json.dumps(fields).encode(), profile_context(pid)))
        if i % 50_000 == 49_999:
            progress(50_000)
    if n % 50_000:
        progress(n % 50_000)
    return out


class Rows:
    """Row tuples for every bulk-loaded table, rendered for one backend's timestamp text."""

    COLUMNS = {
        "persons": ("id", "created_at", "password_hash"),
        "data_keys": ("person_id", "master_key_id", "wrapped"),
        "identifiers": ("id", "person_id", "kind", "value_bidx", "value_ct", "verified_at",
                        "discoverability"),
        "profiles": ("person_id", "fields_ct", "audiences", "updated_at"),
        "friendships": ("person_id", "friend_id", "created_at"),
        "address_book_edges": ("owner_id", "contact_id", "created_at", "revealed_at", "vouches"),
    }

    def __init__(self, world: World, sealed: Sealed, backend: str) -> None:
        self.w, self.s = world, sealed
        # SQLAlchemy's SQLite DATETIME text (UTC, zone dropped by UTCDateTime); PostgreSQL
        # timestamptz input text.
        fmt = "%Y-%m-%d %H:%M:%S.%f" + ("+00" if backend == "postgresql" else "")
        days = max(world.age_days) + 1
        self.ts = [(world.now - timedelta(days=d)).strftime(fmt) for d in range(days)]
        self.now = world.now.strftime(fmt)

    def count(self, table: str) -> int:
        w = self.w
        return {"persons": len(w.ids), "data_keys": len(w.ids), "profiles": len(w.ids),
                "identifiers": len(self.s.identifier_ids),
                "friendships": sum(len(f) for f in w.friends),
                "address_book_edges": sum(len(s.knows_back) for s in w.searchers)}[table]

    def rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        w, s, ts = self.w, self.s, self.ts
        ids, age = w.ids, w.age_days
        if table == "persons":
            return ((ids[i], ts[age[i]], None) for i in range(len(ids)))
        if table == "data_keys":
            key_id = s.key_id
            return ((ids[i], key_id, s.wrapped[i]) for i in range(len(ids)))
        if table == "profiles":
            return ((ids[i], s.profile_ct[i], "{}", ts[age[i]]) for i in range(len(ids)))
        if table == "identifiers":
            return self._identifiers()
        if table == "friendships":
            return ((ids[a], ids[b], ts[min(age[a], age[b])])
                    for a in range(len(ids)) for b in w.friends[a])
        if table == "address_book_edges":
            now = self.now  # a steady state: these owners synced while they had standing
            return ((ids[owner], ids[srch.person], now, None, True)
                    for srch in w.searchers for owner in srch.knows_back)
        raise KeyError(table)

    def _identifiers(self) -> Iterator[tuple[Any, ...]]:
        w, s, ts = self.w, self.s, self.ts
        names = [name for name, _ in SETTINGS_MIX]
        k = 0
        for i, pid in enumerate(w.ids):
            verified = ts[w.age_days[i]]
            yield (s.identifier_ids[k], pid, "phone", s.phone_bidx[i], s.phone_ct[i], verified,
                   names[w.phone_setting[i]])
            k += 1
            if s.email_bidx[i] is not None:
                yield (s.identifier_ids[k], pid, "email", s.email_bidx[i], s.email_ct[i],
                       verified, names[w.email_setting[i]])
                k += 1


class LoadProgress:
    """A Rich progress bar on stderr (one line per table where stderr is not a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(stderr=True)
        self.live = console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                 disable=not self.live)

    def __enter__(self) -> LoadProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def task(self, description: str, total: int) -> Callable[[int], None]:
        task_id = self.progress.add_task(description, total=total)
        started = time.perf_counter()
        state = {"done": 0, "logged": False}

        def advance(k: int) -> None:
            self.progress.advance(task_id, k)
            state["done"] += k
            if state["done"] >= total and not self.live and not state["logged"]:
                state["logged"] = True
                log(f"  {description}: {total:,} in {time.perf_counter() - started:.1f} s")

        return advance


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load_sqlite(path: Path, rows: Rows, bar: LoadProgress, name: str) -> None:
    """executemany in big transactions on the raw sqlite3 connection, the secondary indexes
    dropped during the load and rebuilt after (same SQL as the migrations made them)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB for the load
        conn.execute("PRAGMA temp_store=MEMORY")
        placeholders = ",".join("?" * len(LOADED_TABLES))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({placeholders})", LOADED_TABLES).fetchall()
        for index, _ in indexes:
            conn.execute(f'DROP INDEX "{index}"')
        for table in LOADED_TABLES:
            cols = Rows.COLUMNS[table]
            sql = (f"INSERT INTO {table} ({', '.join(cols)}) "
                   f"VALUES ({', '.join('?' * len(cols))})")
            advance = bar.task(f"{name}: {table}", rows.count(table))
            for chunk in _chunks(rows.rows(table), 200_000):
                conn.execute("BEGIN")
                conn.executemany(sql, chunk)
                conn.execute("COMMIT")
                advance(len(chunk))
        advance = bar.task(f"{name}: indexes", len(indexes))
        for _, sql in indexes:
            conn.execute(sql)
            advance(1)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def load_postgresql(url: str, rows: Rows, bar: LoadProgress, name: str) -> None:
    """COPY (psycopg) into the migrated tables. Secondary indexes and unique constraints are
    dropped during the load and rebuilt after from their own definitions; foreign-key
    triggers are skipped for this session (`session_replication_role = replica`), the rows
    being consistent by construction (and spot-checked through the service afterwards)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        uniques = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)",
            (list(LOADED_TABLES),)).fetchall()
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(%s) "
            "AND NOT i.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = i.indexrelid)", (list(LOADED_TABLES),)).fetchall()
        for table, constraint, _ in uniques:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
        for index, _ in indexes:
            conn.execute(f"DROP INDEX {index}")
        conn.commit()
        for table in LOADED_TABLES:
            cols = Rows.COLUMNS[table]
            advance = bar.task(f"{name}: {table}", rows.count(table))
            with conn.cursor() as cur, \
                    cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                k = 0
                for row in rows.rows(table):
                    copy.write_row(row)
                    k += 1
                    if k == 100_000:
                        advance(k)
                        k = 0
                advance(k)
            conn.commit()
        advance = bar.task(f"{name}: indexes", len(uniques) + len(indexes))
        for table, constraint, definition in uniques:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {definition}')
            advance(1)
        for _, definition in indexes:
            conn.execute(definition)
            advance(1)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# =====================================================================================
# Backends, preparation, the server
# =====================================================================================

@dataclass
class Backend:
    name: str
    url: str  # SQLAlchemy URL
    home: Path
    drop: Callable[[], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def make_backend(name: str, workdir: Path, args: argparse.Namespace) -> Backend:
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    if name == "sqlite":
        return Backend(name, f"sqlite:///{home / 'palisade.db'}", home)
    base, dbname, admin, drop = scratch_postgres_database(args.pg_url, "palisade_bench_sync_")
    url = base.set(database=dbname).render_as_string(hide_password=False)
    raw = base.set(drivername="postgresql", database=dbname).render_as_string(
        hide_password=False)
    if args.keep:  # kept for profiling; dropped by hand (its name is logged)
        drop = None
    return Backend(name, url, home, drop, {"database": dbname, "admin": admin, "raw": raw})


@dataclass
class RedisDb:
    url: str
    pid: int | None

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushdb()
        finally:
            client.close()


def claim_redis(url: str) -> RedisDb:
    """The Redis database for the PostgreSQL run: the one named, if empty, else the first
    empty one below it. Only that database is ever flushed."""
    import redis
    from redis.connection import parse_url

    options = parse_url(url)
    start = int(options.get("db", 0) or 0)
    base = url.rsplit("/", 1)[0] if url.rstrip("/").split("/")[-1].isdigit() else url
    for db in range(start, -1, -1):
        candidate = f"{base}/{db}"
        client = redis.Redis.from_url(candidate)
        try:
            if client.dbsize() == 0:
                pid = client.info("server").get("process_id")
                return RedisDb(candidate, int(pid) if pid else None)
        finally:
            client.close()
    raise RuntimeError(f"no empty Redis database at or below {url}")


def server_env(backend: Backend, keys_file: Path, redis_url: str | None) -> dict[str, str]:
    env = {
        "PALISADE_HOME": str(backend.home),
        "PALISADE_DATABASE_URL": backend.url,
        "PALISADE_KEYS_FILE": str(keys_file),
        "PALISADE_LOG_LEVEL": "WARNING",
        "PALISADE_TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        # The purge of disappeared messages is a background job, not the sync path; keep it
        # from landing inside one round and not the other.
        "PALISADE_PURGE_INTERVAL_SECONDS": "3600",
    }
    if redis_url:
        env["PALISADE_REDIS_URL"] = redis_url
    return env


def prepare(backend: Backend, world: World, sealed: Sealed, keys_file: Path,
            bar: LoadProgress) -> dict[str, str]:
    """Migrate, bulk-load, spot-check through the service, and open a session for every
    searcher. Returns person id -> session token."""
    from palisade.adapters.crypto.blind_index import BlindIndex
    from palisade.bootstrap import build, initialise
    from palisade.config import Settings
    from palisade.domain.identifiers import Identifier, IdentifierKind
    from palisade.services.people import PersonKeys

    settings = Settings(home=backend.home, database_url=backend.url, keys_file=keys_file,
                        log_level="WARNING", _env_file=None)
    initialise(settings)
    from sqlalchemy import create_engine

    engine = create_engine(backend.url)
    _b0_book_table().create(engine)
    engine.dispose()
    started = time.perf_counter()
    rows = Rows(world, sealed, backend.name)
    if backend.name == "sqlite":
        load_sqlite(backend.home / "palisade.db", rows, bar, backend.name)
    else:
        load_postgresql(backend.extra["raw"], rows, bar, backend.name)
    backend.extra["load_seconds"] = round(time.perf_counter() - started, 1)
    log(f"{backend.name}: database loaded in {backend.extra['load_seconds']} s")

    platform = build(settings)
    try:
        bidx = BlindIndex(platform.keyrings.get().secrets["blind_index"])
        keys = PersonKeys(platform.envelope)
        rng = random.Random(7)
        with platform.uow() as session:  # the rows read back through the service's code
            repo = Repository(session)
            for i in rng.sample(range(len(world.ids)), min(20, len(world.ids))):
                pid = world.ids[i]
                row = repo.identifier_by_bidx(bidx.of(Identifier(IdentifierKind.PHONE,
                                                                 world.phones[i])))
                assert row is not None and row.person_id == pid, "phone not found by bidx"
                key = keys.data_key(repo, pid)
                assert keys.open_identifier(key, row) == world.phones[i]
                profile = repo.profile(pid)
                assert profile is not None
                assert keys.open_fields(key, pid, profile.fields_ct)["name"] == world.names[i]
        tokens: dict[str, str] = {}
        with platform.uow() as session:
            repo = Repository(session)
            now = platform.clock()
            for s in world.searchers:
                pid = world.ids[s.person]
                tokens[pid], _ = platform.accounts._new_session(repo, pid, "bench", now)
        return tokens
    finally:
        platform.close()


def start_server(backend: Backend, keys_file: Path, redis_url: str | None
                 ) -> tuple[subprocess.Popen[bytes], str]:

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALISADE_")}
    env.update(server_env(backend, keys_file, redis_url))
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "discovery_sync:bench_app",
           "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--log-level", "warning", "--no-access-log",
           "--no-proxy-headers"]  # the app resolves X-Forwarded-For itself (trusted proxies)
    server = subprocess.Popen(cmd, cwd=backend.home, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(server, base)
    return server, base


def time_tally_fold(backend: Backend, keys_file: Path) -> dict[str, Any]:
    """A sync that finds people writes one `tally_batches` row; the server's background loop
    folds the rows into `daily_tallies` each interval (every hour here, so not during the
    rounds). That fold is work the sync causes, so it is timed here, with the server
    stopped: the whole backlog of the run in one fold, per batch (about one per sync)."""
    from sqlalchemy import func, select

    from palisade.adapters.storage.log_repository import fold_tallies
    from palisade.adapters.storage.tables import TallyBatchRow
    from palisade.bootstrap import build
    from palisade.config import Settings

    settings = Settings(home=backend.home, database_url=backend.url, keys_file=keys_file,
                        log_level="WARNING", _env_file=None)
    platform = build(settings)
    try:
        with platform.uow() as session:
            waiting = session.scalar(select(func.count()).select_from(TallyBatchRow)) or 0
            wall, cpu = time.perf_counter(), time.process_time()
            folded = fold_tallies(session)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        platform.close()
    per = 1000 / folded if folded else float("nan")
    log(f"{backend.name}: folded {folded} tally batches in {wall * 1000:.0f} ms "
        f"({wall * per:.2f} ms wall, {cpu * per:.2f} ms CPU of this process per batch)")
    return {"batches": folded, "waiting": waiting, "ms_wall_per_batch": wall * per,
            "ms_cpu_per_batch": cpu * per}


def discovery_counters(base: str) -> dict[str, float]:
    """The palisade_discovery_* counters from the server's /metrics, summed per label set."""
    import httpx

    out: dict[str, float] = {}
    for line in httpx.get(base + "/metrics", timeout=10.0).text.splitlines():
        if line.startswith("palisade_discovery_") and "_total" in line \
                and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name.replace("palisade_discovery_", "")] = float(value)
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    lat = sorted(raw["latencies_ms"])
    n = len(lat)
    cpu = raw["cpu"]
    ids = raw["identifiers"]
    return {
        "requests": n,
        "errors": dict(raw["errors"]),
        "non_200": sum(v for k, v in raw["errors"].items() if k.startswith("status_")),
        "error_samples": raw["samples"],
        "seconds": round(raw["wall"], 3),
        "p50_ms": percentile(lat, 50),
        "p90_ms": percentile(lat, 90),
        "p99_ms": percentile(lat, 99),
        "mean_ms": sum(lat) / n if n else float("nan"),
        "identifiers": ids,
        # identifiers the server took per second of wall time (with --clients in flight) ...
        "ids_per_s_wall": ids / raw["wall"] if raw["wall"] else float("nan"),
        # ... and per second of the app process's CPU: what one fully busy process sustains
        "ids_per_s_process": ids / cpu["app"] if cpu["app"] > 0 else float("nan"),
        "matches_mean": sum(raw["matches"]) / len(raw["matches"]) if raw["matches"] else 0.0,
        "round_p50_ms": raw["round_p50_ms"],  # one per round: how steady the run was
        "app_cpu_ms": cpu["app"] * 1000 / n if n else float("nan"),
        "db_cpu_ms": cpu["db"] * 1000 / n if n else float("nan"),
        "redis_cpu_ms": cpu["redis"] * 1000 / n if n else float("nan"),
        "server_cpu_ms": (cpu["app"] + cpu["db"] + cpu["redis"]) * 1000 / n
        if n else float("nan"),
        "client_cpu_ms": cpu["client"] * 1000 / n if n else float("nan"),
    }


def run_backend(name: str, args: argparse.Namespace, workdir: Path, world: World,
                sealed: Sealed, keys_file: Path) -> dict[str, Any]:
    backend = make_backend(name, workdir, args)
    log(f"{name}: database {backend.extra.get('database', backend.url)}")
    redis_db: RedisDb | None = None
    try:
        if name == "postgresql":
            redis_db = claim_redis(args.redis_url)
            log(f"{name}: counters in Redis {redis_db.url}")
        with LoadProgress() as bar:
            tokens = prepare(backend, world, sealed, keys_file, bar)
        searchers = world.searchers
        items = [{"token": tokens[world.ids[s.person]], "address": s.address, "book": k,
                  "members": len(s.members), "distinct": s.distinct}
                 for k, s in enumerate(searchers)]
        warm, measured = items[:args.warmup], items[args.warmup:]
        size = -(-len(measured) // args.rounds)
        spec: dict[str, Any] = {
            "clients": args.clients,
            "pg_admin": backend.extra.get("admin"),
            "pg_database": backend.extra.get("database"),
            "redis_pid": redis_db.pid if redis_db else None,
            "bodies": [json.dumps({"mode": "full", "contacts": s.book}) for s in searchers],
            "received": [len(s.book) for s in searchers],
            "warmup": [warm[k:k + max(1, len(warm) // 2)]
                       for k in range(0, len(warm), max(1, len(warm) // 2))],
            "rounds": [measured[k:k + size] for k in range(0, len(measured), size)],
        }
        load_before = round(os.getloadavg()[0], 2)
        server, base = start_server(backend, keys_file, redis_db.url if redis_db else None)
        try:
            spec["base_url"] = base
            spec["server_pid"] = server.pid
            spec_path, out_path = workdir / f"spec-{name}.json", workdir / f"out-{name}.json"
            spec_path.write_text(json.dumps(spec))
            log(f"{name}: server pid {server.pid}; {len(warm)} warm-up searchers, then "
                f"{len(spec['rounds'])} rounds, {len(measured)} searchers x 3 paths, "
                f"{args.clients} client(s)")
            started = time.perf_counter()
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--drive",
                            str(spec_path), str(out_path)], check=True)
            drive_seconds = time.perf_counter() - started
            raw = json.loads(out_path.read_text())
            counters = discovery_counters(base)
        finally:
            stop_server(server)
        fold = time_tally_fold(backend, keys_file)
        result: dict[str, Any] = {p: summarise(raw[p]) for p in PATHS}
        b0, b0book = result["b0"], result["b0book"]
        for p in ("b0book", "first", "resync"):
            r = result[p]
            r["ratio_p50"] = r["p50_ms"] / b0["p50_ms"]
            r["ratio_p99"] = r["p99_ms"] / b0["p99_ms"]
            r["ratio_server_cpu"] = r["server_cpu_ms"] / b0["server_cpu_ms"]
            # what the defences cost over an importer that keeps the book as well
            r["ratio_p50_vs_b0book"] = r["p50_ms"] / b0book["p50_ms"]
        # the background half of a sync's work, out of the request (see time_tally_fold)
        result["tally_fold"] = fold
        result["load_seconds"] = backend.extra["load_seconds"]
        result["drive_seconds"] = round(drive_seconds, 1)
        result["loadavg_1m_before"] = load_before
        result["counter_store"] = "redis" if redis_db else "memory (embedded)"
        result["errors_total"] = sum(sum(result[p]["errors"].values()) for p in PATHS)
        # What the defences did during the run (the server's own Prometheus counters): an
        # honest run has no refusals and no findings.
        result["discovery_counters"] = counters
        result["met"] = {
            "p50": all(result[p]["p50_ms"] <= P50_TARGET_MS for p in ("first", "resync")),
            "cost": all(result[p]["ratio_p50"] <= COST_TARGET for p in ("first", "resync")),
        }
        log(f"{name}: p50 B0 {b0['p50_ms']:.1f} ms, B0 + book {b0book['p50_ms']:.1f} ms, "
            f"first {result['first']['p50_ms']:.1f} ms, "
            f"re-sync {result['resync']['p50_ms']:.1f} ms; {result['errors_total']} errors")
        for p in PATHS:
            for sample in result[p]["error_samples"]:
                log(f"  {p}: {sample}")
        return result
    finally:
        if redis_db is not None:
            redis_db.flush()
        if backend.drop is not None:
            backend.drop()
            log(f"{name}: dropped database {backend.extra['database']}")


# =====================================================================================
# Output and main
# =====================================================================================

def render_table(results: dict[str, Any]) -> Any:
    from rich.table import Table

    meta = results["meta"]
    table = Table(title=f"Discovery sync: {meta['book_size']:,}-entry books against "
                        f"{meta['people']:,} people over HTTP, 1 server process, "
                        f"{meta['clients']} client(s)",
                  caption=f"targets: p50 <= {P50_TARGET_MS:g} ms and p50 <= {COST_TARGET:g}x "
                          "B0. B0 + book kept: B0 that also writes the members of the book "
                          "(reference only). identifiers/s per process: wall = as driven (one "
                          "request at a time with 1 client); busy = per CPU-second of the app "
                          "process")
    for col, just in (("backend", "left"), ("path", "left"), ("requests", "right"),
                      ("non-200", "right"), ("p50 ms", "right"), ("p99 ms", "right"),
                      ("ids/s/process wall", "right"), ("ids/s/process busy", "right"),
                      ("server CPU ms/req", "right"), ("matches/req", "right"),
                      ("p50 vs B0", "right"), ("vs B0 + book", "right"), ("met?", "center")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def yes(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    for name, r in results["backends"].items():
        for p in PATHS:
            s = r[p]
            if p == "b0":
                ratio, book, met = "1.00x", "-", "-"
            else:
                ratio = f"{s['ratio_p50']:.2f}x"
                book = "1.00x" if p == "b0book" else f"{s['ratio_p50_vs_b0book']:.2f}x"
                met = "-" if p == "b0book" else yes(
                    s["p50_ms"] <= P50_TARGET_MS and s["ratio_p50"] <= COST_TARGET)
            table.add_row(name, PATH_LABELS[p], f"{s['requests']:,}", f"{s['non_200']:,}",
                          f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}",
                          f"{s['ids_per_s_wall']:,.0f}", f"{s['ids_per_s_process']:,.0f}",
                          f"{s['server_cpu_ms']:.1f}",
                          f"{s['matches_mean']:.0f}", ratio, book, met,
                          end_section=p == "resync")
    return table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=None,
                    help="registered people (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="small world and few requests (smoke test, about a minute)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--requests", type=int, default=None,
                    help="measured syncs per path (= searchers; default 400, 40 with --quick)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds the searchers are split in")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up searchers (all paths)")
    ap.add_argument("--clients", type=int, default=1,
                    help="concurrent keep-alive clients (1: latency without queueing)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--pg-url", default=os.environ.get("PALISADE_BENCH_POSTGRES_URL",
                                                       DEFAULT_PG_URL),
                    help="PostgreSQL server (used only to create and drop a fresh database)")
    ap.add_argument("--redis-url", default=os.environ.get("PALISADE_BENCH_REDIS_URL",
                                                          DEFAULT_REDIS_URL),
                    help="Redis database for the PostgreSQL run (must be empty; flushed after)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory and the PostgreSQL database")
    ap.add_argument("--drive", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    defaults = {"people": 20_000 if args.quick else 1_000_000,
                "requests": 40 if args.quick else 400,
                "rounds": 4 if args.quick else 10,
                "warmup": 6 if args.quick else 30}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.rounds = max(1, min(args.rounds, args.requests))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.drive:
        drive(*args.drive)
        return 0

    from rich.console import Console

    from palisade.adapters.crypto.keyring import Keyring

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="palisade-bench-sync-"))
    try:
        keys_file = workdir / "keys.json"
        Keyring.generate().save(keys_file)  # one keyring: the sealed rows serve both backends
        gc.disable()  # millions of long-lived tuples: no point in walking them over and over
        t = time.perf_counter()
        log(f"generating {args.people:,} people and {args.warmup + args.requests:,} "
            f"searchers (seed {args.seed})")
        world = generate_world(args.people, args.warmup + args.requests, args.seed)
        generate_seconds = time.perf_counter() - t
        log(f"{len(world.ids):,} people, {world.friendships:,} friendships "
            f"(mean degree {2 * world.friendships / len(world.ids):.1f}), "
            f"{sum(e is not None for e in world.emails):,} emails, in {generate_seconds:.1f} s")
        t = time.perf_counter()
        with LoadProgress() as bar:
            sealed = seal_world(world, keys_file, args.seed,
                                bar.task("sealing (data keys, identifiers, profiles)",
                                         len(world.ids)))
        seal_seconds = time.perf_counter() - t
        gc.enable()
        gc.freeze()
        log(f"sealed {len(world.ids):,} people in {seal_seconds:.1f} s (once, for every "
            "backend)")
        books = world.searchers
        results: dict[str, Any] = {
            "meta": {
                "people": len(world.ids), "friendships": world.friendships,
                "emails": sum(e is not None for e in world.emails),
                "identifiers": len(sealed.identifier_ids),
                "book_size": BOOK_SIZE,
                "book_members_mean": sum(len(s.members) for s in books) / len(books),
                "book_knows_back_mean": sum(len(s.knows_back) for s in books) / len(books),
                "searchers": len(books), "requests_per_path": args.requests,
                "warmup_searchers": args.warmup, "rounds": args.rounds,
                "clients": args.clients, "seed": args.seed, "quick": args.quick,
                "settings_mix": dict(SETTINGS_MIX),
                "generate_seconds": round(generate_seconds, 1),
                "seal_seconds": round(seal_seconds, 1),
                "cpus": os.cpu_count(), "python": platform_module.python_version(),
                "machine": platform_module.machine(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "loadavg_1m_start": round(os.getloadavg()[0], 2),
                "git": git_state(),
                "versions": {d: _version(d) for d in ("sqlalchemy", "fastapi", "uvicorn",
                                                      "httpx", "psycopg", "redis",
                                                      "phonenumbers", "cryptography")},
                "command": "python bench/discovery_sync.py " + " ".join(
                    sys.argv[1:] if argv is None else argv),
            },
            "backends": {},
        }
        for name in backends:
            results["backends"][name] = run_backend(name, args, workdir, world, sealed,
                                                    keys_file)
        close_run(results, started, args.json)
        console = Console() if sys.stdout.isatty() else Console(width=160)
        console.print(render_table(results))
        meta = results["meta"]
        console.print(f"generation {meta['generate_seconds']} s and sealing "
                      f"{meta['seal_seconds']} s (once); database load: " + ", ".join(
                          f"{n} {r['load_seconds']} s"
                          for n, r in results["backends"].items()))
        for n, r in results["backends"].items():
            f = r["tally_fold"]
            console.print(f"{n}: the background fold of the run's {f['batches']:,} tally batches "
                          f"(about one per sync that found someone) costs "
                          f"{f['ms_wall_per_batch']:.2f} ms a batch (not in the figures above)")
        log(f"done in {meta['seconds']} s")
        return 0
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
