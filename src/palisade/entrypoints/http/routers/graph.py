"""The Graph API for apps (`/v1/graph`): DPoP-bound tokens only, a stated purpose on every
call, and the friend-data firewall on every answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from palisade.domain.apps.grants import Purpose
from palisade.entrypoints.http.dependencies import PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import GraphPageOut, GraphPersonOut, PathId
from palisade.services.apps.graph import parse_purpose
from palisade.services.apps.resource import AppCaller


def app_caller(request: Request, p: PlatformDep,
               authorization: Annotated[str | None, Header(
                   description="DPoP <access token> (RFC 9449 §7.1)")] = None,
               dpop: Annotated[str | None, Header(description="The DPoP proof")] = None
               ) -> AppCaller:
    url = p.settings.public_url.rstrip("/") + request.url.path
    return p.resource.verify(authorization, dpop, request.method, url)


def purpose(palisade_purpose: Annotated[str | None, Header(
        description="Why the app makes this call: " + ", ".join(x.value for x in Purpose))]
            = None) -> Purpose:
    return parse_purpose(palisade_purpose)


Caller = Annotated[AppCaller, Depends(app_caller)]
CallPurpose = Annotated[Purpose, Depends(purpose)]

router = APIRouter(prefix="/v1/graph", tags=["graph"],
                   responses=problem_responses(401, 403, 422))


@router.get("/me", response_model=GraphPersonOut)
def me(caller: Caller, why: CallPurpose, p: PlatformDep) -> GraphPersonOut:
    """The person the token was granted by, as far as they allowed for this purpose."""
    person = p.graph.me(caller, why)
    return GraphPersonOut(id=person.id, fields=person.fields)


@router.get("/me/friends", response_model=GraphPageOut)
def friends(caller: Caller, why: CallPurpose, p: PlatformDep,
            cursor: Annotated[str | None, Query(max_length=32)] = None,
            limit: Annotated[int, Query(ge=1, le=100)] = 50) -> GraphPageOut:
    """Friends who also authorized this app and allowed it to see the friendship."""
    page = p.graph.friends(caller, why, cursor, limit)
    return GraphPageOut(data=[GraphPersonOut(id=x.id, fields=x.fields) for x in page.people],
                        next_cursor=page.next_cursor)


@router.get("/people", response_model=GraphPageOut)
def opted_in_people(caller: Caller, why: CallPurpose, p: PlatformDep,
                    cursor: Annotated[str | None, Query(max_length=32)] = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 50) -> GraphPageOut:
    """Partners only: the people who opted in to this partner, as far as each allowed."""
    page = p.graph.people(caller, why, cursor, limit)
    return GraphPageOut(data=[GraphPersonOut(id=x.id, fields=x.fields) for x in page.people],
                        next_cursor=page.next_cursor)


@router.get("/people/{person_id}", response_model=GraphPersonOut,
            responses=problem_responses(404))
def person(person_id: PathId, caller: Caller, why: CallPurpose,
           p: PlatformDep) -> GraphPersonOut:
    """A person by their id for this app. Unknown, not authorized and blocked all read 404."""
    found = p.graph.person(caller, person_id, why)
    return GraphPersonOut(id=found.id, fields=found.fields)
