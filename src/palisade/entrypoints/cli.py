"""The `palisade` command (Typer + Rich). Configuration comes from the environment / .env."""

from __future__ import annotations

import json
import os
import secrets
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.storage.repository import Repository
from palisade.bootstrap import Platform, build, initialise
from palisade.config import Settings
from palisade.domain.errors import InvalidInput
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.domain.transparency.operator_access import OperatorReason

app = typer.Typer(help="Palisade: personal data served under its owners' rules.",
                  no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Manage the master keys that wrap every person's data key.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")
discovery_app = typer.Typer(help="Operate contact discovery.", no_args_is_help=True)
app.add_typer(discovery_app, name="discovery")
apps_app = typer.Typer(help="Register and operate third-party apps.", no_args_is_help=True)
app.add_typer(apps_app, name="apps")
tokens_app = typer.Typer(help="Revoke app and partner tokens at scale.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
people_app = typer.Typer(help="Read a person's data as the operator: always with a reason, "
                         "always recorded in their access log.", no_args_is_help=True)
app.add_typer(people_app, name="people")
console = Console()


def _platform() -> Platform:
    settings = Settings()
    initialise(settings)
    return build(settings)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


@app.command()
def init() -> None:
    """Create the home folder, the keyring (if none) and the database schema. Idempotent."""
    settings = Settings()
    created = initialise(settings)
    where = "PALISADE_KEYRING" if settings.keyring else str(settings.resolved_keys_file)
    console.print(f"[green]Ready.[/] Database migrated; keyring {'created at' if created else 'at'}"
                  f" {where}.")


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
          workers: Annotated[int, typer.Option(help="Server processes (use PostgreSQL and "
                                               "Redis when more than one)")] = 1) -> None:
    """Run the HTTP API (migrating the database first)."""
    import uvicorn

    settings = Settings()
    initialise(settings)
    if workers > 1 and not settings.redis_url:
        console.print("[yellow]Several workers without PALISADE_REDIS_URL: rate limits are "
                      "per process.[/]")
    uvicorn.run("palisade.entrypoints.http.app:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level="warning", access_log=False,
                proxy_headers=False)  # X-Forwarded-For is handled by our trusted-proxy rule


demo_app = typer.Typer(help="The synthetic demo population, and a synthetic leaked dump.",
                       invoke_without_command=True)
app.add_typer(demo_app, name="demo")
leaks_app = typer.Typer(help="Leak response: scan dumps, attribute, notify, contain.",
                        no_args_is_help=True)
app.add_typer(leaks_app, name="leaks")


@demo_app.callback()
def demo(ctx: typer.Context,
         people: Annotated[int, typer.Option(help="How many synthetic people")] = 10_000,
         seed: Annotated[int, typer.Option(help="Random seed")] = 2026) -> None:
    """Load a synthetic demo population (once; running again only reprints how to sign in)."""
    if ctx.invoked_subcommand is not None:
        return
    from palisade.demo.population import DEMO_EMAIL, DEMO_FRIEND_PHONE, DEMO_PHONE, generate, load

    platform = _platform()
    settings = platform.settings
    creds_path = settings.home / "demo-credentials.json"
    bidx = BlindIndex(platform.keyrings.get().secrets["blind_index"])
    with platform.uow() as session:
        loaded = Repository(session).identifier_by_bidx(
            bidx.of(Identifier(IdentifierKind.PHONE, DEMO_PHONE))) is not None
    if loaded and creds_path.exists():
        console.print("The demo population is already loaded.")
    else:
        with console.status(f"Generating {people:,} synthetic people…"):
            population = generate(people, seed)
        with _progress() as progress, platform.uow() as session:
            task = progress.add_task("Encrypting and loading", total=people)
            load(Repository(session), population, platform.envelope, bidx,
                 progress=lambda k: progress.advance(task, k))
        password = secrets.token_urlsafe(12)
        for phone in (DEMO_PHONE, DEMO_FRIEND_PHONE):
            with platform.uow() as session:
                row = Repository(session).identifier_by_bidx(
                    bidx.of(Identifier(IdentifierKind.PHONE, phone)))
                assert row is not None
                person = Repository(session).person(row.person_id)
                assert person is not None
                person.password_hash = platform.accounts.passwords.hash(password)
        fd = os.open(creds_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"password": password}, fh)
        edges = sum(1 for _ in population.edges())
        console.print(f"[green]Loaded[/] {people:,} people, {edges:,} friendships, "
                      f"{len(population.conversations):,} conversations.")
    password = json.loads(creds_path.read_text())["password"]
    console.print(
        f"\nSign in as the demo person ({DEMO_PHONE} or {DEMO_EMAIL}) with password "
        f"[bold]{password}[/] — or ask for a one-time code and read it with `palisade outbox`:\n"
        f"  curl -s -X POST http://127.0.0.1:8000/v1/auth/sessions -H 'content-type: "
        f"application/json' \\\n    -d '{{\"identifier\": \"{DEMO_PHONE}\", \"password\": "
        f"\"{password}\"}}'\n"
        f"Their friend {DEMO_FRIEND_PHONE} has the same password. API docs: "
        "http://127.0.0.1:8000/docs", soft_wrap=True)
    platform.close()


