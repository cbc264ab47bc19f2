"""Private one-to-one conversations between friends; only the two participants can read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    PathId,
    ConversationOut,
    MessageIn,
    MessageOut,
    PersonRef,
    TimerUpdate,
)

router = APIRouter(prefix="/v1/conversations", tags=["messages"],
                   responses=problem_responses(401, 404))


@router.post("", response_model=ConversationOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(403, 422))
def open_conversation(body: PersonRef, auth: Auth, p: PlatformDep) -> ConversationOut:
    """Open (or get) the conversation with a friend."""
    return ConversationOut(**vars(p.messaging.open(auth.person_id, body.person_id)))


@router.get("", response_model=list[ConversationOut])
def conversations(auth: Auth, p: PlatformDep) -> list[ConversationOut]:
    return [ConversationOut(**vars(c)) for c in p.messaging.conversations(auth.person_id)]


@router.patch("/{conversation_id}", response_model=ConversationOut,
              responses=problem_responses(422))
def set_timer(conversation_id: PathId, body: TimerUpdate, auth: Auth,
              p: PlatformDep) -> ConversationOut:
    """Set the disappearing timer for messages sent from now on."""
    view = p.messaging.set_timer(auth.person_id, conversation_id, body.disappearing_seconds)
    return ConversationOut(**vars(view))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
def messages(conversation_id: PathId, auth: Auth, p: PlatformDep,
             after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[MessageOut]:
    return [MessageOut(**vars(m))
            for m in p.messaging.read(auth.person_id, conversation_id, after, limit)]


@router.post("/{conversation_id}/messages", response_model=MessageOut,
             status_code=status.HTTP_201_CREATED, responses=problem_responses(403, 422))
def send(conversation_id: PathId, body: MessageIn, auth: Auth, p: PlatformDep) -> MessageOut:
    return MessageOut(**vars(p.messaging.send(auth.person_id, conversation_id, body.body)))
