"""2021, the dump: the rows scraped in 2019 (id, phone, names, gender, location, relationship
status, workplace, email, birthday, many empty) were resold, then published; nobody could say
who had taken them, and the people in them learned it from the news. Here everything the
earlier replays' attackers were handed (the scraping accounts' matches, canaries included,
and what the quiz app received) is written as a dump of that shape and sent to the operator's
scan (`POST /v1/admin/leaks/scans`, the HTTP twin of `palisade leaks scan`).

Control: the scan finds the run's people whose data the attackers legitimately received.
Exposed beyond consent: each source of the dump (scraping account or app) the scan does not
attribute, and each person in the dump who was not told."""

from __future__ import annotations

import csv
import io
import secrets

from palisade.replay.context import Context
from palisade.replay.http import ReplayError, expect
from palisade.replay.incidents.base import play
from palisade.replay.population import Population
from palisade.replay.report import IncidentResult

NAME = "dump"
HISTORICAL = "2021: 533 million rows published; the source could not be named"
NEEDS = ("contact_importer", "enumeration", "quiz_app")  # the replays whose haul it writes
COLUMNS = ["id", "phone", "first_name", "last_name", "gender", "location",
           "relationship_status", "workplace", "email", "birthday"]


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def write_dump(collected: list[tuple[str, dict]]) -> bytes:
    """The 2021 shape, one row per record handed out, shuffled (a dump does not say who
    collected which row)."""
    rows = [record for _, record in collected]
    secrets.SystemRandom().shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        first, _, last = (r.get("name") or "").partition(" ")
        writer.writerow([r.get("id", ""), r.get("phone", ""), first, last, "",
                         r.get("location", ""), r.get("relationship_status", ""), "",
                         r.get("email", ""), r.get("birthday", "")])
    return out.getvalue().encode()


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    if not ctx.collected:
        raise ReplayError("nothing was collected: the dump replay writes what "
                          f"{', '.join(NEEDS)} were handed, so run it with them")
    sources = sorted({recipient for recipient, _ in ctx.collected})
    dump = write_dump(ctx.collected)
    operator = ctx.operator(pop)
    report = expect(operator.post("/v1/admin/leaks/scans", content=dump,
                                  headers={"content-type": "text/csv"}), 201).json()
    attributed = {a["recipient"] for a in report["attribution"]
                  if a["verdict"] == "attributed"}
    wrongly = sorted(attributed - set(sources))
    missed = [s for s in sources if s not in attributed]
    http = pop.client()
    told = []
    for m in ctx.received.values():
        # a fresh sign-in: the View As replay has the operator log everyone out
        token = expect(http.post("/v1/auth/sessions", json={
            "identifier": m.phone, "password": m.password}), 201).json()["token"]
        feed = expect(http.get("/v1/me/notifications", token=token), 200).json()
        if any(n["kind"] == "leak_found" for n in feed["items"]):
            told.append(m)
    result.detail.append(
        f"{len(ctx.collected)} rows from {len(sources)} sources; scan: {report['rows']} rows, "
        f"{report['people_matched']} people, {report['canary_hits']} canary hits; "
        f"attributed {len(attributed & set(sources))} of {len(sources)} sources"
        + (f" (missed: {', '.join(missed)})" if missed else "")
        + (f"; named wrongly: {', '.join(wrongly)}" if wrongly else ""))
    result.detail.append(f"{len(told)} of {len(ctx.received)} people in the dump were told")
    exposed = len(missed) + len(wrongly) + len(ctx.received) - len(told)
    control_ok = bool(ctx.received) and report["people_matched"] >= len(ctx.received)
    result.control = (f"the scan found {report['people_matched']} people, the run's "
                      f"{len(ctx.received)} among them" if control_ok else
                      f"the scan found {report['people_matched']} people, fewer than the "
                      f"run's {len(ctx.received)}")
    result.judge(exposed, 0, control_ok)