@keys_app.command("rotate")
def keys_rotate(batch: Annotated[int, typer.Option(help="Data keys per transaction")] = 500
                ) -> None:
    """Make a new master key and re-wrap every data key under it, while reads go on."""
    platform = _platform()
    with _progress() as progress:
        task = progress.add_task("Re-wrapping data keys", total=None)
        report = platform.maintenance.rotate_master_key(
            batch, lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"[green]Rotated.[/] Current master key {report.new_key_id}; "
                  f"{report.rewrapped:,} data keys re-wrapped. Run `palisade keys prune` "
                  "once every server has picked up the new keyring (within seconds).")
    platform.close()


@keys_app.command("prune")
def keys_prune() -> None:
    """Remove master keys that no data key is wrapped under any more."""
    platform = _platform()
    removed = platform.maintenance.prune_master_keys()
    console.print(f"Removed {len(removed)} unused master key(s): {', '.join(removed) or '-'}")
    platform.close()


@app.command()
def purge() -> None:
    """Delete disappeared messages, expired codes, ended sessions and expired OAuth codes and
    tokens now."""
    platform = _platform()
    report = platform.maintenance.purge()
    console.print(f"Purged {report.messages} messages, {report.codes} codes, "
                  f"{report.sessions} sessions, {report.oauth} expired OAuth codes and tokens.")
    platform.close()


@app.command()
def outbox(limit: Annotated[int, typer.Option(help="How many, newest first")] = 10) -> None:
    """Show codes 'sent' in development mode (PALISADE_DELIVERY=outbox)."""
    platform = _platform()
    with platform.uow() as session:
        rows = platform.outbox.read(Repository(session), limit)
    table = Table("at", "channel", "to", "text")
    for row in rows:
        table.add_row(row["at"][:19], row["channel"], row["to"], row["text"])
    console.print(table)
    platform.close()


@app.command()
def alerts(after: Annotated[int | None, typer.Option(help="Only alerts after this id")] = None,
           limit: Annotated[int, typer.Option(help="How many, oldest first")] = 100) -> None:
    """Show contact-discovery detections (the same list as GET /v1/admin/alerts)."""
    platform = _platform()
    table = Table("id", "at", "kind", "subject", "level", "detail")
    for a in platform.discovery.alerts(after, limit):
        table.add_row(str(a.id), a.created_at.isoformat()[:19], a.kind, a.subject,
                      a.level or "-", a.detail)
    console.print(table)
    platform.close()


@discovery_app.command("lift")
def discovery_lift(person_id: Annotated[str, typer.Argument(help="The account id")]) -> None:
    """Lift every discovery restriction (slowed, re-verify, frozen) after review."""
    platform = _platform()
    platform.discovery.lift(person_id)
    console.print(f"Discovery restrictions lifted for {person_id}.")
    platform.close()


@demo_app.command("dump")
def demo_dump(
    path: Annotated[str, typer.Argument(help="Where to write the dump")],
    people: Annotated[int, typer.Option(help="How many demo people it holds")] = 2000,
    fmt: Annotated[str, typer.Option("--format", help="csv, tsv, jsonl or json")] = "csv",
    gzip: Annotated[bool, typer.Option(help="Compress with gzip")] = False,
    clean: Annotated[bool, typer.Option(help="Without the mess of real dumps")] = False,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2021,
) -> None:
    """Write a synthetic dump shaped like the 2021 one: demo people harvested by a scraping
    account and by an app, with the canaries each was served (sets both up first)."""
    from palisade.services.leaks.demo_dump import make_demo_dump

    platform = _platform()
    with console.status("Writing the dump…"):
        out = make_demo_dump(platform, path, people, fmt, gzip, seed, mess=not clean)
    console.print(f"Wrote {out.stats.rows:,} rows ({out.members:,} members) to {path}: "
                  f"{out.stats.duplicates} repeated, {out.stats.quoted_newlines} with a "
                  f"newline in a field, {out.stats.latin1_rows} in Latin-1, "
                  f"{out.stats.stray_delimiter_rows} malformed"
                  f"{', last line cut' if out.stats.truncated_last_line else ''}.")
    for recipient, n in out.canaries.items():
        console.print(f"  {n} canaries of {recipient}")
    platform.close()


