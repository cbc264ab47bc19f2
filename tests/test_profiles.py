"""Profiles with per-field audiences, and View As (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from palisade.adapters.storage.tables import SessionRow
from palisade.domain.access import Relationship
from palisade.domain.errors import InvalidInput, NotFound
from palisade.domain.profile import Audience
from tests.conftest import befriend, register

FULL = {"name": "Ada Example", "birthday": "1990-04-01", "location": "Springfield",
        "bio": "Hello", "relationship_status": "single",
        "photo_url": "https://img.example.org/a.png"}


@pytest.fixture
def trio(platform):
    """owner - friend - friend_of_friend, and an unrelated stranger."""
    owner, friend, fof, stranger = (register(platform) for _ in range(4))
    befriend(platform, owner, friend)
    befriend(platform, friend, fof)
    platform.profiles.update(owner.id, FULL, {})
    return owner, friend, fof, stranger


def test_defaults_name_public_identifiers_private_rest_friends(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    assert platform.profiles.read(stranger.id, owner.id).fields == {"name": "Ada Example"}
    assert platform.profiles.read(fof.id, owner.id).fields == {"name": "Ada Example"}
    seen = platform.profiles.read(friend.id, owner.id).fields
    assert seen == FULL  # no phone or email: those are only_me by default
    own, audiences = platform.profiles.own(owner.id)
    assert own.fields["phone"] == owner.phone
    assert audiences["phone"] is Audience.ONLY_ME and audiences["name"] is Audience.EVERYONE


def test_relationships_are_reported(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    assert platform.profiles.read(friend.id, owner.id).relationship is Relationship.FRIEND
    assert platform.profiles.read(fof.id, owner.id).relationship is \
        Relationship.FRIEND_OF_FRIEND
    assert platform.profiles.read(stranger.id, owner.id).relationship is Relationship.STRANGER


def test_audience_changes_apply_to_each_relationship(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    platform.profiles.update(owner.id, {}, {"phone": "friends_of_friends",
                                            "birthday": "everyone", "bio": "only_me"})
    assert platform.profiles.read(fof.id, owner.id).fields.get("phone") == owner.phone
    assert "phone" not in platform.profiles.read(stranger.id, owner.id).fields
    assert platform.profiles.read(stranger.id, owner.id).fields["birthday"] == "1990-04-01"
    assert "bio" not in platform.profiles.read(friend.id, owner.id).fields
    platform.profiles.update(owner.id, {}, {"name": "only_me"})
    assert platform.profiles.read(stranger.id, owner.id).fields == {"birthday": "1990-04-01"}


def test_clearing_a_field(platform, trio) -> None:
    owner, friend, *_ = trio
    platform.profiles.update(owner.id, {"bio": None}, {})
    assert "bio" not in platform.profiles.read(friend.id, owner.id).fields


@pytest.mark.parametrize("fields,audiences,words", [
    ({"birthday": "1990-13-01"}, {}, "YYYY-MM-DD"),
    ({"birthday": "2999-01-01"}, {}, "between"),
    ({"relationship_status": "complicated-ish"}, {}, "one of"),
    ({"photo_url": "javascript:alert(1)"}, {}, "https://"),
    ({"name": "x" * 201}, {}, "at most 200"),
    ({"phone": "+12015550100"}, {}, "verified identifiers"),
    ({"shoe_size": "44"}, {}, "Unknown profile field"),
    ({}, {"bio": "the_public"}, "Unknown field or audience"),
    ({}, {"nickname": "everyone"}, "Unknown field or audience"),
])
def test_invalid_updates_are_refused_and_change_nothing(platform, trio, fields, audiences,
                                                        words) -> None:
    owner, friend, *_ = trio
    before = platform.profiles.own(owner.id)
    with pytest.raises(InvalidInput) as err:
        platform.profiles.update(owner.id, {"bio": "changed", **fields}, audiences)
    assert words in err.value.detail
    assert platform.profiles.own(owner.id) == before


def test_blocked_viewers_and_unknown_people_get_the_same_not_found(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    platform.social.block(owner.id, stranger.id)
    with pytest.raises(NotFound) as blocked:
        platform.profiles.read(stranger.id, owner.id)
    with pytest.raises(NotFound) as unknown:
        platform.profiles.read(stranger.id, "no-such-person-id-000000")
    assert blocked.value.detail == unknown.value.detail
    with pytest.raises(NotFound):  # the blocker cannot see the blocked either
        platform.profiles.read(owner.id, stranger.id)


def _session_count(platform) -> int:
    with platform.uow() as s:
        return s.scalar(select(func.count()).select_from(SessionRow))


def test_view_as_each_audience(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    platform.profiles.update(owner.id, {}, {"location": "friends_of_friends"})
    sessions = _session_count(platform)
    assert platform.profiles.view_as(owner.id, Audience.EVERYONE).fields == \
        platform.profiles.read(stranger.id, owner.id).fields
    assert platform.profiles.view_as(owner.id, Audience.FRIENDS_OF_FRIENDS).fields == \
        platform.profiles.read(fof.id, owner.id).fields
    assert platform.profiles.view_as(owner.id, Audience.FRIENDS).fields == \
        platform.profiles.read(friend.id, owner.id).fields
    for person in (friend, fof, stranger):
        assert platform.profiles.view_as(owner.id, person_id=person.id).fields == \
            platform.profiles.read(person.id, owner.id).fields
    assert _session_count(platform) == sessions  # View As mints nothing


def test_view_as_reveals_nothing_about_the_named_person(platform, trio) -> None:
    owner, friend, fof, stranger = trio
    public = platform.profiles.view_as(owner.id, Audience.EVERYONE).fields
    # someone who blocked the owner, and an id that does not exist, look alike: as the public
    platform.social.block(stranger.id, owner.id)
    assert platform.profiles.view_as(owner.id, person_id=stranger.id).fields == public
    assert platform.profiles.view_as(owner.id, person_id="does-not-exist").fields == public
    # naming yourself is not a way to see "only me" through the preview: it is the public view
    assert platform.profiles.view_as(owner.id, person_id=owner.id).fields == public
    rendered = platform.profiles.view_as(owner.id, person_id=friend.id)
    assert rendered.person_id == owner.id  # only the owner's own data comes back
    assert friend.phone not in repr(rendered)
