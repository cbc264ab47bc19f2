"""One simulation run: a defence, a settings world, honest traffic and/or one attacker, over
the simulated days, with an injected clock (event times in seconds; nothing sleeps).

Events come from two streams merged in time order: the world's static schedule (joins,
reinstalls, new contacts; shared by every run) and a heap of dynamic events (honest syncs
and retries, the +24 h checks, attacker actions).

Baselines keep per-account or per-IP state only, and attacker accounts and addresses never
overlap honest ones, so for B0-B3 the honest traffic and each attacker cannot affect each
other: the runner simulates the honest traffic once per (baseline, world) and each attacker
alone (`Task.honest` / `Task.attacker`), which gives the same rows as running them together
(`--joint` runs them together; the test checks one case).

Baselines whose honest clients behave alike (none asks for every daily sync to be sent) ride
along the first baseline's honest run as *shadows*: each sees every request and is asked
the same questions; as long as every answer equals the primary's, the run it would have had
alone is this very run, so it takes the primary's honest results. The first differing
answer marks it diverged, and it gets an honest run of its own (a test checks both ways). Palisade always runs honest and
attacker together: they share per-person overexposure, and synced books (known_by).
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any

from palisade.domain.discovery.discoverability import Discoverability

from .attackers import ATTACKERS, AttackContext, AttackerAPI
from .defences import make_defence
from .honest import Honest
from .platform import Platform
from .world import DAY, BookSize, World

WORLD: World | None = None  # set by the parent before forking the workers

SETTINGS = {"everyone": Discoverability.EVERYONE,
            "defaults": Discoverability.MUTUAL_CONTACTS}
INF = float("inf")


@dataclass(frozen=True)
class Task:
    defence: str
    world: str  # everyone | defaults
    attacker: str | None
    honest: bool
    # (person, from): people the honest run of this (defence, world) hid from strangers
    replay_hidden: tuple[tuple[int, float], ...] = ()
    # defences run as shadows of this one (honest runs only; see Platform.shadows)
    shadows: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        parts = [self.defence, self.world, self.attacker or "-"]
        if self.honest and self.attacker:
            parts.append("(with honest)")
        elif self.honest:
            parts.append("honest only")
        return " ".join(parts)


def run_task(task: Task) -> tuple[Task, dict[str, Any]]:
    world = WORLD
    assert world is not None, "the world must be built before running"
    started = time.perf_counter()
    params = world.params
    horizon = params.days * DAY
    defence = make_defence(task.defence)
    max_accounts = int(2_000 * max(1.0, params.scale)) + 64
    pf = Platform(world, SETTINGS[task.world], defence, max_accounts)
    if task.replay_hidden:
        pf.replay_hidden(task.replay_hidden)
    for name in task.shadows:
        shadow = make_defence(name)
        pf.shadows.append(shadow)
        if shadow.pacing_reasons != defence.pacing_reasons:  # the client would react otherwise
            pf.diverged.add(name)
    heap: list[tuple[float, int, int, int]] = []
    seq = itertools.count()

    def push(t: float, kind: int, p: int) -> None:
        if t < horizon:
            heapq.heappush(heap, (t, next(seq), kind, p))

    honest = Honest(world, pf, push, horizon) if task.honest else None
    attacker = None
    api = None
    if task.attacker:
        rng = random.Random(f"attacker:{params.seed}:{task.attacker}")
        api = AttackerAPI(pf, rng)
        sizes = BookSize(params.book_median, params.book_p90, params.book_p99,
                         params.book_cap)
        ctx = AttackContext(
            api=api, rng=rng, valid_numbers=world.e164,
            addresses=world.attacker_addresses, scale=params.scale, horizon=horizon,
            leaked=lambda size, share: world.leaked_list(size, share, params.seed + 17),
            book_size=sizes.draw)
        attacker = ATTACKERS[task.attacker](ctx)
        for t, i in attacker.start(0.0):
            push(t, 3, i)

    ev_t, ev_k, ev_a, ev_b, ev_f = world.events
    n_ev = len(ev_t)
    si = 0
    EV_JOIN, EV_REINSTALL = world.EV_JOIN, world.EV_REINSTALL
    heappop = heapq.heappop
    while True:
        ts = ev_t[si] if si < n_ev else INF
        td = heap[0][0] if heap else INF
        if ts <= td:
            if ts >= horizon:
                break
            kind, a = ev_k[si], ev_a[si]
            if honest is not None:
                if kind == EV_JOIN:
                    honest.on_join(a, ts)
                elif kind == EV_REINSTALL:
                    honest.on_reinstall(a, ts)
                else:
                    honest.on_new_contact(a, ev_b[si], ev_f[si], ts)
            elif kind == EV_JOIN:  # membership still changes for the attacker's answers
                pf.member[a] = 1
                pf.registered_at[a] = ts
            si += 1
        else:
            if td >= horizon:
                break
            t, _, kind, p = heappop(heap)
            if kind == 3:
                nxt = attacker.act(p, t)
                if nxt is not None:
                    push(max(nxt, t), 3, p)
            else:
                honest.on_event(kind, p, t)

    out: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 1),
                           "server_requests": pf.requests}
    if task.shadows:
        out["_shadows_diverged"] = tuple(sorted(pf.diverged))
    if honest is not None:
        out.update(honest.results())
        if not task.attacker:
            out["_hidden_log"] = tuple(pf.hidden_log)
    if attacker is not None:
        harvested = len(pf.harvested)
        out.update({
            "harvested": harvested,
            "harvested_pct": round(100.0 * harvested / world.people, 4),
            "per_account": round(harvested / attacker.accounts, 3),
            "attacker_accounts": attacker.accounts,
            "attacker_verifications": api.verifications,
            "attacker_reverifications": api.reverifications,
            "attacker_requests": api.requests,
            "attacker_numbers_sent": api.sent,
            "attacker_refusals": dict(sorted(api.refusals.items())),
            "attacker_accounts_retired": sum(1 for ag in getattr(attacker, "agents", ())
                                             if ag.dead),
        })
    return task, out