def _role_overrides(phone: str | None, email: str | None, id_: str | None) -> dict:
    from palisade.domain.leaks.columns import Role

    return {role: v for role, v in ((Role.PHONE, phone), (Role.EMAIL, email), (Role.ID, id_))
            if v}


@leaks_app.command("scan")
def leaks_scan(
    files: Annotated[list[str], typer.Argument(help="Dump files: CSV, TSV, JSON lines or a "
                                               "JSON array, plain or gzip")],
    region: Annotated[str, typer.Option(help="Region of numbers written without a country "
                                        "code")] = "",
    phone_column: Annotated[str | None, typer.Option(help="Name or number of the phone "
                                                     "column (default: detected)")] = None,
    email_column: Annotated[str | None, typer.Option()] = None,
    id_column: Annotated[str | None, typer.Option()] = None,
    header: Annotated[bool | None, typer.Option("--header/--no-header",
                                                help="Whether the first row names columns "
                                                "(default: detected)")] = None,
    record: Annotated[bool, typer.Option(help="Record the incident and notify the people "
                                         "in it")] = True,
    processes: Annotated[int, typer.Option(help="Worker processes (0: one per core)")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")
                       ] = False,
) -> None:
    """Scan dumps for the people held here, canaries and ids handed out; attribute them."""
    from dataclasses import asdict

    from palisade.services.leaks.scanner import ScanOptions

    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise InvalidInput(f"No such file: {', '.join(missing)}.")
    platform = _platform()
    options = ScanOptions(default_region=region or platform.settings.default_region,
                          overrides=_role_overrides(phone_column, email_column, id_column),
                          header=header, processes=processes)
    quiet = Console(stderr=True, quiet=as_json)
    with quiet.status("Building the index of people, canaries and ids…"):
        index = platform.leaks.index()
    reports = []
    for path in files:
        size = os.path.getsize(path)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=quiet, disable=as_json) as progress:
            task = progress.add_task(os.path.basename(path), total=size)
            try:
                report = platform.leaks.scan(path, index, options, record=record,
                                             progress=lambda n, t=task: progress.advance(t, n))
            except ValueError as exc:
                quiet.print(f"[red]{exc}[/]")
                raise typer.Exit(2) from None
        reports.append(report)
        if not as_json:
            _print_report(report)
    if as_json:
        print(json.dumps({"files": [asdict(r) for r in reports]}, default=str, indent=2))
    platform.close()


def _print_report(r) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"{r.file} ({r.fmt}, {r.size:,} bytes, sha256 {r.sha256[:16]}…)")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("rows read", f"{r.rows:,}")
    table.add_row("rows that failed to parse", f"{r.failed_rows:,}")
    table.add_row("people held here found", f"{r.people_matched:,}")
    for name, count in r.fields.items():
        table.add_row(f"  … with their {name}", f"{count:,}")
    table.add_row("canaries found", f"{len(r.canary_hits)} "
                  f"({sum(1 for c in r.canary_hits if c['strong'])} strong)")
    table.add_row("incident", (r.incident_id or "not recorded") +
                  ("" if r.new or not r.incident_id else " (already recorded)"))
    table.add_row("people notified", f"{r.notified:,}")
    console.print(table)
    if r.attribution:
        who = Table("recipient", "evidence", "found / shown", "p (corrected)", "verdict",
                    title="Attribution")
        for a in r.attribution:
            who.add_row(a.recipient, a.kind, f"{a.found} / {a.shown}", f"{a.p_value:.1e}",
                        a.verdict.value)
        console.print(who)
    else:
        console.print("Attribution: no canary or handed-out id was found; nobody is named.")
    if r.failures:
        console.print("First rows that failed to parse:")
        for line, reason in r.failures[:10]:
            console.print(f"  line {line}: {reason}")


@leaks_app.command("incidents")
def leaks_incidents() -> None:
    """Recorded leak incidents."""
    platform = _platform()
    table = Table("id", "first seen", "file", "rows", "people", "attributed to")
    for i in platform.leaks.incidents():
        table.add_row(i.id, i.first_seen_at.date().isoformat(), i.name, f"{i.rows:,}",
                      f"{i.matched_people:,}", ", ".join(
                          a["recipient"] for a in i.attribution if a["verdict"] == "attributed")
                      or "—")
    console.print(table)
    platform.close()


