"""The operator API: discovery alerts and lifting restrictions. Authenticated with the
operator token from configuration (PALISADE_ADMIN_TOKEN); disabled when none is set."""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from palisade.domain.errors import InvalidInput, TooLarge, Unauthenticated
from palisade.domain.transparency.operator_access import OperatorReason
from palisade.entrypoints.http.dependencies import PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.routers.apps import app_out
from palisade.entrypoints.http.schemas import (
    AgreementCreate,
    AgreementOut,
    AlertOut,
    AppOut,
    AppRegistered,
    AttributionOut,
    AuditFindingOut,
    AuditReportOut,
    LeakScanOut,
    OperatorViewOut,
    PartnerCreate,
    PathId,
    RevokedOut,
    RevokeTokensRequest,
    SessionsEndedOut,
    SessionsEndRequest,
    SuspendRequest,
)

_bearer = HTTPBearer(auto_error=False, description="The operator token")


def operator(p: PlatformDep,
             credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
             ) -> None:
    configured = p.settings.admin_token
    if configured is None:  # no token can be right, so every request is unauthenticated
        raise Unauthenticated("The operator API is disabled: set PALISADE_ADMIN_TOKEN to "
                              "enable it.")
    if credentials is None:
        raise Unauthenticated("Send 'Authorization: Bearer <operator token>'.")
    given = hashlib.sha256(credentials.credentials.encode()).digest()
    expected = hashlib.sha256(configured.get_secret_value().encode()).digest()
    if not hmac.compare_digest(given, expected):  # constant time
        raise Unauthenticated("That operator token is not valid.")


router = APIRouter(prefix="/v1/admin", tags=["operator"], dependencies=[Depends(operator)],
                   responses=problem_responses(401))


@router.get("/alerts", response_model=list[AlertOut], responses=problem_responses(422))
def alerts(p: PlatformDep, after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AlertOut]:
    """Discovery detections, oldest first; page with ?after=<last id>."""
    return [AlertOut(id=a.id, kind=a.kind, subject=a.subject, account_id=a.account_id,
                     level=a.level, detail=a.detail, created_at=a.created_at)
            for a in p.discovery.alerts(after, limit)]


@router.post("/discovery/{person_id}/lift", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404))
def lift(person_id: PathId, p: PlatformDep) -> None:
    """Lift every discovery restriction from an account after review."""
    p.discovery.lift(person_id)


@router.get("/people/{person_id}", response_model=OperatorViewOut,
            responses=problem_responses(404, 422))
def read_person(person_id: PathId, p: PlatformDep, reason: OperatorReason,
                reference: Annotated[str, Query(min_length=3, max_length=80, description=(
                    "The ticket or case this read is for"))]) -> OperatorViewOut:
    """Read a person's personal data. Needs a reason and a reference; the read goes into the
    person's access log with both, as access-transparency logs do."""
    view = p.operator_access.read(person_id, reason, reference)
    return OperatorViewOut(person_id=view.person_id, fields=view.fields,
                           identifiers=view.identifiers,
                           recorded="the person's access log, with this reason and reference")


@router.get("/apps", response_model=list[AppOut])
def all_apps(p: PlatformDep) -> list[AppOut]:
    """Every registered app and partner client."""
    return [app_out(r) for r in p.apps.list()]


@router.post("/apps/{app_id}/suspend", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404, 422))
def suspend_app(app_id: PathId, body: SuspendRequest, p: PlatformDep) -> None:
    """Suspend an app: it cannot authorize anyone and all its tokens stop working."""
    p.apps.suspend(app_id, body.reason)


@router.post("/tokens/revoke", response_model=RevokedOut, responses=problem_responses(404, 422))
def revoke_tokens(body: RevokeTokensRequest, p: PlatformDep) -> RevokedOut:
    """Revoke every app token of one app, of one person, or of everyone, as one write that
    every server process honours on its next request."""
    before = p.apps.revoke_all_tokens(app_id=body.app_id, person_id=body.person_id,
                                      everyone=body.everyone)
    return RevokedOut(revoked_before=before)


@router.post("/sessions/end", response_model=SessionsEndedOut,
             responses=problem_responses(404, 422))
def end_sessions(body: SessionsEndRequest, p: PlatformDep) -> SessionsEndedOut:
    """Sign one person, or everyone, out of every session (app tokens: /tokens/revoke)."""
    if body.everyone == (body.person_id is not None):
        raise InvalidInput("Give either person_id or everyone: true.")
    ended = (p.accounts.sign_out_everyone() if body.everyone
             else p.accounts.end_sessions_of(body.person_id))  # type: ignore[arg-type]
    return SessionsEndedOut(ended=ended)


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=AppRegistered,
             responses=problem_responses(422))
