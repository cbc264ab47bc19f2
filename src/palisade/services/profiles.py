"""Profiles: the owner's view and edits, other people's reads, and View As.

Every read goes through `render`, which asks the core's access decision for each field; no
other code path returns profile values. View As renders the owner's own profile through the
same function with a hypothetical relationship: it creates no session or token, and returns
nothing about the person named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import Row

from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import add_to_tallies
from palisade.adapters.storage.repository import PairFacts, Repository
from palisade.domain.access import Relationship, relationship_between, visible_fields
from palisade.domain.errors import InvalidInput, NotFound
from palisade.domain.identifiers import IdentifierKind
from palisade.domain.profile import (
    EDITABLE_FIELDS,
    MAX_LENGTH,
    RELATIONSHIP_STATUSES,
    Audience,
    ProfileField,
    audiences_with_defaults,
)
from palisade.services.clock import Clock
from palisade.services.people import PersonKeys

NOT_FOUND = "No such person."  # the same words for absent, erased and blocked
_IDENTIFIER_FIELDS = (ProfileField.PHONE, ProfileField.EMAIL)


@cache
def _shown(allowed: frozenset[ProfileField]) -> tuple[tuple[str, ...], frozenset[IdentifierKind]]:
    """The stored fields (by name) and the identifier kinds that `allowed` shows: worked out
    once per distinct set (a handful), not once for each of a sync's few hundred matches."""
    return (tuple(f.value for f in allowed & EDITABLE_FIELDS),
            frozenset(IdentifierKind(f.value) for f in allowed if f in _IDENTIFIER_FIELDS))


@dataclass(frozen=True)
class RenderedProfile:
    person_id: str
    relationship: Relationship
    fields: dict[str, str]


_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def validate_field(field: ProfileField, value: str | None, today: date) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field.value} must be text.")
    value = value.strip()
    limit = MAX_LENGTH.get(field)
    if limit and len(value) > limit:
        raise InvalidInput(f"{field.value} can be at most {limit} characters.")
    if field is ProfileField.BIRTHDAY:
        try:
            born = date.fromisoformat(value)
        except ValueError:
            raise InvalidInput("birthday must be a date written YYYY-MM-DD.") from None
        if not date(1900, 1, 1) <= born <= today:
            raise InvalidInput("birthday must be between 1900-01-01 and today.")
        return born.isoformat()
    if field is ProfileField.RELATIONSHIP_STATUS and value not in RELATIONSHIP_STATUSES:
        raise InvalidInput("relationship_status must be one of: "
                           + ", ".join(RELATIONSHIP_STATUSES) + ".")
    if field is ProfileField.PHOTO_URL and not _URL.match(value):
        raise InvalidInput("photo_url must be an https:// address.")
    if field is ProfileField.NAME and not value:
        raise InvalidInput("name cannot be blank.")
    return value