@leaks_app.command("draft")
def leaks_draft(incident_id: Annotated[str, typer.Argument(help="The incident id")],
                controller: Annotated[str, typer.Option(help="The controller's name")] =
                "[controller name]") -> None:
    """A draft GDPR Article 33 notification for the supervisory authority."""
    platform = _platform()
    print(platform.leaks.article_33_draft(incident_id, controller))
    platform.close()


@leaks_app.command("contain")
def leaks_contain(incident_id: Annotated[str, typer.Argument(help="The incident id")]) -> None:
    """Suspend every attributed app and partner and revoke its tokens; freeze every
    attributed discovery account and end its sessions."""
    platform = _platform()
    actions = platform.leaks.contain(
        incident_id, platform.apps.suspend,
        lambda app_id: platform.apps.revoke_all_tokens(app_id=app_id),
        platform.discovery.freeze, platform.accounts.sign_out_everywhere)
    for a in actions:
        console.print(f"{a.recipient}: {a.action}")
    if not actions:
        console.print("No recipient is attributed in this incident: nothing contained.")
    platform.close()


@leaks_app.command("forget")
def leaks_forget(incident_id: Annotated[str, typer.Argument(help="The incident id")]) -> None:
    """Delete an incident, who it exposed and the blind indexes of every identifier in it."""
    platform = _platform()
    platform.leaks.forget(incident_id)
    console.print(f"Incident {incident_id} and everything recorded with it are deleted.")
    platform.close()


@leaks_app.command("watch")
def leaks_watch(kind: Annotated[str, typer.Argument(help="discovery, app or partner")],
                recipient_id: Annotated[str, typer.Argument(help="Account id or client_id")],
                reason: Annotated[str, typer.Option(help="Why")] = "operator") -> None:
    """Serve canaries to a recipient from now on."""
    platform = _platform()
    platform.canaries.watch(kind, recipient_id, reason)
    console.print(f"{kind}:{recipient_id} is under canary watch.")
    platform.close()


@people_app.command("show")
def people_show(
    person_id: Annotated[str, typer.Argument(help="The person's id")],
    reason: Annotated[OperatorReason, typer.Option(help="Why you need to read it")],
    reference: Annotated[str, typer.Option(help="The ticket or case number")],
) -> None:
    """Show a person's profile and identifiers. The person sees this read, its reason and
    its reference in their access log."""
    platform = _platform()
    view = platform.operator_access.read(person_id, reason, reference,
                                         operator=f"cli:{os.environ.get('USER', 'operator')}")
    table = Table("field", "value")
    for name, value in view.fields.items():
        table.add_row(name, value or "")
    for ident in view.identifiers:
        table.add_row(ident["kind"], ident["value"])
    console.print(table)
    console.print(f"Recorded in the person's access log: {reason.value} ({reference}).")
    platform.close()


@apps_app.command("register")
def apps_register(
    name: Annotated[str, typer.Option(help="The app's name, shown on the consent page")],
    redirect_uri: Annotated[list[str], typer.Option(help="Exact redirect URI (repeatable)")],
    field: Annotated[list[str], typer.Option(
        help="field:purpose the app may ask for (repeatable), e.g. birthday:personalisation")],
    privacy_policy_url: Annotated[str, typer.Option()],
    deletion_callback_url: Annotated[str, typer.Option()],
    public: Annotated[bool, typer.Option(help="A public client: no secret")] = False,
) -> None:
    """Register an app (operators; developers use POST /v1/apps). The secret is shown once."""
    from palisade.domain.apps.grants import declaration, parse_grant

    platform = _platform()
    registered = platform.apps.register(
        name=name, redirect_uris=redirect_uri,
        requested=declaration(parse_grant(f) for f in field),
        privacy_policy_url=privacy_policy_url, deletion_callback_url=deletion_callback_url,
        confidential=not public)
    console.print(f"client_id     {registered.client_id}")
    if registered.client_secret:
        console.print(f"client_secret {registered.client_secret}  [dim](shown once)[/]")
    console.print(f"callback_signing_secret {registered.callback_signing_secret}")
    platform.close()


@apps_app.command("list")
def apps_list() -> None:
    """Every registered app and partner client."""
    platform = _platform()
    table = Table("client_id", "kind", "name", "confidential", "created", "suspended")
    for row in platform.apps.list():
        table.add_row(row.id, row.kind, row.name, "yes" if row.secret_hash else "no",
                      row.created_at.isoformat()[:19],
                      row.suspended_reason or ("yes" if row.suspended_at else ""))
    console.print(table)
    platform.close()


