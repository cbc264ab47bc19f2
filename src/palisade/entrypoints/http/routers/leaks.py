"""The exposure check: anyone, member or not, asks whether a phone number or email of theirs
is in a recorded leak — and learns it only after proving control of it with a one-time code.
Before that the answer never differs, whatever the identifier.

No hash-prefix (k-anonymity) look-up, as password-breach services offer: the phone number
space is small enough to enumerate, so answering by prefix would republish the leak."""

from __future__ import annotations

from fastapi import APIRouter, status

from palisade.domain.one_time_codes import Purpose
from palisade.entrypoints.http.dependencies import ClientAddress, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    CodeRequest,
    CodeSentOut,
    ExposureOut,
    ExposureRequest,
    IncidentExposureOut,
)

router = APIRouter(prefix="/v1/exposure", tags=["exposure check"])


@router.post("/codes", status_code=status.HTTP_202_ACCEPTED, response_model=CodeSentOut,
             responses=problem_responses(422, 429))
def request_code(body: CodeRequest, p: PlatformDep, address: ClientAddress) -> CodeSentOut:
    """Send a one-time code to the phone number or email to check. The same answer for any
    identifier, found in a leak or not, member or not; limited like every code-sending path."""
    sent = p.accounts.request_code(body.identifier, address, Purpose.EXPOSURE_CHECK)
    return CodeSentOut(sent_to=sent.sent_to, expires_in_seconds=sent.expires_in)


@router.post("", response_model=ExposureOut, responses=problem_responses(400, 401, 422, 429))
def check(body: ExposureRequest, p: PlatformDep) -> ExposureOut:
    """With the code: the recorded leaks that hold this identifier, and which fields of its
    row each held."""
    bidx = p.accounts.prove_control(body.identifier, body.code, Purpose.EXPOSURE_CHECK)
    found = p.leaks.exposures(bidx)
    return ExposureOut(found=bool(found), incidents=[
        IncidentExposureOut(incident_id=e.incident_id, name=e.name,
                            first_seen_at=e.first_seen_at, fields=e.fields) for e in found])