class Profiles:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, clock: Clock) -> None:
        self.uow = uow
        self.keys = keys
        self.clock = clock

    def render(self, repo: Repository, subject_id: str, relationship: Relationship,
                prefetched: Row | None = None,
                identifiers: list | None = None,
                released: Callable[[dict[ProfileField, Audience]], frozenset[ProfileField]]
                | None = None) -> RenderedProfile:
        """`released`, when given, narrows the fields further (the app firewall decides it
        from the subject's audiences); it can never widen what `visible_fields` allows."""
        row = prefetched if prefetched is not None else repo.profile(subject_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        audiences = audiences_with_defaults(row.audiences)
        allowed = visible_fields(relationship, audiences)
        if released is not None:
            allowed &= released(audiences)
        return self._open(repo, subject_id, relationship, row, allowed, prefetched is not None,
                          identifiers)

    def _open(self, repo: Repository, subject_id: str, relationship: Relationship, row: Row,
              allowed: frozenset[ProfileField], prefetched: bool,
              identifiers: list | None) -> RenderedProfile:
        """Decrypt exactly the `allowed` fields of a profile row."""
        values: dict[str, str] = {}
        if allowed:  # decrypt only when something may be shown, and only what may be shown
            names, wanted = _shown(allowed)
            if prefetched:
                key = self.keys.envelope.unwrap(subject_id, row.master_key_id, row.wrapped)
            else:
                key = self.keys.data_key(repo, subject_id)
            if names:
                stored = self.keys.open_fields(key, row.person_id, row.fields_ct)
                for name in names:
                    if (value := stored.get(name)) is not None:
                        values[name] = value
            if wanted:
                rows = identifiers if identifiers is not None else repo.identifiers_of(subject_id)
                for ident in rows:  # oldest verified first
                    kind = IdentifierKind(ident.kind)
                    if kind in wanted and kind.value not in values:
                        values[kind.value] = self.keys.open_identifier(key, ident)
        return RenderedProfile(subject_id, relationship, values)

    @staticmethod
    def classify(repo: Repository, viewer_id: str, subject_id: str
                  ) -> tuple[Relationship, Row | None]:
        """How `viewer_id` stands to `subject_id`, and the subject's profile row, from one
        prebuilt query (every read path of another person's profile goes through here).
        The row is None when the subject does not exist."""
        row = repo.profile_for_viewer(viewer_id, subject_id)
        if row is None:
            return Relationship.STRANGER, None
        facts = PairFacts(viewer_id, subject_id, bool(row.blocked), bool(row.friends),
                          bool(row.mutual))
        return relationship_between(viewer_id, subject_id, facts), row

    def read(self, viewer_id: str, subject_id: str) -> RenderedProfile:
        with self.uow() as session:
            repo = Repository(session)
            if viewer_id == subject_id:
                return self.render(repo, subject_id, Relationship.SELF)
            relationship, row = self.classify(repo, viewer_id, subject_id)
            if row is None or relationship is Relationship.BLOCKED:
                raise NotFound(NOT_FOUND)
            if relationship is Relationship.FRIEND:
                # counted per day in the person's access log, never itemised: who looked at
                # a friend's profile is the viewer's own business (docs/threat-model.md)
                add_to_tallies(session, "friend_views", self.clock().date(),
                               {subject_id: (1, 0)})
            return self.render(repo, subject_id, relationship, prefetched=row)

    def own(self, person_id: str) -> tuple[RenderedProfile, dict[ProfileField, Audience]]:
        with self.uow() as session:
            repo = Repository(session)
            rendered = self.render(repo, person_id, Relationship.SELF)
            row = repo.profile(person_id)
            assert row is not None
            return rendered, audiences_with_defaults(row.audiences)

    def update(self, person_id: str, fields: dict[str, str | None],
               audiences: dict[str, str]) -> None:
        today = self.clock().date()
        changes: dict[ProfileField, str | None] = {}
        for name, value in fields.items():
            try:
                field = ProfileField(name)
            except ValueError:
                raise InvalidInput(f"Unknown profile field {name!r}.") from None
            if field not in EDITABLE_FIELDS:
                raise InvalidInput(f"{name} comes from your verified identifiers; add or remove "
                                   "those instead.")
            changes[field] = validate_field(field, value, today)
        new_audiences: dict[str, str] = {}
        for name, value in audiences.items():
            try:
                new_audiences[ProfileField(name).value] = Audience(value).value
            except ValueError:
                raise InvalidInput(f"Unknown field or audience: {name!r} -> {value!r}. "
                                   "Audiences: " + ", ".join(a.value for a in Audience)) from None
        with self.uow() as session:
            repo = Repository(session)
            row = repo.profile(person_id)
            if row is None:
                raise NotFound(NOT_FOUND)
            if changes:
                key = self.keys.data_key(repo, person_id)
                stored = self.keys.open_fields(key, person_id, row.fields_ct)
                for field, value in changes.items():
                    if value is None:
                        stored.pop(field.value, None)
                    else:
                        stored[field.value] = value
                row.fields_ct = self.keys.seal_fields(key, person_id, stored)
            if new_audiences:
                row.audiences = {**(row.audiences or {}), **new_audiences}
            row.updated_at = self.clock()

    def view_as(self, owner_id: str, audience: Audience | None = None,
                person_id: str | None = None) -> RenderedProfile:
        """The owner's profile as a chosen audience, or one named person, would see it."""
        with self.uow() as session:
            repo = Repository(session)
            if person_id is not None:
                row: Row | None = None
                relationship = Relationship.STRANGER
                if person_id != owner_id:
                    relationship, row = self.classify(repo, person_id, owner_id)
                # An unknown or erased id classifies as a stranger already; someone blocked in
                # either direction renders as the public sees it too, so the answer never says
                # which of those the other person is.
                if relationship is Relationship.BLOCKED:
                    relationship = Relationship.STRANGER
                return self.render(repo, owner_id, relationship, prefetched=row)
            else:
                relationship = {
                    Audience.EVERYONE: Relationship.STRANGER,
                    Audience.FRIENDS_OF_FRIENDS: Relationship.FRIEND_OF_FRIEND,
                    Audience.FRIENDS: Relationship.FRIEND,
                    Audience.ONLY_ME: Relationship.SELF,
                    None: Relationship.STRANGER,
                }[audience]
            return self.render(repo, owner_id, relationship)

    def render_many(self, repo: Repository, relationships: dict[str, Relationship],
                    released: dict[str, Callable[[dict[ProfileField, Audience]],
                                                 frozenset[ProfileField]]] | None = None,
                    ) -> dict[str, RenderedProfile]:
        """Several people's profiles, each as the given (already classified) relationship
        allows, with two queries in all. Used by contact discovery for its matches."""
        ids = [pid for pid, rel in relationships.items() if rel is not Relationship.BLOCKED]
        rows = repo.profiles_with_keys(ids)
        # What each person shows is decided once per distinct (relationship, audience
        # settings): a sync's few hundred matches share a handful of them (most people keep
        # the defaults), and the decision is a pure function of the two.
        decided: dict[tuple, tuple[dict[ProfileField, Audience], frozenset[ProfileField]]] = {}
        allowed: dict[str, frozenset[ProfileField]] = {}
        for pid in ids:
            row = rows.get(pid)
            if row is None:
                continue
            key = (relationships[pid], row.audiences_json)
            if key not in decided:
                audiences = audiences_with_defaults(json.loads(row.audiences_json or "null"))
                decided[key] = (audiences, visible_fields(relationships[pid], audiences))
            audiences, fields = decided[key]
            allowed[pid] = fields & released[pid](audiences) if released else fields
        # identifiers are read only for the people who show one to this relationship (by
        # default nobody shows them to people outside their friends)
        identifiers = repo.identifiers_of_many(
            [pid for pid, fields in allowed.items() if not fields.isdisjoint(_IDENTIFIER_FIELDS)])
        return {pid: self._open(repo, pid, relationships[pid], rows[pid], fields, True,
                                identifiers.get(pid, []))
                for pid, fields in allowed.items()}

    def names_for_friend(self, viewer_id: str, person_ids: list[str]) -> dict[str, str]:
        """Names of people as `viewer_id` may see them (for friend lists), one decision and
        one query each."""
        names: dict[str, str] = {}
        with self.uow() as session:
            repo = Repository(session)
            for pid in person_ids:
                relationship, row = self.classify(repo, viewer_id, pid)
                if row is None or relationship is Relationship.BLOCKED:
                    continue
                rendered = self.render(repo, pid, relationship, prefetched=row)
                if ProfileField.NAME.value in rendered.fields:
                    names[pid] = rendered.fields[ProfileField.NAME.value]
        return names
