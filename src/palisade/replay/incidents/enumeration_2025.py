"""2025, messenger enumeration: about 3.5 billion accounts enumerated at over 100 million
numbers an hour from five sessions. Here five sessions walk the population's number range in
order, a block at a time, at the highest rate the server allows, each from its own address.
See `discovery_attack` for the control and what counts as exposed."""

from __future__ import annotations

from palisade.replay.context import Context
from palisade.replay.incidents.base import play
from palisade.replay.incidents.discovery_attack import attack
from palisade.replay.population import Population
from palisade.replay.report import IncidentResult

NAME = "enumeration"
HISTORICAL = "2025: ~3.5 billion accounts enumerated from five sessions"


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    attack(ctx, pop, result, accounts=5, shuffled=False, rotate=False)
