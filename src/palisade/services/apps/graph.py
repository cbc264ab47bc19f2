"""The Graph API for apps: a person's data as the friend-data firewall releases it, and an
access event for every release (and every refusal for being outside purpose)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.domain.access import Relationship
from palisade.domain.apps.firewall import SubjectConsent, released_fields, shows_friendship
from palisade.domain.apps.grants import (
    FIELD_LABELS,
    PURPOSE_LABELS,
    AppField,
    Grant,
    Purpose,
    parse_grant,
)
from palisade.domain.errors import Forbidden, InvalidInput, NotFound, OutsidePurpose
from palisade.domain.notifications import NotificationKind
from palisade.services.apps.access_events import AccessEvent, AccessLog
from palisade.services.apps.resource import AppCaller
from palisade.services.clock import Clock
from palisade.services.leaks.canaries import Canaries
from palisade.services.notifications import notify
from palisade.services.profiles import Profiles

NOT_FOUND = "No such person."  # the same for unknown, not authorized, blocked and erased
MAX_PAGE = 100


@dataclass(frozen=True)
class GraphPerson:
    id: str  # app-scoped
    fields: dict[str, str]


@dataclass(frozen=True)
class GraphPage:
    people: list[GraphPerson]
    next_cursor: str | None


def parse_purpose(value: str | None) -> Purpose:
    try:
        return Purpose(value or "")
    except ValueError:
        raise InvalidInput("State the purpose of the call in the Palisade-Purpose header: one "
                           "of " + ", ".join(p.value for p in Purpose) + ".") from None


def _check_page(after: str | None, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}.")
    if after is not None and (len(after) > 32 or not after.replace("-", "").replace(
            "_", "").isalnum()):
        raise InvalidInput("cursor is not valid.")


class Graph:
    def __init__(self, uow: UnitOfWork, profiles: Profiles, clock: Clock,
                 access_expiry: timedelta, access_log: AccessLog,
                 canaries: Canaries | None = None) -> None:
        self.access_log = access_log
        self.canaries = canaries
        self.uow = uow
        self.profiles = profiles
        self.clock = clock
        self.access_expiry = access_expiry

    def _consent(self, grants: list[str], last_used_at: datetime, now: datetime
                 ) -> SubjectConsent:
        return SubjectConsent(frozenset(parse_grant(g) for g in grants),
                              fresh=now < last_used_at + self.access_expiry)

    def _require_purpose(self, caller: AppCaller, purpose: Purpose, route: str,
                         field: AppField | None = None) -> None:
        """The call must be within what the person it acts for granted; otherwise 403, and
        the refusal is recorded (in its own transaction, so the failed call cannot undo it)."""
        ok = (any(g.purpose is purpose for g in caller.grants) if field is None
              else Grant(field, purpose) in caller.grants)
        if ok:
            return
        with self.uow() as session:
            self.access_log.record(
                session, [self._event(caller, caller.person_id, [], purpose, route, "refused")])
        raise OutsidePurpose(
            f"This token's grants do not include the purpose {purpose.value}"
            + (f" for {field.value}" if field else "") + ".")

    def _record(self, session: Session, caller: AppCaller, events: list[AccessEvent]) -> None:
        """Record the accesses, and tell each person when this app received a field of
        theirs for the first time."""
        self.access_log.record(session, events)
        released = {(e.person_id, f) for e in events
                    if e.outcome == "released" and e.person_id for f in e.fields}
        if not released:
            return
        apps = AppsRepository(session)
        new = released - apps.fields_used(caller.app_id, sorted({p for p, _ in released}))
        if not new:
            return
        now = self.clock()
        apps.add_field_uses(caller.app_id, new, now)
        app = apps.app(caller.app_id)
        name = app.name if app else "An app"
        by_person: dict[str, list[str]] = {}
        for person_id, field in sorted(new):
            by_person.setdefault(person_id, []).append(FIELD_LABELS[AppField(field)])
        purpose = events[0].purpose
        for person_id, labels in by_person.items():
            notify(session, person_id, NotificationKind.APP_NEW_FIELD,
                   f"{name} used {', '.join(labels)} for the first time "
                   f"({PURPOSE_LABELS[Purpose(purpose)]}).", now)

    def _event(self, caller: AppCaller, person_id: str | None, fields: list[str], purpose: Purpose,
               route: str, outcome: str = "released") -> AccessEvent:
        return AccessEvent(person_id, caller.kind, caller.app_id, tuple(fields), purpose.value,
                           outcome, route, self.clock())

    def _person_only(self, caller: AppCaller) -> str:
        if caller.person_id is None:
            raise Forbidden("This call needs a token granted by a person; partners use "
                            "/v1/graph/people.")
        return caller.person_id

    def me(self, caller: AppCaller, purpose: Purpose) -> GraphPerson:
        person_id = self._person_only(caller)
        now = self.clock()
        self._require_purpose(caller, purpose, "/v1/graph/me")
        with self.uow() as session:
            apps = AppsRepository(session)
            auth = apps.authorization(caller.app_id, person_id)
            assert auth is not None  # the token check made sure
            consent = self._consent(auth.grants, auth.last_used_at, now)
            rendered = self.profiles.render(
                Repository(session), person_id, Relationship.SELF,
                released=partial(released_fields, consent, purpose, Relationship.SELF))
            self._record(session, caller, [
                self._event(caller, person_id, list(rendered.fields), purpose, "/v1/graph/me")])
            return GraphPerson(auth.scoped_id, rendered.fields)

    def person(self, caller: AppCaller, scoped_id: str, purpose: Purpose) -> GraphPerson:
        # An app acts for a viewer, whose relationship to the subject bounds what it sees; a
        # partner acts for nobody and is bounded by the subject's own opt-in to it alone.
        viewer = caller.person_id
        now = self.clock()
        route = "/v1/graph/people/{id}"
        self._require_purpose(caller, purpose, route)
        with self.uow() as session:
            apps = AppsRepository(session)
            auth = apps.authorization_by_scoped_id(caller.app_id, scoped_id)
            if auth is None:  # the person never authorized this app: they do not exist for it
                canary = self._canary_by_id(session, caller, scoped_id)
                if canary is not None:  # a watched recipient's canary reads like anyone
                    return canary
                raise NotFound(NOT_FOUND)
            repo = Repository(session)
            if viewer is None or auth.person_id == viewer:
                relationship, row = Relationship.SELF, None
            else:
                relationship, row = self.profiles.classify(repo, viewer, auth.person_id)
                if row is None or relationship is Relationship.BLOCKED:
                    raise NotFound(NOT_FOUND)
            consent = self._consent(auth.grants, auth.last_used_at, now)
            rendered = self.profiles.render(
                repo, auth.person_id, relationship, prefetched=row,
                released=partial(released_fields, consent, purpose, relationship))
            self._record(session, caller, [
                self._event(caller, auth.person_id, list(rendered.fields), purpose, route)])
            return GraphPerson(auth.scoped_id, rendered.fields)

    def people(self, caller: AppCaller, purpose: Purpose, after: str | None = None,
               limit: int = 50) -> GraphPage:
        """For partners: the people who opted in to this partner, each as far as their own
        choice releases for this purpose. Nobody else is read, counted or hinted at."""
        if caller.person_id is not None:
            raise Forbidden("Listing people is for partner tokens; apps act for one person.")
        _check_page(after, limit)
        now = self.clock()
        route = "/v1/graph/people"
        self._require_purpose(caller, purpose, route)
        with self.uow() as session:
            apps = AppsRepository(session)
            rows = apps.authorizations_of_app(caller.app_id, after, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            consents = {r.person_id: self._consent(r.grants, r.last_used_at, now) for r in rows}
            rendered = self.profiles.render_many(
                Repository(session), {r.person_id: Relationship.SELF for r in rows},
                released={r.person_id: partial(released_fields, consents[r.person_id], purpose,
                                               Relationship.SELF) for r in rows})
            shown = [r for r in rows if r.person_id in rendered
                     and rendered[r.person_id].fields]
            self._record(session, caller, [self._event(caller, r.person_id,
                                                list(rendered[r.person_id].fields), purpose,
                                                route) for r in shown])
            people = [GraphPerson(r.scoped_id, rendered[r.person_id].fields) for r in shown]
            if not more:
                people += self._canary(session, "partner", caller.app_id, None)
            return GraphPage(people, rows[-1].scoped_id if more and rows else None)

    def friends(self, caller: AppCaller, purpose: Purpose, after: str | None = None,
                limit: int = 50) -> GraphPage:
        """Friends of the person the app acts for who also authorized the app and granted it
        their friendships for this purpose. Nobody else is read, counted or hinted at."""
        person_id = self._person_only(caller)
        _check_page(after, limit)
        now = self.clock()
        route = "/v1/graph/me/friends"
        self._require_purpose(caller, purpose, route, AppField.FRIENDS)
        with self.uow() as session:
            apps = AppsRepository(session)
            own = apps.authorization(caller.app_id, person_id)
            assert own is not None
            if not shows_friendship(self._consent(own.grants, own.last_used_at, now), purpose):
                return GraphPage([], None)  # the caller's own grant has expired
            rows = apps.consenting_friends(caller.app_id, person_id, after, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            consents = {r.person_id: self._consent(r.grants, r.last_used_at, now) for r in rows}
            shown = [r for r in rows if shows_friendship(consents[r.person_id], purpose)]
            rendered = self.profiles.render_many(
                Repository(session), {r.person_id: Relationship.FRIEND for r in shown},
                released={r.person_id: partial(released_fields, consents[r.person_id], purpose,
                                               Relationship.FRIEND) for r in shown})
            people = [GraphPerson(r.scoped_id, rendered[r.person_id].fields if r.person_id
                                  in rendered else {}) for r in shown]
            events = [self._event(caller, r.person_id,
                                  ["friends", *(rendered[r.person_id].fields
                                                if r.person_id in rendered else {})],
                                  purpose, route) for r in shown]
            if shown:
                events.append(self._event(caller, person_id, ["friends"], purpose, route))
            self._record(session, caller, events)
            if not more:
                people += self._canary(session, "app", caller.app_id, person_id)
            return GraphPage(people, rows[-1].scoped_id if more and rows else None)

    def _canary_by_id(self, session: Session, caller: AppCaller, scoped_id: str
                      ) -> GraphPerson | None:
        if self.canaries is None:
            return None
        kind = "app" if caller.person_id is not None else "partner"
        for c in self.canaries.of(session, kind, caller.app_id):
            if c.scoped_id == scoped_id:
                return GraphPerson(c.scoped_id, {"name": c.profile["name"]})
        return None

    def _canary(self, session: Session, kind: str, app_id: str, acting_for: str | None
                ) -> list[GraphPerson]:
        """A watched app's or partner's canaries, at the end of its lists (see
        services.leaks.canaries); nothing for anyone else."""
        if self.canaries is None or not Canaries.watched(session, kind, app_id):
            return []
        return [GraphPerson(c.scoped_id, {"name": c.profile["name"]})
                for c in self.canaries.for_app(session, kind, app_id, acting_for)]
