"""Private one-to-one messages, readable only by their two participants.

Bodies are sealed under the sender's data key and bound to the conversation, so erasing a
person shreds what they wrote. Messages past their disappearing time are never returned and
are deleted by `purge` (run by `palisade purge` and by a background task in `serve`).
There is no path here, or anywhere, that reads messages for anyone but a participant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from palisade.adapters.crypto.envelope import open_sealed, seal
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import Conversation, Message
from palisade.domain import messaging as rules
from palisade.domain.errors import Forbidden, NotFound
from palisade.services.clock import Clock
from palisade.services.people import PersonKeys, message_context, new_id
from palisade.services.profiles import NOT_FOUND

NO_CONVERSATION = "No such conversation."


@dataclass(frozen=True)
class MessageView:
    id: int
    sender_id: str
    body: str
    sent_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class ConversationView:
    id: str
    with_person: str
    disappearing_seconds: int | None
    created_at: datetime


def _view(conv: Conversation, me: str) -> ConversationView:
    other = conv.person_b if conv.person_a == me else conv.person_a
    return ConversationView(conv.id, other, conv.disappearing_seconds, conv.created_at)


class Messaging:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, clock: Clock) -> None:
        self.uow = uow
        self.keys = keys
        self.clock = clock

    @staticmethod
    def _participant(repo: Repository, me: str, conversation_id: str) -> Conversation:
        conv = repo.conversation(conversation_id)
        if conv is None or me not in (conv.person_a, conv.person_b):
            raise NotFound(NO_CONVERSATION)  # the same answer whether it exists or not
        return conv

    @staticmethod
    def _may_message(repo: Repository, me: str, other: str) -> None:
        if repo.is_blocked_between(me, other) or not repo.person_exists(other):
            raise NotFound(NOT_FOUND)
        if not repo.are_friends(me, other):
            raise Forbidden("Only friends can message each other.")

    def open(self, me: str, other: str) -> ConversationView:
        a, b = rules.conversation_pair(me, other)
        with self.uow() as session:
            repo = Repository(session)
            self._may_message(repo, me, other)
            conv = repo.conversation_between(a, b)
            if conv is None:
                conv = Conversation(id=new_id(), person_a=a, person_b=b,
                                    disappearing_seconds=None, created_at=self.clock())
                repo.add(conv)
            return _view(conv, me)

    def conversations(self, me: str) -> list[ConversationView]:
        with self.uow() as session:
            return [_view(c, me) for c in Repository(session).conversations_of(me)]

    def set_timer(self, me: str, conversation_id: str, seconds: int | None) -> ConversationView:
        seconds = rules.validate_timer(seconds)
        with self.uow() as session:
            conv = self._participant(Repository(session), me, conversation_id)
            conv.disappearing_seconds = seconds
            return _view(conv, me)

    def send(self, me: str, conversation_id: str, body: str) -> MessageView:
        body = rules.validate_body(body)
        with self.uow() as session:
            repo = Repository(session)
            conv = self._participant(repo, me, conversation_id)
            other = conv.person_b if conv.person_a == me else conv.person_a
            self._may_message(repo, me, other)
            now = self.clock()
            key = self.keys.data_key(repo, me)
            msg = Message(conversation_id=conv.id, sender_id=me, created_at=now,
                          expires_at=rules.expiry(now, conv.disappearing_seconds),
                          body_ct=seal(key, body.encode(), message_context(conv.id, me)))
            repo.add(msg)
            return MessageView(msg.id, me, body, now, msg.expires_at)

    def read(self, me: str, conversation_id: str, after_id: int | None = None,
             limit: int = 50) -> list[MessageView]:
        with self.uow() as session:
            repo = Repository(session)
            conv = self._participant(repo, me, conversation_id)
            keys: dict[str, bytes] = {}
            out = []
            for m in repo.messages(conv.id, self.clock(), after_id, limit):
                if m.sender_id not in keys:
                    keys[m.sender_id] = self.keys.data_key(repo, m.sender_id)
                body = open_sealed(keys[m.sender_id], m.body_ct,
                                   message_context(conv.id, m.sender_id)).decode()
                out.append(MessageView(m.id, m.sender_id, body, m.created_at, m.expires_at))
            return out
