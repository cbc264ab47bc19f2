"""The one interface through which every access to a person's data by an app or partner is
recorded: who (the app or partner), which person, which fields, for which purpose, when, and
whether it was released or refused. Graph answers call it in the same transaction as the read,
so a release is never unrecorded. The transparency log builds on this interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from palisade.adapters.storage.tables import AccessEventRow


@dataclass(frozen=True, slots=True)
class AccessEvent:
    person_id: str | None  # None only for a refused partner call that named nobody
    actor_kind: str  # "app" | "partner"
    actor_id: str
    fields: tuple[str, ...]
    purpose: str
    outcome: str  # "released" | "refused"
    route: str
    at: datetime


class AccessLog(Protocol):
    def record(self, session: Session, events: Sequence[AccessEvent]) -> None: ...


class DatabaseAccessLog:
    """Appends the events to `access_events`, in the caller's transaction."""

    def record(self, session: Session, events: Sequence[AccessEvent]) -> None:
        session.add_all([AccessEventRow(person_id=e.person_id, actor_kind=e.actor_kind,
                                        actor_id=e.actor_id, fields=sorted(e.fields),
                                        purpose=e.purpose, outcome=e.outcome, route=e.route,
                                        at=e.at) for e in events])