def create_partner(body: PartnerCreate, p: PlatformDep) -> AppRegistered:
    """A partner client (client credentials + DPoP). The secret is shown once."""
    created = p.partners.create(body.name, body.privacy_policy_url, body.deletion_callback_url)
    return AppRegistered(client_id=created.client_id, client_secret=created.client_secret,
                         callback_signing_secret=created.callback_signing_secret)


def _agreement_out(a) -> AgreementOut:  # type: ignore[no-untyped-def]
    return AgreementOut(id=a.id, partner_id=a.partner_id, scopes=a.scopes,
                        legal_basis=a.legal_basis, starts_at=a.starts_at, ends_at=a.ends_at,
                        terminated_at=a.terminated_at, note=a.note)


@router.post("/partners/{partner_id}/agreements", status_code=status.HTTP_201_CREATED,
             response_model=AgreementOut, responses=problem_responses(404, 422))
def create_agreement(partner_id: PathId, body: AgreementCreate, p: PlatformDep) -> AgreementOut:
    """An agreement: scopes (field:purpose), legal basis, start and end. People still opt in."""
    agreement_id = p.partners.agree(partner_id, body.scopes, body.legal_basis, body.starts_at,
                                    body.ends_at, body.note)
    return next(_agreement_out(a) for a in p.partners.agreements(partner_id)
                if a.id == agreement_id)


@router.get("/partners/{partner_id}/agreements", response_model=list[AgreementOut])
def list_agreements(partner_id: PathId, p: PlatformDep) -> list[AgreementOut]:
    return [_agreement_out(a) for a in p.partners.agreements(partner_id)]


@router.post("/agreements/{agreement_id}/terminate", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404))
def terminate_agreement(agreement_id: PathId, p: PlatformDep) -> None:
    """End an agreement now."""
    p.partners.terminate(agreement_id)


@router.post("/apps/audit", response_model=list[AuditReportOut])
def audit_apps(p: PlatformDep) -> list[AuditReportOut]:
    """Run the automatic audits now (they also run in the background): consenting people vs
    people received, grants vs use, calls outside purpose, bulk reading. New findings go to
    the alert list; suspension happens where configured."""
    return [AuditReportOut(
        app_id=r.app_id, consenting=r.usage.consenting, received=r.usage.received,
        refused_calls=r.usage.refused_calls, reads_last_day=r.usage.reads_last_day,
        granted=sorted(g.scope_token for g in r.usage.granted),
        used=sorted(g.scope_token for g in r.usage.used),
        findings=[AuditFindingOut(kind=f.kind.value, detail=f.detail, suspend=f.suspend)
                  for f in r.findings], suspended=r.suspended)
        for r in p.audits.run()]


@router.post("/leaks/scans", status_code=status.HTTP_201_CREATED, response_model=LeakScanOut,
             responses=problem_responses(413, 422))
async def scan_leak(request: Request, p: PlatformDep,
                    region: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
                    record: bool = True) -> LeakScanOut:
    """Scan a leaked file sent as the request body (CSV, TSV, JSON lines or a JSON array,
    plain or gzip), as `palisade leaks scan` does: people found, canaries, attribution; with
    `record`, the incident is recorded once per SHA-256 and the people in it are notified.
    The body is streamed to a temporary file (at most PALISADE_LEAK_UPLOAD_MAX_BYTES) and
    scanned in this process."""
    from starlette.concurrency import run_in_threadpool

    from palisade.services.leaks.scanner import ScanOptions

    limit = p.settings.leak_upload_max_bytes
    handle, path = tempfile.mkstemp(prefix="leak-", suffix=".dump")
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"The file is larger than {limit:,} bytes.")
                out.write(chunk)
        if not size:
            raise InvalidInput("Send the leaked file as the request body.")
        options = ScanOptions(default_region=(region or p.settings.default_region).upper(),
                              processes=1, split_above=1 << 62)  # no fork inside a server

        def scan():  # type: ignore[no-untyped-def]
            return p.leaks.scan(path, p.leaks.index(), options, record=record)

        try:
            r = await run_in_threadpool(scan)
        except ValueError as exc:  # no identifier column, an unknown region
            raise InvalidInput(str(exc).replace(path, "the file")) from None
    finally:
        os.unlink(path)
    return LeakScanOut(
        incident_id=r.incident_id, new=r.new, sha256=r.sha256, size=r.size, format=r.fmt,
        rows=r.rows, failed_rows=r.failed_rows, people_matched=r.people_matched,
        fields=r.fields, canary_hits=len(r.canary_hits), notified=r.notified,
        attribution=[AttributionOut(recipient=a.recipient, kind=a.kind, shown=a.shown,
                                    found=a.found, p_value=a.p_value, verdict=a.verdict.value)
                     for a in r.attribution])
