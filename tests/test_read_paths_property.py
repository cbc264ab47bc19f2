"""Property: over random friendship graphs, blocks and audience settings, no read path ever
returns a field that the access decision denies, and every allowed field is returned.

The expected relationship is computed here from the generated graph (not by the service), and
the service is exercised through its real database and encryption, on both backends.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import Block
from palisade.domain.access import Relationship, relationship_between
from palisade.domain.errors import NotFound
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.domain.profile import Audience, ProfileField
from tests.conftest import unique_phone
from tests.test_access_decision import EXPECTED, DictGraph

VALUES = {"name": "N", "birthday": "1990-01-01", "location": "L", "bio": "B",
          "relationship_status": "single", "photo_url": "https://example.org/p.png"}

audiences = st.fixed_dictionaries({f.value: st.sampled_from(list(Audience)) for f in ProfileField})


@st.composite
def worlds(draw: st.DrawFn):
    n = draw(st.integers(2, 5))
    pairs = list(itertools.combinations(range(n), 2))
    edges = draw(st.sets(st.sampled_from(pairs)))
    blocks = draw(st.sets(st.sampled_from([(a, b) for a in range(n) for b in range(n) if a != b]),
                          max_size=2))
    settings_ = [draw(audiences) for _ in range(n)]
    return n, edges, blocks, settings_


def expected_relationship(graph: DictGraph, viewer: int, subject: int) -> Relationship:
    """From the generated graph alone (the classification is itself checked against the
    graph, by property, in test_access_decision)."""
    return relationship_between(viewer, subject, graph)


PRESENT = set(VALUES) | {"phone"}  # these people have no email address


def allowed_fields(relationship: Relationship, chosen: dict[str, Audience]) -> set[str]:
    """Fields the rule allows (the hand-written table, independent of the implementation),
    among those that have a value."""
    return {f for f, a in chosen.items() if a in EXPECTED[relationship]} & PRESENT


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_no_read_path_returns_a_denied_field(platform, world) -> None:
    n, edges, blocks, chosen = world
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ids: list[str] = []
    phones: list[str] = []
    with platform.uow() as session:
        repo = Repository(session)
        for i in range(n):
            phone = unique_phone()
            ident = Identifier(IdentifierKind.PHONE, phone)
            ids.append(platform.accounts.keys.create_person(
                repo, ident, platform.accounts.bidx.of(ident), now, fields=VALUES,
                audiences={k: v.value for k, v in chosen[i].items()}))
            phones.append(phone)
        for a, b in edges:
            repo.add_friendship(ids[a], ids[b], now)
        for a, b in blocks:
            repo.add(Block(blocker_id=ids[a], blocked_id=ids[b], created_at=now))
    friends = {i: set() for i in range(n)}
    for a, b in edges:
        friends[a].add(b)
        friends[b].add(a)
    graph = DictGraph(friends, set(blocks))

    for viewer, subject in itertools.product(range(n), repeat=2):
        relationship = expected_relationship(graph, viewer, subject)
        allowed = allowed_fields(relationship, chosen[subject])
        # 1. reading someone's profile
        if relationship is Relationship.BLOCKED:
            with pytest.raises(NotFound):
                platform.profiles.read(ids[viewer], ids[subject])
        else:
            got = platform.profiles.read(ids[viewer], ids[subject])
            assert set(got.fields) == allowed, (relationship, chosen[subject])
            if "phone" in allowed:
                assert got.fields["phone"] == phones[subject]
        # 2. View As: the subject previews themselves as the viewer
        if viewer != subject:
            preview = platform.profiles.view_as(ids[subject], person_id=ids[viewer])
            as_seen = relationship if relationship is not Relationship.BLOCKED \
                else Relationship.STRANGER
            assert set(preview.fields) == allowed_fields(as_seen, chosen[subject])
            assert set(preview.fields) <= allowed or relationship is Relationship.BLOCKED
    # 3. friend lists show names only where the name's audience allows it
    for viewer in range(n):
        names = platform.profiles.names_for_friend(ids[viewer], [ids[f] for f in friends[viewer]])
        for f in friends[viewer]:
            relationship = expected_relationship(graph, viewer, f)
            shown = ids[f] in names
            assert shown == ("name" in allowed_fields(relationship, chosen[f]))
