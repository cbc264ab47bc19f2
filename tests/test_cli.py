"""The `palisade` command: every command has --help; init and demo are idempotent; keys
rotate/prune, purge and outbox work on a real home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from typer.testing import CliRunner

from palisade.bootstrap import build
from palisade.entrypoints.cli import app
from palisade.config import Settings


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PALISADE_HOME": str(home), "COLUMNS": "200"}
    env.pop("PALISADE_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "palisade.entrypoints.cli", *args], env=env,
                            capture_output=True, text=True, timeout=240)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("command", [[], ["init"], ["serve"], ["demo"], ["keys"],
                                     ["keys", "rotate"], ["keys", "prune"], ["purge"],
                                     ["outbox"], ["apps"], ["apps", "register"],
                                     ["apps", "list"], ["apps", "suspend"], ["apps", "audit"],
                                     ["verify"],
                                     ["tokens"],
                                     ["tokens", "revoke"], ["people", "show"],
                                     ["demo", "dump"], ["leaks"], ["leaks", "scan"],
                                     ["leaks", "incidents"], ["leaks", "draft"],
                                     ["leaks", "contain"], ["leaks", "watch"],
                                     ["leaks", "forget"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_init_demo_rotate_purge_outbox(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init")
    run(home, "init")  # idempotent
    keys = json.loads((home / "keys.json").read_text())
    assert len(keys["master_keys"]) == 1

    out = run(home, "demo", "--people", "300").stdout
    assert "Loaded" in out and "300 people" in out
    password = json.loads((home / "demo-credentials.json").read_text())["password"]
    assert password in out
    again = run(home, "demo", "--people", "300").stdout  # idempotent: nothing loaded twice
    assert "already loaded" in again and password in again

    settings = Settings(home=home, _env_file=None)
    platform = build(settings)
    signed_in = platform.accounts.sign_in_with_password("+12015550100", password, "test")
    friends = platform.social.friends(signed_in.person_id)
    assert friends, "the demo person has friends"
    with platform.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from persons")).scalar() == 300
    platform.close()

    out = run(home, "keys", "rotate").stdout
    assert "300 data keys re-wrapped" in out
    assert "Removed 1 unused master key" in run(home, "keys", "prune").stdout
    platform = build(Settings(home=home, _env_file=None))
    assert platform.profiles.own(signed_in.person_id)[0].fields["name"] == "Demo Person"
    platform.close()

    assert "Purged" in run(home, "purge").stdout
    # a code request lands in the outbox, which the CLI shows
    platform = build(Settings(home=home, _env_file=None))
    platform.accounts.request_code("+12015550100", "test")
    platform.close()
    out = run(home, "outbox").stdout
    assert "+12015550100" in out and "Your Palisade code is" in out


def test_apps_register_list_suspend_and_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = run(home, "apps", "register", "--name", "Calendar", "--redirect-uri",
              "https://cal.example/cb", "--field", "birthday:personalisation", "--field",
              "name:sign_in", "--privacy-policy-url", "https://cal.example/p",
              "--deletion-callback-url", "https://cal.example/d").stdout
    client_id = out.split()[1]
    assert client_id.startswith("app_") and "client_secret" in out
    bad = run(home, "apps", "register", "--name", "X", "--redirect-uri", "http://x.example/cb",
              "--field", "name:sign_in", "--privacy-policy-url", "https://x.example/p",
              "--deletion-callback-url", "https://x.example/d", check=False)
    assert bad.returncode != 0 and "https" in (bad.stdout + bad.stderr)
    assert "Calendar" in run(home, "apps", "list").stdout
    run(home, "apps", "suspend", client_id, "--reason", "audit")
    assert "audit" in run(home, "apps", "list").stdout
    assert "Revoked" in run(home, "tokens", "revoke", "--everyone").stdout
    assert run(home, "tokens", "revoke", check=False).returncode != 0


def test_demo_dump_scan_draft_contain(tmp_path: Path) -> None:
    """The leak-response commands end to end on a real home folder: the demo dump is
    attributed to its scraping account and its app, recorded once, drafted and contained."""
    home = tmp_path / "home"
    run(home, "demo", "--people", "300")
    dump = tmp_path / "dump.tsv"
    out = run(home, "demo", "dump", str(dump), "--people", "200", "--format", "tsv").stdout
    assert "canaries of discovery:" in out and "canaries of app:" in out
    scanned = json.loads(run(home, "leaks", "scan", str(dump), "--json").stdout)
    [report] = scanned["files"]
    assert report["people_matched"] >= 198 and report["new"]
    attributed = {a["recipient"] for a in report["attribution"]
                  if a["verdict"] == "attributed"}
    assert {r.split(":")[0] for r in attributed} == {"discovery", "app"}
    incident = report["incident_id"]
    assert incident in run(home, "leaks", "incidents").stdout
    assert "Article 33" in run(home, "leaks", "draft", incident).stdout
    contained = run(home, "leaks", "contain", incident).stdout
    assert "suspended" in contained and "discovery frozen" in contained
    run(home, "leaks", "forget", incident)
    assert incident not in run(home, "leaks", "incidents").stdout
    # overriding a column, on a file without a header: numbers in the third column
    bare = tmp_path / "bare.csv"
    bare.write_text("x,y,+12015550100\n")
    again = json.loads(run(home, "leaks", "scan", str(bare), "--json", "--no-header",
                           "--phone-column", "3", "--no-record").stdout)
    assert again["files"][0]["people_matched"] == 1  # the demo person
    missing = run(home, "leaks", "scan", str(bare), "--no-header", "--phone-column", "7",
                  check=False)
    assert missing.returncode != 0 and "outside" in (missing.stdout + missing.stderr)


def test_leak_commands_refuse_bad_input_with_a_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args, said in ((["leaks", "watch", "everyone", "x"], "A recipient is one of"),
                       (["leaks", "scan", str(tmp_path / "missing.csv")], "No such file"),
                       (["demo", "dump", str(tmp_path / "d.csv")], "Load the demo population"),
                       (["leaks", "draft", "no-such-incident"], "No such incident")):
        result = run(home, *args, check=False)
        assert result.returncode == 2, (args, result.stdout + result.stderr)
        assert said in result.stdout and "Traceback" not in result.stderr, args
