"""Private messages between two participants, disappearing timers, purge (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from palisade.adapters.storage.tables import Message
from palisade.domain.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import befriend, register


@pytest.fixture
def pair(platform):
    a, b = register(platform), register(platform)
    befriend(platform, a, b)
    return a, b


def test_friends_converse_and_only_they_can_read(platform, pair) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    assert platform.messaging.open(b.id, a.id).id == conv.id  # one conversation per pair
    platform.messaging.send(a.id, conv.id, "hello b")
    platform.messaging.send(b.id, conv.id, "hello a")
    assert [m.body for m in platform.messaging.read(b.id, conv.id)] == ["hello b", "hello a"]
    outsider = register(platform)
    with pytest.raises(NotFound) as not_participant:
        platform.messaging.read(outsider.id, conv.id)
    with pytest.raises(NotFound) as no_such:
        platform.messaging.read(outsider.id, "no-such-conversation")
    assert not_participant.value.detail == no_such.value.detail
    with pytest.raises(NotFound):
        platform.messaging.send(outsider.id, conv.id, "let me in")
    assert [c.id for c in platform.messaging.conversations(outsider.id)] == []


def test_paging_with_after(platform, pair) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    ids = [platform.messaging.send(a.id, conv.id, f"m{i}").id for i in range(5)]
    page = platform.messaging.read(b.id, conv.id, after_id=ids[1], limit=2)
    assert [m.body for m in page] == ["m2", "m3"]


def test_only_friends_can_message(platform) -> None:
    a, b = register(platform), register(platform)
    with pytest.raises(Forbidden):
        platform.messaging.open(a.id, b.id)
    befriend(platform, a, b)
    conv = platform.messaging.open(a.id, b.id)
    platform.social.unfriend(a.id, b.id)
    with pytest.raises(Forbidden):
        platform.messaging.send(b.id, conv.id, "still there?")
    assert platform.messaging.read(b.id, conv.id) == []  # history stays readable to both


def test_blocked_cannot_message(platform, pair) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    platform.social.block(b.id, a.id)
    with pytest.raises(NotFound):
        platform.messaging.send(a.id, conv.id, "hi")


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_bad_bodies(platform, pair, body) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    with pytest.raises(InvalidInput):
        platform.messaging.send(a.id, conv.id, body)


@pytest.mark.parametrize("seconds", [-1, 1, 4, 366 * 86400])
def test_bad_timers(platform, pair, seconds) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    with pytest.raises(InvalidInput):
        platform.messaging.set_timer(a.id, conv.id, seconds)


def _rows(platform, conversation_id: str) -> int:
    with platform.uow() as s:
        return s.scalar(select(func.count()).select_from(Message)
                        .where(Message.conversation_id == conversation_id))


def test_disappearing_messages_vanish_and_are_purged(platform, pair) -> None:
    a, b = pair
    conv = platform.messaging.open(a.id, b.id)
    platform.messaging.send(a.id, conv.id, "stays")
    platform.messaging.set_timer(b.id, conv.id, 60)
    platform.messaging.send(a.id, conv.id, "goes")
    platform.messaging.set_timer(a.id, conv.id, 0)  # off again, for later messages
    platform.messaging.send(a.id, conv.id, "stays too")
    assert len(platform.messaging.read(b.id, conv.id)) == 3
    platform.clock.advance(seconds=61)
    assert [m.body for m in platform.messaging.read(b.id, conv.id)] == ["stays", "stays too"]
    assert _rows(platform, conv.id) == 3  # hidden at once, deleted by the purge
    report = platform.maintenance.purge()
    assert report.messages >= 1
    assert _rows(platform, conv.id) == 2
