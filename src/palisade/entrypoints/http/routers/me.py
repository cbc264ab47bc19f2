"""The signed-in person's own data: profile, audiences, View As, identifiers, sessions,
password, and erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from palisade.bootstrap import Platform
from palisade.domain.errors import InvalidInput
from palisade.domain.one_time_codes import Purpose
from palisade.domain.profile import Audience
from palisade.entrypoints.http.dependencies import Auth, ClientAddress, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.routers.transparency import head_out
from palisade.entrypoints.http.schemas import (
    CodeRequest,
    CodeSentOut,
    ErasureReceipt,
    IdentifierOut,
    IdentifierVerify,
    LogEntryOut,
    OwnProfileOut,
    PasswordChange,
    PathId,
    ProfileFields,
    ProfileUpdate,
    QueryId,
    SessionInfo,
    ViewAsOut,
)
from palisade.services.maintenance import Erasure

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401))


@router.get("")
def whoami(auth: Auth) -> dict[str, str]:
    return {"person_id": auth.person_id}


@router.get("/profile", response_model=OwnProfileOut)
def own_profile(auth: Auth, p: PlatformDep) -> OwnProfileOut:
    rendered, audiences = p.profiles.own(auth.person_id)
    return OwnProfileOut(person_id=auth.person_id, fields=ProfileFields(**rendered.fields),
                         audiences=audiences)


@router.patch("/profile", response_model=OwnProfileOut, responses=problem_responses(422))
def update_profile(body: ProfileUpdate, auth: Auth, p: PlatformDep) -> OwnProfileOut:
    """Change field values and who may see each field."""
    p.profiles.update(auth.person_id, {k.value: v for k, v in body.fields.items()},
                      {k.value: v.value for k, v in body.audiences.items()})
    return own_profile(auth, p)


@router.get("/view-as", response_model=ViewAsOut, response_model_exclude_none=True,
            responses=problem_responses(422))
def view_as(auth: Auth, p: PlatformDep,
            audience: Annotated[Audience | None, Query()] = None,
            person_id: QueryId = None) -> ViewAsOut:
    """Your profile as `audience` (everyone, friends_of_friends, friends) or as one named
    person sees it. Mints no credential; says nothing about the named person."""
    if (audience is None) == (person_id is None) or audience is Audience.ONLY_ME:
        raise InvalidInput("Give either audience (everyone, friends_of_friends, friends) or "
                           "person_id.")
    rendered = p.profiles.view_as(auth.person_id, audience=audience, person_id=person_id)
    return ViewAsOut(viewed_as=audience.value if audience else "person",
                     fields=ProfileFields(**rendered.fields))


@router.get("/identifiers", response_model=list[IdentifierOut])
def identifiers(auth: Auth, p: PlatformDep) -> list[dict[str, str]]:
    return p.accounts.identifiers(auth.person_id)


@router.post("/identifiers/codes", status_code=status.HTTP_202_ACCEPTED,
             response_model=CodeSentOut, responses=problem_responses(409, 422, 429))
def request_identifier_code(body: CodeRequest, auth: Auth, p: PlatformDep,
                            address: ClientAddress) -> CodeSentOut:
    """Send a code to prove control of another phone number or email address."""
    sent = p.accounts.request_code(body.identifier, address, Purpose.ADD_IDENTIFIER,
                                   auth.person_id)
    return CodeSentOut(sent_to=sent.sent_to, expires_in_seconds=sent.expires_in)


@router.post("/identifiers", status_code=status.HTTP_201_CREATED,
             response_model=list[IdentifierOut], responses=problem_responses(400, 409, 422))
def add_identifier(body: IdentifierVerify, auth: Auth, p: PlatformDep) -> list[dict[str, str]]:
    p.accounts.add_identifier(auth.person_id, body.identifier, body.code)
    return p.accounts.identifiers(auth.person_id)


@router.delete("/identifiers/{identifier_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404, 422))
def remove_identifier(identifier_id: PathId, auth: Auth, p: PlatformDep) -> None:
    p.accounts.remove_identifier(auth.person_id, identifier_id)


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT,
            responses=problem_responses(401, 422))
def set_password(body: PasswordChange, auth: Auth, p: PlatformDep) -> None:
    p.accounts.set_password(auth.person_id, body.new_password, body.current_password)


@router.get("/sessions", response_model=list[SessionInfo])
def sessions(auth: Auth, p: PlatformDep) -> list[SessionInfo]:
    return [SessionInfo(id=s.id, method=s.method, created_at=s.created_at,
                        last_seen_at=s.last_seen_at, current=s.id == auth.session_id)
            for s in p.accounts.sessions(auth.person_id)]


@router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT)
def sign_out_everywhere(auth: Auth, p: PlatformDep) -> None:
    """End every session of yours, this one included."""
    p.accounts.sign_out_everywhere(auth.person_id)


@router.get("/export", response_class=Response, responses={
    200: {"content": {"application/zip": {}}, "description": "A ZIP of JSON and CSV files"}})
def export(auth: Auth, p: PlatformDep) -> Response:
    """Everything held about you (GDPR Articles 15 and 20): JSON and CSV, who received what and
    why, retention periods, and the access log with its proofs. Recorded in your log."""
    out = p.export.build(auth.person_id)
    return Response(out.data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{out.name}"'})


@router.delete("", response_model=ErasureReceipt, responses=problem_responses(422))
def erase_me(auth: Auth, p: PlatformDep,
             confirm: Annotated[str, Query(description="Must be 'erase-everything'")] = ""
             ) -> ErasureReceipt:
    """Delete your account: destroy your data key, then every row about you."""
    if confirm != "erase-everything":
        raise InvalidInput("To erase your account and everything in it, repeat the request "
                           "with ?confirm=erase-everything. This cannot be undone.")
    return erasure_receipt(p, auth.person_id, p.maintenance.erase(auth.person_id))


def erasure_receipt(p: Platform, person_id: str, erasure: Erasure) -> ErasureReceipt:
    return ErasureReceipt(
        person_id=person_id, erased_at=p.clock(),
        data_key_destroyed=erasure.data_key_destroyed, rows_deleted=erasure.rows_deleted,
        log_entry=LogEntryOut(**p.transparency.entry_document(erasure.log_entry)),
        log_head=head_out(p, erasure.head))
