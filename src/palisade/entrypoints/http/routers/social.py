"""Friend requests, friends and blocks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    PathId,
    QueryId,
    BlockOut,
    FriendOut,
    FriendRequestOut,
    FriendRequestResult,
    FriendsPage,
    PersonRef,
)

router = APIRouter(prefix="/v1", tags=["friends"], responses=problem_responses(401))


@router.post("/friend-requests", response_model=FriendRequestResult,
             status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409, 422))
def send_request(body: PersonRef, auth: Auth, p: PlatformDep) -> FriendRequestResult:
    """Ask someone to be friends. If they already asked you, you become friends."""
    result = p.social.send_request(auth.person_id, body.person_id)
    return FriendRequestResult(status=result.status, request_id=result.request_id)


@router.get("/friend-requests", response_model=list[FriendRequestOut])
def list_requests(auth: Auth, p: PlatformDep,
                  direction: Annotated[str, Query(pattern="^(incoming|outgoing)$")] = "incoming"
                  ) -> list[FriendRequestOut]:
    return [FriendRequestOut(id=r.id, from_person=r.from_id, to_person=r.to_id,
                             created_at=r.created_at)
            for r in p.social.requests(auth.person_id, incoming=direction == "incoming")]


@router.post("/friend-requests/{request_id}/accept", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404))
def accept(request_id: PathId, auth: Auth, p: PlatformDep) -> None:
    p.social.accept(auth.person_id, request_id)


@router.delete("/friend-requests/{request_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
def decline_or_withdraw(request_id: PathId, auth: Auth, p: PlatformDep) -> None:
    """Decline a request to you, or withdraw one you sent."""
    p.social.withdraw_or_decline(auth.person_id, request_id)


@router.get("/friends", response_model=FriendsPage)
def friends(auth: Auth, p: PlatformDep,
            after: QueryId = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> FriendsPage:
    ids = p.social.friends(auth.person_id, after, limit)
    names = p.profiles.names_for_friend(auth.person_id, ids)
    return FriendsPage(friends=[FriendOut(person_id=i, name=names.get(i)) for i in ids],
                       next_after=ids[-1] if len(ids) == limit else None)


@router.delete("/friends/{person_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
def unfriend(person_id: PathId, auth: Auth, p: PlatformDep) -> None:
    p.social.unfriend(auth.person_id, person_id)


@router.get("/blocks", response_model=list[BlockOut])
def blocks(auth: Auth, p: PlatformDep) -> list[BlockOut]:
    return [BlockOut(person_id=b.blocked_id, created_at=b.created_at)
            for b in p.social.blocks(auth.person_id)]


@router.post("/blocks", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404, 422))
def block(body: PersonRef, auth: Auth, p: PlatformDep) -> None:
    """Block someone: it ends your friendship and hides each of you from the other."""
    p.social.block(auth.person_id, body.person_id)


@router.delete("/blocks/{person_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
def unblock(person_id: PathId, auth: Auth, p: PlatformDep) -> None:
    p.social.unblock(auth.person_id, person_id)
