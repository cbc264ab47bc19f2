"""Contact discovery: address-book sync, who can find me by each identifier, notices, and
re-verification when the account's syncs looked automated."""

from __future__ import annotations

from fastapi import APIRouter, status

from palisade.domain.discovery.discoverability import Discoverability
from palisade.domain.one_time_codes import Purpose
from palisade.entrypoints.http.dependencies import Auth, ClientAddress, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    CodeRequest,
    CodeSentOut,
    DiscoverabilityIn,
    DiscoverabilityOut,
    MatchOut,
    NoticeOut,
    PathId,
    ProfileFields,
    ReverifyIn,
    SyncIn,
    SyncOut,
)
from palisade.services.discovery.sync import SyncMode

router = APIRouter(prefix="/v1/discovery", tags=["discovery"], responses=problem_responses(401))


@router.post("/sync", response_model=SyncOut, response_model_exclude_none=True,
             responses=problem_responses(403, 413, 422, 429))
def sync(body: SyncIn, auth: Auth, p: PlatformDep, address: ClientAddress) -> SyncOut:
    """Find the people in your address book who let you find them. Only entries you have not
    sent before count against your allowance. People who may not be found, or not yet, are
    simply absent: the answer never says whether a number belongs to anyone."""
    result = p.discovery.sync(auth.person_id, address, body.contacts, SyncMode(body.mode),
                              body.removed)
    return SyncOut(
        matches=[MatchOut(person_id=m.person_id, relationship=m.relationship,
                          identifiers=m.identifiers, fields=ProfileFields(**m.fields))
                 for m in result.matches],
        received=result.received, unreadable=result.unreadable, charged=result.charged)


@router.get("/settings", response_model=list[DiscoverabilityOut])
def settings(auth: Auth, p: PlatformDep) -> list[dict[str, str]]:
    """Who can find you by each of your phone numbers and emails."""
    return p.discovery.settings(auth.person_id)


@router.put("/settings/{identifier_id}", response_model=list[DiscoverabilityOut],
            responses=problem_responses(404, 422))
def set_setting(identifier_id: PathId, body: DiscoverabilityIn, auth: Auth,
                p: PlatformDep) -> list[dict[str, str]]:
    """everyone | friends_of_friends | mutual_contacts (only people whose number or email is
    in your own synced address book; the default) | nobody."""
    p.discovery.set_discoverability(auth.person_id, identifier_id,
                                    Discoverability(body.discoverability))
    return p.discovery.settings(auth.person_id)


@router.get("/notices", response_model=list[NoticeOut])
def notices(auth: Auth, p: PlatformDep) -> list[dict[str, str]]:
    """What discovery has told you, newest first (e.g. hidden after many strangers)."""
    return p.discovery.notices(auth.person_id)


@router.post("/reverify/code", status_code=status.HTTP_202_ACCEPTED, response_model=CodeSentOut,
             responses=problem_responses(422, 429))
def reverify_code(body: CodeRequest, auth: Auth, p: PlatformDep,
                  address: ClientAddress) -> CodeSentOut:
    """Send a code to one of your own identifiers, to lift a re-verification request."""
    sent = p.accounts.request_code(body.identifier, address, Purpose.REVERIFY, auth.person_id)
    return CodeSentOut(sent_to=sent.sent_to, expires_in_seconds=sent.expires_in)


@router.post("/reverify", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(400, 403, 422))
def reverify(body: ReverifyIn, auth: Auth, p: PlatformDep) -> None:
    p.accounts.confirm_control(auth.person_id, body.identifier, body.code)
    p.discovery.reverified(auth.person_id)
