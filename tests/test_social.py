"""Friend requests, friendships and blocks (both backends)."""

from __future__ import annotations

import pytest

from palisade.domain.errors import Conflict, InvalidInput, NotFound
from tests.conftest import befriend, register


def test_request_accept_and_remove(platform) -> None:
    a, b = register(platform), register(platform)
    result = platform.social.send_request(a.id, b.id)
    assert result.status == "pending"
    assert [r.id for r in platform.social.requests(b.id, incoming=True)] == [result.request_id]
    assert [r.id for r in platform.social.requests(a.id, incoming=False)] == [result.request_id]
    with pytest.raises(NotFound):  # only the recipient accepts
        platform.social.accept(a.id, result.request_id)
    platform.social.accept(b.id, result.request_id)
    assert platform.social.friends(a.id) == [b.id] and platform.social.friends(b.id) == [a.id]
    with pytest.raises(Conflict):
        platform.social.send_request(a.id, b.id)
    platform.social.unfriend(b.id, a.id)
    assert platform.social.friends(a.id) == []
    with pytest.raises(NotFound):
        platform.social.unfriend(b.id, a.id)


def test_repeated_request_is_idempotent_and_crossing_requests_make_friends(platform) -> None:
    a, b = register(platform), register(platform)
    first = platform.social.send_request(a.id, b.id)
    assert platform.social.send_request(a.id, b.id) == first
    assert platform.social.send_request(b.id, a.id).status == "friends"
    assert platform.social.requests(b.id, incoming=True) == []


def test_decline_and_withdraw(platform) -> None:
    a, b, c = (register(platform) for _ in range(3))
    r1 = platform.social.send_request(a.id, b.id).request_id
    platform.social.withdraw_or_decline(b.id, r1)  # declined
    assert platform.social.friends(a.id) == []
    r2 = platform.social.send_request(a.id, b.id).request_id
    with pytest.raises(NotFound):  # not a party to it
        platform.social.withdraw_or_decline(c.id, r2)
    platform.social.withdraw_or_decline(a.id, r2)  # withdrawn
    assert platform.social.requests(b.id, incoming=True) == []


def test_requests_to_self_and_to_nobody(platform) -> None:
    a = register(platform)
    with pytest.raises(InvalidInput):
        platform.social.send_request(a.id, a.id)
    with pytest.raises(NotFound):
        platform.social.send_request(a.id, "nobody-has-this-id")


def test_block_ends_friendship_and_hides_each_from_the_other(platform) -> None:
    a, b = register(platform), register(platform)
    befriend(platform, a, b)
    platform.social.block(a.id, b.id)
    assert platform.social.friends(a.id) == [] and platform.social.friends(b.id) == []
    for viewer, subject in ((a, b), (b, a)):
        with pytest.raises(NotFound):
            platform.profiles.read(viewer.id, subject.id)
        with pytest.raises(NotFound):
            platform.social.send_request(viewer.id, subject.id)
    with pytest.raises(NotFound) as unknown:
        platform.social.send_request(b.id, "nobody-has-this-id")
    with pytest.raises(NotFound) as blocked:
        platform.social.send_request(b.id, a.id)
    assert unknown.value.detail == blocked.value.detail  # the block cannot be detected
    assert [x.blocked_id for x in platform.social.blocks(a.id)] == [b.id]
    platform.social.block(a.id, b.id)  # idempotent
    platform.social.unblock(a.id, b.id)
    assert platform.profiles.read(b.id, a.id).fields is not None
    with pytest.raises(NotFound):
        platform.social.unblock(a.id, b.id)


def test_block_removes_pending_requests(platform) -> None:
    a, b = register(platform), register(platform)
    platform.social.send_request(b.id, a.id)
    platform.social.block(a.id, b.id)
    assert platform.social.requests(a.id, incoming=True) == []
