"""The one access decision: exhaustive over its finite domain, and property-based over graphs."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.domain.access import (
    Relationship,
    decide,
    relationship_between,
    visible_fields,
)
from palisade.domain.profile import DEFAULT_AUDIENCES, Audience, ProfileField

ORDER = [Audience.ONLY_ME, Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS, Audience.EVERYONE]

# The rule written out by hand, independently of the implementation's table.
EXPECTED = {
    Relationship.SELF: {Audience.ONLY_ME, Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS,
                        Audience.EVERYONE},
    Relationship.FRIEND: {Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS, Audience.EVERYONE},
    Relationship.FRIEND_OF_FRIEND: {Audience.FRIENDS_OF_FRIENDS, Audience.EVERYONE},
    Relationship.STRANGER: {Audience.EVERYONE},
    Relationship.BLOCKED: set(),
}


def test_every_relationship_and_audience_pair() -> None:
    for relationship, audience in itertools.product(Relationship, Audience):
        decision = decide(relationship, audience)
        assert decision.allowed == (audience in EXPECTED[relationship]), (relationship, audience)
        assert decision.reason


def test_wider_audiences_never_show_less() -> None:
    for relationship in Relationship:
        allowed = [decide(relationship, a).allowed for a in ORDER]
        assert allowed == sorted(allowed), relationship  # False..False, True..True


def test_defaults_hide_identifiers_from_everyone_but_the_owner() -> None:
    for relationship in Relationship:
        shown = visible_fields(relationship, DEFAULT_AUDIENCES)
        if relationship is Relationship.SELF:
            assert shown == frozenset(ProfileField)
        else:
            assert ProfileField.PHONE not in shown and ProfileField.EMAIL not in shown
    assert visible_fields(Relationship.STRANGER, DEFAULT_AUDIENCES) == {ProfileField.NAME}


class DictGraph:
    def __init__(self, friends: dict[int, set[int]], blocks: set[tuple[int, int]]) -> None:
        self.friends, self.blocks = friends, blocks

    def is_blocked_between(self, a: int, b: int) -> bool:
        return (a, b) in self.blocks or (b, a) in self.blocks

    def are_friends(self, a: int, b: int) -> bool:
        return b in self.friends.get(a, set())

    def have_mutual_friend(self, a: int, b: int) -> bool:
        return bool(self.friends.get(a, set()) & self.friends.get(b, set()))


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, DictGraph]:
    n = draw(st.integers(2, 9))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    edges = draw(st.sets(st.sampled_from(pairs))) if pairs else set()
    blocks = draw(st.sets(st.sampled_from([(a, b) for a in range(n) for b in range(n) if a != b]),
                          max_size=3))
    friends: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges:
        friends[a].add(b)
        friends[b].add(a)
    return n, DictGraph(friends, blocks)


@settings(max_examples=300)
@given(graphs(), st.data())
def test_relationship_matches_the_graph(graph_and_n: tuple[int, DictGraph],
                                        data: st.DataObject) -> None:
    n, graph = graph_and_n
    viewer = data.draw(st.integers(0, n - 1))
    subject = data.draw(st.integers(0, n - 1))
    relationship = relationship_between(viewer, subject, graph)
    if viewer == subject:
        assert relationship is Relationship.SELF
    elif graph.is_blocked_between(viewer, subject):
        assert relationship is Relationship.BLOCKED  # a block beats friendship
    elif subject in graph.friends[viewer]:
        assert relationship is Relationship.FRIEND
    elif graph.friends[viewer] & graph.friends[subject]:
        assert relationship is Relationship.FRIEND_OF_FRIEND
    else:
        assert relationship is Relationship.STRANGER
    # symmetric: friendship and blocks have no direction
    if viewer != subject:
        assert relationship_between(subject, viewer, graph) is relationship


def test_anonymous_viewer_is_a_stranger() -> None:
    graph = DictGraph({1: {2}, 2: {1}}, set())
    assert relationship_between(None, 1, graph) is Relationship.STRANGER


@settings(max_examples=300)
@given(st.sampled_from(list(Relationship)),
       st.fixed_dictionaries({f: st.sampled_from(list(Audience)) for f in ProfileField}))
def test_visible_fields_is_exactly_what_decide_allows(relationship: Relationship,
                                                      audiences: dict) -> None:
    shown = visible_fields(relationship, audiences)
    for field in ProfileField:
        assert (field in shown) == decide(relationship, audiences[field]).allowed
    if relationship is Relationship.BLOCKED:
        assert shown == frozenset()
