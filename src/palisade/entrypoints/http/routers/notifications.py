"""The signed-in person's notifications: the feed, marking read, and email preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    MarkRead,
    NotificationFeedOut,
    NotificationOut,
    NotificationPreferences,
)

router = APIRouter(prefix="/v1/me", tags=["notifications"], responses=problem_responses(401))


@router.get("/notifications", response_model=NotificationFeedOut)
def feed(auth: Auth, p: PlatformDep,
         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> NotificationFeedOut:
    """New apps with access, new sign-ins, many strangers looking you up, and more."""
    rows, unread = p.notifications.feed(auth.person_id, limit)
    return NotificationFeedOut(unread=unread, items=[NotificationOut(
        id=r.id, kind=r.kind, detail=r.detail, created_at=r.created_at,
        read=r.read_at is not None) for r in rows])


@router.post("/notifications/read", response_model=int, responses=problem_responses(422))
def mark_read(body: MarkRead, auth: Auth, p: PlatformDep) -> int:
    """Mark notifications read; answers how many changed."""
    return p.notifications.mark_read(auth.person_id, body.up_to)


@router.get("/notification-settings", response_model=NotificationPreferences)
def preferences(auth: Auth, p: PlatformDep) -> NotificationPreferences:
    return NotificationPreferences(email={k.value: v.value for k, v in
                                          p.notifications.preferences(auth.person_id).items()})


@router.put("/notification-settings", response_model=NotificationPreferences,
            responses=problem_responses(422))
def set_preferences(body: NotificationPreferences, auth: Auth,
                    p: PlatformDep) -> NotificationPreferences:
    """Change the email preference of some kinds; the others keep theirs."""
    prefs = p.notifications.set_preferences(auth.person_id, dict(body.email))
    return NotificationPreferences(email={k.value: v.value for k, v in prefs.items()})
