"""The friend-data firewall, by property and by the quiz-app scenario.

Property: random graphs, grants, audience settings and app calls — no response ever carries a
field of a person who did not grant that app that field for the call's purpose, or a person
who did not authorize the app at all.

Scenario (incident 2): 270 people install a quiz app; each has about 320 friends. The app,
doing everything the API lets it, receives data of exactly those 270 people.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import (
    AccessEventRow,
    AppAuthorizationRow,
    Friendship,
    Person as PersonRow,
)
from palisade.bootstrap import Platform, build
from palisade.demo.population import Population, SyntheticPerson, load
from palisade.domain.access import Relationship, decide
from palisade.domain.apps.grants import AppField, Grant, Purpose
from palisade.domain.errors import NotFound, OutsidePurpose
from palisade.domain.profile import (
    DEFAULT_AUDIENCES,
    Audience,
    ProfileField,
    audiences_with_defaults,
)
from palisade.services.apps.resource import AppCaller
from tests.apps_world import BASE, AppWorld
from tests.conftest import register, unique_phone

PAIRS = [Grant(f, p) for f in AppField for p in Purpose]
N = 5
SHOWN = [ProfileField.NAME, ProfileField.BIRTHDAY, ProfileField.LOCATION, ProfileField.BIO,
         ProfileField.PHOTO_URL, ProfileField.PHONE]


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, list, str]]:
    from palisade.bootstrap import initialise
    from palisade.config import Settings
    from tests.conftest import FakeClock

    home = tmp_path_factory.mktemp("firewall")
    s = Settings(home=home, _env_file=None, public_url=BASE,
                 code_sends_per_address_per_hour=10_000)
    initialise(s)
    clock = FakeClock()
    p = build(s, clock=clock, limiter=MemoryRateLimiter(clock.timestamp))
    people = []
    for i in range(N):
        person = register(p, name=f"name-{i}")
        p.profiles.update(person.id, {"birthday": f"19{70 + i}-01-0{i + 1}",
                                      "location": f"loc-{i}", "bio": f"bio-{i}",
                                      "photo_url": f"https://p.example/{i}"}, {})
        people.append(person)
    app = p.apps.register(name="Prop", redirect_uris=["https://prop.example/cb"],
                          requested={f.value: [x.value for x in Purpose] for f in AppField},
                          privacy_policy_url="https://prop.example/p",
                          deletion_callback_url="https://prop.example/d")
    yield p, people, app.client_id
    p.close()


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    pairs = [(a, b) for a in range(N) for b in range(a + 1, N)]
    return {
        "friends": draw(st.sets(st.sampled_from(pairs))),
        "audiences": [draw(st.dictionaries(st.sampled_from(SHOWN), st.sampled_from(list(Audience))))
                      for _ in range(N)],
        "grants": [draw(st.none() | st.frozensets(st.sampled_from(PAIRS), max_size=10))
                   for _ in range(N)],
        "stale": [draw(st.booleans()) for _ in range(N)],
        "calls": draw(st.lists(st.tuples(st.integers(0, N - 1),
                                         st.sampled_from(["me", "friends", "person"]),
                                         st.integers(0, N - 1), st.sampled_from(list(Purpose))),
                               min_size=1, max_size=10)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_no_response_carries_data_that_was_not_granted(small_world, scenario: dict) -> None:
    platform, people, app_id = small_world
    ids = [p.id for p in people]
    now = platform.clock()
    with platform.uow() as session:
        session.execute(sa.delete(Friendship).where(Friendship.person_id.in_(ids)))
        session.execute(sa.delete(AppAuthorizationRow).where(AppAuthorizationRow.app_id == app_id))
        for a, b in scenario["friends"]:
            session.add_all([Friendship(person_id=ids[a], friend_id=ids[b], created_at=now),
                             Friendship(person_id=ids[b], friend_id=ids[a], created_at=now)])
        for i, grants in enumerate(scenario["grants"]):
            if grants is not None:
                session.add(AppAuthorizationRow(
                    app_id=app_id, person_id=ids[i], scoped_id=f"sid-{i}",
                    grants=sorted(g.scope_token for g in grants), created_at=now,
                    last_used_at=now - timedelta(days=100 if scenario["stale"][i] else 1)))
    for i, aud in enumerate(scenario["audiences"]):  # every field, so no earlier example leaks
        full = {**DEFAULT_AUDIENCES, **aud}
        platform.profiles.update(ids[i], {}, {f.value: a.value for f, a in full.items()})

    owner_of: dict[str, tuple[int, ProfileField]] = {}
    for i, person in enumerate(people):
        for field, value in ((ProfileField.NAME, f"name-{i}"), (ProfileField.LOCATION, f"loc-{i}"),
                             (ProfileField.BIO, f"bio-{i}"), (ProfileField.BIRTHDAY,
                                                              f"19{70 + i}-01-0{i + 1}"),
                             (ProfileField.PHOTO_URL, f"https://p.example/{i}"),
                             (ProfileField.PHONE, person.phone)):
            owner_of[value] = (i, field)
    friends = {(a, b) for a, b in scenario["friends"]} | {(b, a) for a, b in scenario["friends"]}

    def relationship(viewer: int, subject: int) -> Relationship:
        if viewer == subject:
            return Relationship.SELF
        if (viewer, subject) in friends:
            return Relationship.FRIEND
        if any((viewer, k) in friends and (k, subject) in friends for k in range(N)):
            return Relationship.FRIEND_OF_FRIEND
        return Relationship.STRANGER

    for viewer, kind, target, purpose in scenario["calls"]:
        grants = scenario["grants"][viewer]
        if grants is None:
            continue  # no authorization, no token
        caller = AppCaller(app_id, "app", ids[viewer], f"sid-{viewer}", grants, None)
        try:
            if kind == "me":
                results = [platform.graph.me(caller, purpose)]
            elif kind == "friends":
                results = platform.graph.friends(caller, purpose).people
            else:
                results = [platform.graph.person(caller, f"sid-{target}", purpose)]
        except (NotFound, OutsidePurpose):
            continue
        for result in results:
            assert result.id.startswith("sid-")
            subject = int(result.id.removeprefix("sid-"))
            subject_grants = scenario["grants"][subject]
            assert subject_grants is not None  # only people who authorized the app appear
            if kind == "friends":
                assert (viewer, subject) in friends
                assert Grant(AppField.FRIENDS, purpose) in subject_grants
                assert not scenario["stale"][subject]
            audiences = audiences_with_defaults(
                {f.value: a.value for f, a in scenario["audiences"][subject].items()})
            for field_name, value in result.fields.items():
                owner, field = owner_of[value]
                assert owner == subject and field.value == field_name
                assert Grant(AppField(field_name), purpose) in subject_grants
                assert decide(relationship(viewer, subject), audiences[field]).allowed
                if scenario["stale"][subject]:
                    assert audiences[field] is Audience.EVERYONE


# --- the quiz-app scenario ------------------------------------------------------------------

QUIZ_TAKERS = 270
OTHERS = 3000
FRIENDS_EACH = 320


@pytest.fixture
def quiz_world(tmp_path, clock, passwords) -> Iterator[AppWorld]:  # type: ignore[no-untyped-def]
    """Its own SQLite platform: one backend is enough for the scale scenario (the rules it
    exercises run on both backends in the other tests)."""
    from palisade.bootstrap import initialise
    from palisade.config import Settings

    s = Settings(home=tmp_path, _env_file=None, public_url=BASE,
                 code_sends_per_address_per_hour=10_000)
    initialise(s)
    p = build(s, clock=clock, limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    yield AppWorld(p)
    p.close()


def test_quiz_app_gets_exactly_the_people_who_installed_it(quiz_world: AppWorld) -> None:
    world, rng = quiz_world, random.Random(2014)
    takers = [SyntheticPerson(f"quiz{i:04d}" + "x" * 12, unique_phone(), f"quiz{i}@example.com",
                              {"name": f"Quiz Taker {i}", "birthday": "1990-01-01",
                               "location": "Cambridge"}, {}) for i in range(QUIZ_TAKERS)]
    others = [SyntheticPerson(f"frnd{i:05d}" + "x" * 11, unique_phone(), f"f{i}@example.com",
                              {"name": f"Bystander {i}", "birthday": "1991-02-02",
                               "location": "Elsewhere", "bio": "never installed anything"},
                              {"birthday": "everyone", "location": "everyone", "bio": "everyone"})
              for i in range(OTHERS)]
    everyone = takers + others
    for i in range(QUIZ_TAKERS):
        # mostly bystanders, a few fellow quiz takers: about 320 friends each
        for j in rng.sample(range(QUIZ_TAKERS, len(everyone)), FRIENDS_EACH - 5):
            everyone[i].friends.add(j)
            everyone[j].friends.add(i)
        for j in rng.sample(range(QUIZ_TAKERS), 5):
            if j != i:
                everyone[i].friends.add(j)
                everyone[j].friends.add(i)
    p = world.platform
    with p.uow() as session:
        load(Repository(session), Population(everyone, []), p.envelope, p.accounts.bidx,
             now=p.clock() - timedelta(days=400))
    degrees = [len(t.friends) for t in takers]
    assert 300 <= sum(degrees) / len(degrees) <= 330

    client_id, secret = world.app({"name": ["personalisation"], "birthday": ["personalisation"],
                                   "location": ["personalisation"], "bio": ["personalisation"],
                                   "friends": ["personalisation"]})
    scope = ("name:personalisation birthday:personalisation location:personalisation "
             "bio:personalisation friends:personalisation")
    from tests.conftest import Person
    tokens = []
    for t in takers:
        p.accounts.set_password(t.id, "correct horse battery staple", None)
        tokens.append(world.issue(Person(t.id, "", t.phone), client_id, secret, scope))

    seen_ids: set[str] = set()
    bodies: list[str] = []
    for token in tokens:  # the app does everything the API lets it do, with every token
        me = world.call("/me", token)
        assert me.status_code == 200
        bodies.append(me.text)
        seen_ids.add(me.json()["id"])
        cursor = None
        while True:
            page = world.call("/me/friends?" + urlencode({"limit": 100, **(
                {"cursor": cursor} if cursor else {})}), token)
            assert page.status_code == 200, page.text
            bodies.append(page.text)
            seen_ids.update(x["id"] for x in page.json()["data"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    for token in tokens[:20]:
        for scoped in sorted(seen_ids)[:50]:
            bodies.append(world.call(f"/people/{scoped}", token).text)
        for other in others[:50]:  # internal ids it could only guess
            assert world.call(f"/people/{other.id}", token).status_code == 404

    assert len(seen_ids) == QUIZ_TAKERS
    assert not any("Bystander" in b or "never installed" in b for b in bodies)
    with p.uow() as session:
        released = set(session.scalars(sa.select(AccessEventRow.person_id).where(
            AccessEventRow.actor_id == client_id, AccessEventRow.outcome == "released")))
        assert released == {t.id for t in takers}
        bystanders_exist = session.scalar(sa.select(sa.func.count()).select_from(PersonRow))
    assert bystanders_exist >= QUIZ_TAKERS + OTHERS
    print(f"quiz app: {QUIZ_TAKERS} installs, {sum(degrees)} friendships of installers, "
          f"{len(released)} people's data received (historical: ~320 per install)")
