"""`palisade replay` against a server process it does not share anything with: the server
texts its codes to the replay's SMS gateway (as to a provider), the replay talks HTTP only.
Every verdict must be PASS; the target guard refuses servers outside the loopback range."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from palisade.replay.report import IncidentResult, Verdict
from palisade.replay.target import TargetRefused, check_target
from tests.conftest import free_port, start_server, stop_server

BUILT = ["contact_importer", "enumeration", "quiz_app", "partners", "view_as", "dump"]
ADMIN_TOKEN = "replay-operator-token-0123456789"


def test_targets_outside_loopback_are_refused_unless_owned() -> None:
    assert check_target("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_target("http://localhost:8000") == "http://localhost:8000"
    assert check_target("http://[::1]:8000") == "http://[::1]:8000"
    for url in ("http://10.0.0.1:8000", "http://192.0.2.7", "ftp://127.0.0.1",
                "http://127.0.0.1:8000/v1/me", "127.0.0.1:8000"):
        with pytest.raises(TargetRefused):
            check_target(url)
    assert check_target("http://192.0.2.7:8000", i_own_it=True) == "http://192.0.2.7:8000"


def test_a_failed_control_is_an_error_never_a_pass() -> None:
    r = IncidentResult("x", "y")
    r.judge(exposed=0, allowed=0, control_ok=False)
    assert r.verdict is Verdict.ERROR
    r = IncidentResult("x", "y")
    r.judge(exposed=1, allowed=0, control_ok=True)
    assert r.verdict is Verdict.FAIL


def test_replays_pass_against_a_live_server(tmp_path: Path) -> None:
    gateway_port = free_port()
    server = start_server({  # the default limits: the replay copes with them, as it must
        "PALISADE_DELIVERY": "external",
        "PALISADE_SMS_WEBHOOK_URL": f"http://127.0.0.1:{gateway_port}/sms",
        "PALISADE_ADMIN_TOKEN": ADMIN_TOKEN,
    }, tmp_path / "home")
    try:
        env = {**os.environ, "PALISADE_ADMIN_TOKEN": ADMIN_TOKEN}
        proc = subprocess.run(
            [sys.executable, "-m", "palisade.entrypoints.cli", "replay", "all",
             "--target", server.url, "--quick", "--json",
             "--sms-gateway", f"127.0.0.1:{gateway_port}"],
            capture_output=True, text=True, env=env, timeout=600, check=False)
    finally:
        output = stop_server(server)
    assert proc.stdout, proc.stderr[-3000:] + output[-3000:]
    doc = json.loads(proc.stdout)
    rows = {r["incident"]: r for r in doc["incidents"]}
    assert sorted(rows) == sorted(BUILT)
    for name, row in rows.items():
        assert set(row) >= {"incident", "historical", "exposed_beyond_consent", "control_ok",
                            "requests", "seconds", "verdict"}
        assert row["verdict"] == "PASS", (name, row)
        assert row["control_ok"] is True and row["exposed_beyond_consent"] == 0
        assert row["requests"] > 0
    assert proc.returncode == 0


def test_incident_names_are_checked_and_the_dump_brings_its_sources() -> None:
    from palisade.replay import runner

    assert runner.chosen(["all"]) == list(runner.INCIDENTS) == sorted(BUILT, key=list(
        runner.INCIDENTS).index)
    with pytest.raises(ValueError, match="unknown incident"):
        runner.chosen(["nope"])
    assert runner.chosen(["dump"]) == ["contact_importer", "enumeration", "quiz_app", "dump"]


def test_the_discovery_judge_counts_strangers_finding_default_members() -> None:
    """The replay's own arithmetic can fail: a member on the default setting found by an
    account they do not know is exposed; an everyone member is not, up to the target."""
    from palisade.replay.incidents.discovery_attack import Harvest, Stage, judge
    from palisade.replay.population import Member

    def member(i: int) -> Member:
        return Member(f"m{i}", f"+1201555{i:04d}", "t", "p", f"M{i}")

    members = [member(i) for i in range(4)]
    st = Stage(None, None, members, {"m3"}, [member(9)], {"m9": {"m0"}})  # type: ignore[arg-type]
    found = Harvest(rows=[{"person_id": p, "account": "m9", "identifiers": [], "fields": {}}
                          for p in ("m0", "m3")])
    r = IncidentResult("x", "y")
    assert judge(r, st, found) == {"m0", "m3"}  # both are in the haul, so in a dump
    assert r.verdict is Verdict.PASS and r.exposed_beyond_consent == 0
    leaked = Harvest(rows=found.rows + [{"person_id": "m1", "account": "m9",
                                         "identifiers": [], "fields": {}}])
    r = IncidentResult("x", "y")
    judge(r, st, leaked)
    assert r.verdict is Verdict.FAIL and r.exposed_beyond_consent == 1
    r = IncidentResult("x", "y")
    judge(r, st, Harvest(rows=[{"person_id": "m3", "account": "m9", "identifiers": [],
                                "fields": {}}]))
    assert r.verdict is Verdict.ERROR  # the entitled match is missing: nothing is concluded


def test_the_command_refuses_a_target_outside_loopback_before_sending_anything() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "palisade.entrypoints.cli", "replay", "all",
         "--target", "http://192.0.2.7:8000", "--sms-gateway", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--i-own-this-target" in proc.stdout + proc.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "palisade.entrypoints.cli", "replay", "nope",
         "--target", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60,
        check=False)
    assert unknown.returncode == 2 and "unknown incident" in unknown.stdout + unknown.stderr