@apps_app.command("audit")
def apps_audit() -> None:
    """Run the automatic audits now; findings also go to `palisade alerts`."""
    platform = _platform()
    table = Table("app", "consenting", "received", "outside purpose", "reads/day", "findings")
    for r in platform.audits.run():
        table.add_row(r.app_id, str(r.usage.consenting), str(r.usage.received),
                      str(r.usage.refused_calls), str(r.usage.reads_last_day),
                      "\n".join(("SUSPENDED " if f.suspend else "") + f.detail
                                for f in r.findings) or "-")
    console.print(table)
    platform.close()


@apps_app.command("suspend")
def apps_suspend(app_id: Annotated[str, typer.Argument(help="The client_id")],
                 reason: Annotated[str, typer.Option(help="Why, for the record")]) -> None:
    """Suspend an app: no new authorizations, and all its tokens stop working."""
    platform = _platform()
    platform.apps.suspend(app_id, reason)
    console.print(f"Suspended {app_id}.")
    platform.close()


@tokens_app.command("revoke")
def tokens_revoke(
    app_id: Annotated[str | None, typer.Option("--app", help="Every token of this app")] = None,
    person_id: Annotated[str | None, typer.Option("--person",
                                                  help="Every app token of this person")] = None,
    everyone: Annotated[bool, typer.Option("--everyone", help="Every app token there is")]
    = False,
) -> None:
    """Revoke tokens with one write, honoured by every server process on its next request."""
    platform = _platform()
    before = platform.apps.revoke_all_tokens(app_id=app_id, person_id=person_id,
                                             everyone=everyone)
    console.print(f"Revoked every matching token issued before {before.isoformat()}.")
    platform.close()


@app.command()
def verify(export: Annotated[str, typer.Argument(
        help="An access-log export (the JSON of GET /v1/me/access-log)")]) -> None:
    """Check an exported access log offline: the signed head, every entry's inclusion proof
    and chain, and consistency with an earlier head if the export has one."""
    from palisade.domain.transparency.verify import main as verify_main

    raise typer.Exit(verify_main([export]))


@app.command()
def replay(
    incidents: Annotated[list[str] | None, typer.Argument(
        help="contact_importer, enumeration, quiz_app, partners, view_as, dump, or all")] = None,
    target: Annotated[str, typer.Option(help="The server's base URL")] = "http://127.0.0.1:8000",
    quick: Annotated[bool, typer.Option(help="A small population and short loops")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    sms_gateway: Annotated[str, typer.Option(
        help="HOST:PORT to receive the server's text messages on (its "
             "PALISADE_SMS_WEBHOOK_URL must be http://HOST:PORT/sms)")] = "127.0.0.1:8025",
    operator_token: Annotated[str | None, typer.Option(
        envvar="PALISADE_ADMIN_TOKEN", help="For the operator's own steps only")] = None,
    max_requests: Annotated[int, typer.Option(help="Per incident")] = 20_000,
    max_seconds: Annotated[float, typer.Option(help="Per incident")] = 300.0,
    i_own_this_target: Annotated[bool, typer.Option(
        "--i-own-this-target", help="Allow a target outside the loopback range")] = False,
) -> None:
    """Play historical incidents against a running server over HTTP, as their attackers
    did, and report what each exposed beyond what people allowed. Exit 0 only if every
    verdict is PASS."""
    from palisade.replay import runner
    from palisade.replay.context import Context
    from palisade.replay.sms_gateway import SmsGateway
    from palisade.replay.target import TargetRefused, check_target

    try:
        base_url = check_target(target, i_own_this_target)
        names = runner.chosen(incidents or [])
        host, _, port = sms_gateway.rpartition(":")
        gateway = SmsGateway(host or "127.0.0.1", int(port))
    except (TargetRefused, ValueError, OSError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    with gateway:
        results = runner.run(names, Context(base_url, gateway, operator_token, quick,
                                            max_requests, max_seconds))
    if as_json:
        from palisade.replay.report import as_json as report_json

        print(json.dumps(report_json(results), indent=2))
    else:
        console.print(runner.table(results))
        for r in results:
            for line in r.detail:
                console.print(f"  {r.incident}: {line}")
    raise typer.Exit(0 if all(r.verdict.value == "PASS" for r in results) else 1)


def main() -> None:
    from palisade.domain.errors import DomainError

    try:
        app()
    except DomainError as exc:  # a person's mistake: say what is wrong, no traceback
        console.print(f"[red]Error:[/] {exc.detail}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
