"""Runs the chosen incident replays in the historical order and renders the report."""

from __future__ import annotations

from types import ModuleType

from rich.table import Table

from palisade.replay.context import Context
from palisade.replay.incidents import (
    contact_importer_2019,
    dump_2021,
    enumeration_2025,
    partners_2010s,
    quiz_app_2014,
    view_as_2018,
)
from palisade.replay.report import IncidentResult

# name -> (module, the public record), in historical order of the attacks' own logic: the
# dump comes last because it is written from what the others collected
INCIDENTS: dict[str, tuple[ModuleType, str]] = {
    contact_importer_2019.NAME: (contact_importer_2019, contact_importer_2019.HISTORICAL),
    enumeration_2025.NAME: (enumeration_2025, enumeration_2025.HISTORICAL),
    quiz_app_2014.NAME: (quiz_app_2014, quiz_app_2014.HISTORICAL),
    partners_2010s.NAME: (partners_2010s, partners_2010s.HISTORICAL),
    view_as_2018.NAME: (view_as_2018, view_as_2018.HISTORICAL),
    dump_2021.NAME: (dump_2021, dump_2021.HISTORICAL),
}


def chosen(names: list[str]) -> list[str]:
    if not names or names == ["all"]:
        return list(INCIDENTS)
    unknown = [n for n in names if n not in INCIDENTS]
    if unknown:
        raise ValueError(f"unknown incident(s): {', '.join(unknown)}; choose from "
                         f"{', '.join(INCIDENTS)} or all")
    wanted = set(names)
    if dump_2021.NAME in wanted:  # the dump is written from what these replays collect
        wanted.update(dump_2021.NEEDS)
    return [n for n in INCIDENTS if n in wanted]


def run(names: list[str], ctx: Context) -> list[IncidentResult]:
    return [INCIDENTS[name][0].run(ctx) for name in chosen(names)]


def table(results: list[IncidentResult]) -> Table:
    t = Table(title="Incident replays")
    for column in ("incident", "historically", "exposed beyond consent here",
                   "attacker got legitimately (control)", "requests", "seconds", "verdict"):
        t.add_column(column, justify="right" if column in ("requests", "seconds") else "left")
    for r in results:
        t.add_row(r.incident, r.historical,
                  "-" if r.exposed_beyond_consent is None else str(r.exposed_beyond_consent),
                  r.control or "-", str(r.requests), f"{r.seconds:.1f}", r.verdict.value)
    return t
