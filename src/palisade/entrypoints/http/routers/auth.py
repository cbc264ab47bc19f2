"""Sign-in: one-time codes, sessions by code or password, sign-out."""

from __future__ import annotations

from fastapi import APIRouter, status

from palisade.domain.errors import InvalidInput
from palisade.entrypoints.http.dependencies import Auth, ClientAddress, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import CodeRequest, CodeSentOut, SessionOut, SignInRequest

router = APIRouter(prefix="/v1/auth", tags=["sign-in"])


@router.post("/codes", status_code=status.HTTP_202_ACCEPTED, response_model=CodeSentOut,
             responses=problem_responses(422, 429))
def request_code(body: CodeRequest, p: PlatformDep, address: ClientAddress) -> CodeSentOut:
    """Send a one-time code to a phone number or email address. The answer is the same
    whether or not anyone has registered it; the code registers a new person when used."""
    sent = p.accounts.request_code(body.identifier, address)
    return CodeSentOut(sent_to=sent.sent_to, expires_in_seconds=sent.expires_in)


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut,
             responses=problem_responses(400, 401, 422, 429))
def sign_in(body: SignInRequest, p: PlatformDep, address: ClientAddress) -> SessionOut:
    """Sign in (or register) with a one-time code, or sign in with a password."""
    if (body.code is None) == (body.password is None):
        raise InvalidInput("Send either a code or a password.")
    if body.code is not None:
        result = p.accounts.sign_in_with_code(body.identifier, body.code)
    else:
        result = p.accounts.sign_in_with_password(body.identifier, body.password or "", address)
    return SessionOut(token=result.token, person_id=result.person_id, created=result.created,
                      expires_at=result.expires_at)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401))
def sign_out(auth: Auth, p: PlatformDep) -> None:
    """End this session."""
    p.accounts.sign_out(auth)
