"""The frame every replay runs in: its own budget and population, every failure of the replay
itself turned into an ERROR with its reason, the requests and seconds it spent."""

from __future__ import annotations

import time
from collections.abc import Callable

from palisade.replay.context import Context
from palisade.replay.population import Population
from palisade.replay.report import IncidentResult

Attack = Callable[[Context, Population, IncidentResult], None]


def play(ctx: Context, name: str, historical: str, attack: Attack) -> IncidentResult:
    result = IncidentResult(name, historical)
    budget = ctx.budget()
    pop = ctx.population(budget)
    started = time.monotonic()
    try:
        attack(ctx, pop, result)
    except Exception as e:  # noqa: BLE001 - any failure of the replay itself is an ERROR
        result.detail.append(f"{type(e).__name__}: {e}")
        result.control_ok = False
    finally:
        pop.close()
        result.requests, result.seconds = budget.requests, time.monotonic() - started
    return result
