#!/usr/bin/env python
"""Token-check benchmark: what sender-constrained (DPoP) app tokens cost per request, beside
plain bearer-token verification, in the same run, on one core.

Both paths run the same resource-side code on the same tokens (SQLite, or PostgreSQL with
--database-url): the token looked up by its SHA-256 with its app, the person's authorization
and the three revocation horizons in one query, the validity checks, and the firewall decision
(`released_fields`) for the call. The DPoP path adds what RFC 9449 §7 requires: parse and
verify the proof's JWS with the public key in its header, check typ/alg/htm/htu/iat/ath, the
key thumbprint against the token's `cnf.jkt`, and record the `jti` in the seen-set (in-process,
or in Redis with --redis). Proofs are made before the timed loop: signing is the client's cost.

    .venv/bin/python bench/tokens.py                     # 20,000 checks per path
    .venv/bin/python bench/tokens.py --redis redis://127.0.0.1:6379/15 --json /tmp/t.json

The paths alternate in rounds (A B A B ...) over the same tokens so neither runs warmer. The
process is pinned to one CPU. Prints a table on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_record import close_run, git_state, log  # noqa: E402

from palisade.adapters.limits.counter_store import MemoryCounterStore, RedisCounterStore  # noqa: E402
from palisade.adapters.oauth.rfc9449_dpop import DPoPVerifier, ProofKey  # noqa: E402
from palisade.adapters.storage.apps_repository import AppsRepository  # noqa: E402
from palisade.adapters.storage.repository import Repository  # noqa: E402
from palisade.adapters.storage.tables import AppAuthorizationRow, OAuthTokenRow  # noqa: E402
from palisade.bootstrap import build, initialise  # noqa: E402
from palisade.config import Settings  # noqa: E402
from palisade.demo.population import generate, load  # noqa: E402
from palisade.domain.access import Relationship  # noqa: E402
from palisade.domain.apps.firewall import SubjectConsent, released_fields  # noqa: E402
from palisade.domain.apps.grants import Purpose, parse_grant  # noqa: E402
from palisade.domain.profile import DEFAULT_AUDIENCES  # noqa: E402
from palisade.services.apps.oauth_server import ACCESS_PREFIX, sha256  # noqa: E402
from palisade.services.apps.resource import ResourceGuard  # noqa: E402

BASE = "https://palisade.example"
URL = BASE + "/v1/graph/me"
SCOPE = "name:personalisation birthday:personalisation friends:personalisation"


def setup(settings: Settings, tokens: int) -> tuple[object, list[tuple[str, ProofKey]]]:
    platform = build(settings)
    population = generate(tokens, seed=7, mean_degree=2)
    with platform.uow() as session:
        load(Repository(session), population, platform.envelope, platform.accounts.bidx)
    app = platform.apps.register(
        name="Bench", redirect_uris=["https://bench.example/cb"],
        requested={"name": ["personalisation"], "birthday": ["personalisation"],
                   "friends": ["personalisation"]},
        privacy_policy_url="https://bench.example/p", deletion_callback_url="https://bench.example/d")
    now = datetime.now(UTC)
    issued = []
    with platform.uow() as session:
        repo = AppsRepository(session)
        for person in population.people:
            key, token = ProofKey(), ACCESS_PREFIX + secrets.token_urlsafe(32)
            repo.add_authorization(AppAuthorizationRow(
                app_id=app.client_id, person_id=person.id, scoped_id=secrets.token_urlsafe(16),
                grants=SCOPE.split(), created_at=now, last_used_at=now))
            repo.add_token(OAuthTokenRow(
                id=secrets.token_urlsafe(16), access_hash=sha256(token), refresh_hash=None,
                family_id=secrets.token_urlsafe(16), app_id=app.client_id, person_id=person.id,
                scope=SCOPE, resource=BASE + "/v1/graph", jkt=key.jkt, issued_at=now,
                expires_at=now + timedelta(hours=2), refresh_expires_at=None, rotated_at=None,
                revoked_at=None))
            issued.append((token, key))
    return platform, issued


def decision(caller) -> frozenset:  # type: ignore[no-untyped-def]
    consent = SubjectConsent(frozenset(parse_grant(g) for g in SCOPE.split()), fresh=True)
    return released_fields(consent, Purpose.PERSONALISATION, Relationship.SELF, DEFAULT_AUDIENCES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=20_000, help="per path")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=1_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--redis", default=None, help="also measure the Redis jti seen-set")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    home = Path(tempfile.mkdtemp(prefix="palisade-tokens-"))
    settings = Settings(home=home, database_url=args.database_url, public_url=BASE,
                        _env_file=None)
    initialise(settings)
    log(f"loading {args.tokens} people, authorizations and tokens")
    platform, issued = setup(settings, args.tokens)

    stores = {"in-process": MemoryCounterStore()}
    if args.redis:
        import redis

        stores["Redis"] = RedisCounterStore(redis.Redis.from_url(args.redis),
                                            prefix=f"palisade:bench-dpop:{secrets.token_hex(4)}:")
    guards = {}
    for name, store in stores.items():
        dpop = DPoPVerifier(lambda k, ttl, s=store: s.first_time_deferred(k, ttl, time.time()),
                            time.time)
        guards[name] = ResourceGuard(settings, platform.uow, dpop, platform.clock)
    bearer_guard = guards["in-process"]

    def bearer_round(n: int, offset: int) -> list[float]:
        out = []
        for i in range(n):
            token, _key = issued[(offset + i) % len(issued)]
            t0 = time.perf_counter()
            with platform.uow() as session:
                caller, _jkt = bearer_guard.token_check(AppsRepository(session), token)
            decision(caller)
            out.append(time.perf_counter() - t0)
        return out

    def dpop_round(guard: ResourceGuard, n: int, offset: int) -> list[float]:
        work = []
        for i in range(n):  # the client's part, outside the timing
            token, key = issued[(offset + i) % len(issued)]
            work.append((token, key.proof("GET", URL, token)))
        out = []
        for token, proof in work:
            t0 = time.perf_counter()
            caller = guard.verify("DPoP " + token, proof, "GET", URL)
            decision(caller)
            out.append(time.perf_counter() - t0)
        return out

    def proof_only_round(n: int, offset: int) -> list[float]:
        dpop = DPoPVerifier(lambda k, ttl, s=MemoryCounterStore(): s.first_time_deferred(
            k, ttl, time.time()), time.time)
        work = [(issued[(offset + i) % len(issued)], None) for i in range(n)]
        proofs = [(tok, key.jkt, key.proof("GET", URL, tok)) for (tok, key), _ in work]
        out = []
        for tok, jkt, proof in proofs:
            t0 = time.perf_counter()
            dpop.check(proof, "GET", URL, access_token=tok, expected_jkt=jkt)
            out.append(time.perf_counter() - t0)
        return out

    paths = {"bearer (token check + decision)": bearer_round}
    for name, guard in guards.items():
        paths[f"DPoP, jti {name} (proof + token check + decision)"] = (
            lambda n, o, g=guard: dpop_round(g, n, o))
    paths["DPoP proof check alone"] = proof_only_round
    log("warming up")
    for fn in paths.values():
        fn(500, 0)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    per_round = max(1, args.checks // args.rounds)
    for r in range(args.rounds):
        for name, fn in paths.items():
            samples[name].extend(fn(per_round, r * per_round))
        log(f"round {r + 1}/{args.rounds}")

    bearer_rate = len(samples[next(iter(paths))]) / sum(samples[next(iter(paths))])
    rows = []
    for name, values in samples.items():
        values.sort()
        rate = len(values) / sum(values)
        rows.append({"path": name, "checks": len(values), "per_second": round(rate),
                     "p50_us": round(statistics.median(values) * 1e6, 1),
                     "p99_us": round(values[int(len(values) * 0.99)] * 1e6, 1),
                     "cost_vs_bearer": round(bearer_rate / rate, 2)})
    backend = "PostgreSQL" if args.database_url and "postgres" in args.database_url else "SQLite"
    print(f"\nToken checks on one core ({backend}, {args.tokens} tokens, "
          f"{per_round * args.rounds} checks per path)\n")
    print(f"{'path':<58} {'checks/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'× bearer':>9}")
    for row in rows:
        print(f"{row['path']:<58} {row['per_second']:>9,} {row['p50_us']:>8} "
              f"{row['p99_us']:>8} {row['cost_vs_bearer']:>9}")
    print("\nTarget: DPoP costs at most 2× bearer.")
    results = {"meta": {"backend": backend, "tokens": args.tokens, "git": git_state()},
               "rows": rows}
    close_run(results, started, args.json)
    platform.close()


if __name__ == "__main__":
    main()
