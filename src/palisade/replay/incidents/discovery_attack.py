"""What the two discovery replays share: a population of members in one number range (a third
discoverable by everyone, the rest on the default, mutual contacts), attacker accounts signed
up like anyone, and the positive control: one member holds the first attacker account's
number in their own synced book, so that account is entitled to find that member, and must.

Exposed beyond consent: members on the default setting found by an account they do not hold
in their book. Members discoverable by everyone allowed strangers to find them; their harvest
is held to the discovery issue's per-account target instead (at most 100 people per account).
What the attackers were handed (including any canary) is kept for the dump replay."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import httpx

from palisade.replay.context import Context
from palisade.replay.http import Budget, BudgetSpent, Client, expect
from palisade.replay.population import Member, Population
from palisade.replay.report import IncidentResult

PER_ACCOUNT_TARGET = 100  # the discovery issue: sybils harvest at most 100 people each


@dataclass
class Harvest:
    """What the attackers received: every match, by account."""

    rows: list[dict] = field(default_factory=list)  # match documents, with the account
    statuses: dict[int, int] = field(default_factory=dict)
    reverified: int = 0


@dataclass
class Stage:
    pop: Population
    budget: Budget
    members: list[Member]
    everyone: set[str]
    attackers: list[Member]
    entitled: dict[str, set[str]]  # attacker id -> member ids it may find


def attack(ctx: Context, pop: Population, result: IncidentResult, accounts: int,
           shuffled: bool, rotate: bool) -> None:
    """Stage the population, give each account books of the run's number range (shuffled:
    an importer's address books; in order: a range walk), the control's member first, sweep
    for a bounded time and judge."""
    st = stage(ctx, pop, accounts)
    numbers = pop.sweep_range()
    if shuffled:
        random.Random(ctx.tag).shuffle(numbers)
    size = 500 if ctx.quick and shuffled else 2_000 if shuffled else 1_000
    holder = next(iter(st.entitled[st.attackers[0].id]))
    phone = next(m.phone for m in st.members if m.id == holder)
    books = [[phone] + numbers[k:k + size] for k in range(0, len(numbers), size)]
    harvest = sweep(ctx, st, books, rotate, seconds=8 if ctx.quick else 60)
    for row in harvest.rows:  # the scrapers' haul, for the dump replay
        ctx.collected.append((f"discovery:{row['account']}", {
            "id": row["person_id"], "phone": (row["identifiers"] or [""])[0],
            **row["fields"]}))
    received = judge(result, st, harvest)
    ctx.received.update({m.id: m for m in st.members if m.id in received})


def stage(ctx: Context, pop: Population, accounts: int) -> Stage:
    budget = pop.budget
    size = 24 if ctx.quick else 90
    members = [pop.person(f"Member{i}", {"location": f"Street {i}"}, {"location": "everyone"})
               for i in range(size)]
    http = pop.client()
    everyone: set[str] = set()
    for m in members[::3]:
        for setting in expect(http.get("/v1/discovery/settings", token=m.token), 200).json():
            expect(http.put(f"/v1/discovery/settings/{setting['identifier_id']}",
                            token=m.token, json={"discoverability": "everyone"}), 200)
        everyone.add(m.id)
    attackers = [pop.person(f"Scraper{i}", {}, {}) for i in range(accounts)]
    # the control: a member on the default setting holds the first attacker in their book
    holder = next(m for m in members if m.id not in everyone)
    expect(http.post("/v1/discovery/sync", token=holder.token, json={
        "mode": "full", "contacts": [attackers[0].phone]}), 200)
    return Stage(pop, budget, members, everyone, attackers,
                 {attackers[0].id: {holder.id}})


def sweep(ctx: Context, st: Stage, books: list[list[str]], rotate: bool,
          seconds: float) -> Harvest:
    """Each attacker account sends its books as fast as the server allows, for `seconds`:
    a refused sync is retried after the Retry-After it was given (if that falls inside the
    time); asked to re-verify, the account does so by code (the attacker holds the number)
    up to three times; a freeze ends it. With `rotate`, every request
    leaves from another loopback address (127.x.y.z, a new /24 each time)."""
    harvest = Harvest()
    rng = random.Random(ctx.tag)
    deadline = time.monotonic() + seconds
    clients: dict[str, Client] = {}
    live = {a.id: 0 for a in st.attackers}  # account -> next book
    wake = {a.id: 0.0 for a in st.attackers}
    asked: dict[str, int] = {}  # account -> times asked to re-verify
    pending: set[str] = set()  # accounts to re-verify before their next sync
    reverified = 0
    try:
        while live and time.monotonic() < deadline and st.budget.left():
            for a in st.attackers:
                if a.id not in live or time.monotonic() < wake[a.id]:
                    continue
                if rotate:  # a new address, and so a new connection, for every request
                    source = (f"127.{rng.randrange(100, 250)}.{rng.randrange(256)}."
                              f"{rng.randrange(1, 255)}")
                    http = Client(ctx.base_url, st.budget, source=source)
                    clients[source] = http
                else:
                    http = st.pop.client(f"127.99.{st.attackers.index(a)}.1")
                if a.id in pending:  # re-verify first: the attacker holds the SIM
                    outcome, wait = _reverify(ctx, http, a)
                    if outcome == "wait":
                        wake[a.id] = time.monotonic() + wait
                        continue
                    pending.discard(a.id)
                    if outcome == "failed":
                        del live[a.id]
                        continue
                    reverified += 1
                book = books[live[a.id] % len(books)]
                r = http.post("/v1/discovery/sync", token=a.token,
                              json={"mode": "incremental", "contacts": book})
                harvest.statuses[r.status_code] = harvest.statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    harvest.rows += [{**m, "account": a.id} for m in r.json()["matches"]]
                    live[a.id] += 1
                elif r.status_code == 429:
                    wake[a.id] = time.monotonic() + float(r.headers.get("retry-after", 1))
                elif _reverification_asked(r) and asked.get(a.id, 0) < 3:
                    asked[a.id] = asked.get(a.id, 0) + 1
                    pending.add(a.id)
                else:  # frozen, or asked to re-verify too often: this account is done
                    del live[a.id]
                if rotate:
                    clients.pop(source).close()
            time.sleep(0.01)
    except BudgetSpent:
        pass
    finally:
        for c in clients.values():
            c.close()
    harvest.reverified = reverified
    return harvest


def _reverification_asked(r: httpx.Response) -> bool:
    return r.status_code == 403 and "reverif" in r.json().get("type", "")


def _reverify(ctx: Context, http: Client, account: Member) -> tuple[str, float]:
    """Re-verification by code, as the holder of the account's number does it: ("done", 0),
    ("wait", seconds) when the code may not be sent yet, or ("failed", 0)."""
    sent = http.post("/v1/discovery/reverify/code", token=account.token,
                     json={"identifier": account.phone})
    if sent.status_code == 429:
        return "wait", float(sent.headers.get("retry-after", 1))
    if sent.status_code != 202:
        return "failed", 0.0
    code = ctx.gateway.code_for(account.phone)
    done = http.post("/v1/discovery/reverify", token=account.token, json={
        "identifier": account.phone, "code": code}).status_code == 204
    return ("done" if done else "failed"), 0.0


def judge(result: IncidentResult, st: Stage, harvest: Harvest) -> set[str]:
    """Judge the harvest into `result`; returns every member some account found (the
    run's people in the scrapers' haul, who must be told when it turns up in a dump)."""
    member_ids = {m.id for m in st.members}
    found: dict[str, set[str]] = {}
    for row in harvest.rows:
        if row["person_id"] in member_ids:
            found.setdefault(row["account"], set()).add(row["person_id"])
    control_ok = all(st.entitled[a] <= found.get(a, set()) for a in st.entitled)
    beyond, harvested = set(), set()
    over_target = 0
    for account, people in found.items():
        extra = people - st.entitled.get(account, set())
        harvested |= extra
        beyond |= {p for p in extra if p not in st.everyone}
        over_target += max(0, len(extra) - PER_ACCOUNT_TARGET)
    canaries = {r["person_id"] for r in harvest.rows if r["person_id"] not in member_ids}
    result.detail.append(
        f"syncs by status: {dict(sorted(harvest.statuses.items()))}; re-verified by code "
        f"{harvest.reverified} times; members harvested "
        f"beyond entitlement: {len(harvested)} of {len(st.members)} ({len(beyond)} of them "
        f"on the default setting); other people handed out: {len(canaries)} (canaries)")
    result.control = (f"{sum(len(v) for v in st.entitled.values())} entitled match found"
                      if control_ok else "the entitled match was not found")
    result.judge(len(beyond) + over_target, 0, control_ok)
    return set().union(*found.values())
