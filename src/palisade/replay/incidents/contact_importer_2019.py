"""2019, the contact importer: software posing as the mobile app uploaded about 10,000 phone
numbers an import and got back the matching profiles, cycling through thousands of IP
addresses to beat per-address limits; 533 million people were harvested. Here several
accounts upload address books of generated numbers (the population's range, shuffled) as fast
as the server allows, each request from another loopback address, for a bounded time. See
`discovery_attack` for the control and what counts as exposed."""

from __future__ import annotations

from palisade.replay.context import Context
from palisade.replay.incidents.base import play
from palisade.replay.incidents.discovery_attack import attack
from palisade.replay.population import Population
from palisade.replay.report import IncidentResult

NAME = "contact_importer"
HISTORICAL = "2019: ~10,000 numbers an import from rotating addresses; 533 million people"


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    attack(ctx, pop, result, accounts=3 if ctx.quick else 10, shuffled=True, rotate=True)
