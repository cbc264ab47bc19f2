"""The one access decision.

Every read path of a person's data asks `decide` (or `visible_fields`, which calls it per field).
The rule lives here and nowhere else: viewer relationship x field audience -> allow/deny + reason.
It is pure and total, so it can be tested exhaustively and by property-based tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from palisade.domain.profile import Audience, ProfileField


class Relationship(StrEnum):
    """How the viewer stands to the subject, from the subject's point of view."""

    SELF = "self"
    FRIEND = "friend"
    FRIEND_OF_FRIEND = "friend_of_friend"
    STRANGER = "stranger"
    BLOCKED = "blocked"  # either one blocked the other: they do not exist for each other


class SocialGraph(Protocol):
    """The questions the decision needs answered about the friendship graph (a port)."""

    def is_blocked_between(self, a: str, b: str) -> bool: ...

    def are_friends(self, a: str, b: str) -> bool: ...

    def have_mutual_friend(self, a: str, b: str) -> bool: ...


def relationship_between(viewer: str | None, subject: str, graph: SocialGraph) -> Relationship:
    """Classify the viewer. Precedence: self, then blocks (they override friendship), then
    the closest tie. `viewer=None` is an anonymous caller and is always a stranger."""
    if viewer is None:
        return Relationship.STRANGER
    if viewer == subject:
        return Relationship.SELF
    if graph.is_blocked_between(viewer, subject):
        return Relationship.BLOCKED
    if graph.are_friends(viewer, subject):
        return Relationship.FRIEND
    if graph.have_mutual_friend(viewer, subject):
        return Relationship.FRIEND_OF_FRIEND
    return Relationship.STRANGER


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


# The audiences each relationship satisfies. SELF sees everything; BLOCKED sees nothing,
# not even `everyone` fields, because a block hides each person from the other everywhere.
_SATISFIED: dict[Relationship, frozenset[Audience]] = {
    Relationship.SELF: frozenset(Audience),
    Relationship.FRIEND: frozenset(
        {Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS, Audience.EVERYONE}
    ),
    Relationship.FRIEND_OF_FRIEND: frozenset({Audience.FRIENDS_OF_FRIENDS, Audience.EVERYONE}),
    Relationship.STRANGER: frozenset({Audience.EVERYONE}),
    Relationship.BLOCKED: frozenset(),
}


def _reason(relationship: Relationship, audience: Audience, allowed: bool) -> str:
    if relationship is Relationship.SELF:
        return "the owner sees all of their own data"
    if relationship is Relationship.BLOCKED:
        return "a block hides each person from the other"
    verdict = "within" if allowed else "outside"
    return f"viewer is {relationship.value}, {verdict} audience {audience.value}"


# Precomputed so the hot path is a single dict lookup; the table is derived from the rule
# above, not written by hand, so the two cannot drift apart.
_DECISIONS: dict[tuple[Relationship, Audience], Decision] = {
    (rel, aud): Decision(aud in _SATISFIED[rel], _reason(rel, aud, aud in _SATISFIED[rel]))
    for rel in Relationship
    for aud in Audience
}


def decide(relationship: Relationship, audience: Audience) -> Decision:
    """May a viewer standing in `relationship` to the subject see a field with `audience`?"""
    return _DECISIONS[(relationship, audience)]


def visible_fields(
    relationship: Relationship,
    audiences: Mapping[ProfileField, Audience],
    fields: Iterable[ProfileField] | None = None,
) -> frozenset[ProfileField]:
    """The fields (of `fields`, default all) that `decide` allows for this viewer."""
    candidates = audiences.keys() if fields is None else fields
    return frozenset(f for f in candidates if decide(relationship, audiences[f]).allowed)


def audience_for_relationship(relationship: Relationship) -> Audience | None:
    """The widest-reaching audience a relationship stands for, used by View As labels."""
    return {
        Relationship.SELF: Audience.ONLY_ME,
        Relationship.FRIEND: Audience.FRIENDS,
        Relationship.FRIEND_OF_FRIEND: Audience.FRIENDS_OF_FRIENDS,
        Relationship.STRANGER: Audience.EVERYONE,
        Relationship.BLOCKED: None,
    }[relationship]
