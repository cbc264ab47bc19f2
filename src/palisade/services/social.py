"""Friend requests, friendships and blocks.

A block hides each person from the other everywhere: it ends their friendship and pending
requests, and from then on each sees the other as non-existent (the same 404 as for an id
that never existed), so a block cannot be detected by probing.
"""

from __future__ import annotations

from dataclasses import dataclass

from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import Block, FriendRequest
from palisade.domain.errors import Conflict, InvalidInput, NotFound
from palisade.services.clock import Clock
from palisade.services.people import new_id
from palisade.services.profiles import NOT_FOUND


@dataclass(frozen=True)
class RequestResult:
    status: str  # "pending" or "friends"
    request_id: str | None


class Social:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    @staticmethod
    def _reachable(repo: Repository, me: str, other: str) -> None:
        if me == other:
            raise InvalidInput("That is you.")
        if not repo.person_exists(other) or repo.is_blocked_between(me, other):
            raise NotFound(NOT_FOUND)

    def send_request(self, me: str, other: str) -> RequestResult:
        with self.uow() as session:
            repo = Repository(session)
            self._reachable(repo, me, other)
            if repo.are_friends(me, other):
                raise Conflict("You are already friends.")
            reverse = repo.friend_request(other, me)
            if reverse is not None:  # they asked first: asking back is accepting
                session.delete(reverse)
                repo.add_friendship(me, other, self.clock())
                return RequestResult("friends", None)
            existing = repo.friend_request(me, other)
            if existing is not None:
                return RequestResult("pending", existing.id)
            request = FriendRequest(id=new_id(), from_id=me, to_id=other,
                                    created_at=self.clock())
            repo.add(request)
            return RequestResult("pending", request.id)

    def requests(self, me: str, incoming: bool) -> list[FriendRequest]:
        with self.uow() as session:
            return list(Repository(session).friend_requests(me, incoming))

    def _request_to_me(self, repo: Repository, me: str, request_id: str) -> FriendRequest:
        request = repo.friend_request_by_id(request_id)
        if request is None or request.to_id != me:
            raise NotFound("No such friend request.")
        return request

    def accept(self, me: str, request_id: str) -> None:
        with self.uow() as session:
            repo = Repository(session)
            request = self._request_to_me(repo, me, request_id)
            session.delete(request)
            if not repo.are_friends(me, request.from_id):
                repo.add_friendship(me, request.from_id, self.clock())

    def withdraw_or_decline(self, me: str, request_id: str) -> None:
        """Either party may delete a pending request: the recipient declines it silently,
        the sender withdraws it. The sender is not told which."""
        with self.uow() as session:
            repo = Repository(session)
            request = repo.friend_request_by_id(request_id)
            if request is None or me not in (request.to_id, request.from_id):
                raise NotFound("No such friend request.")
            session.delete(request)

    def unfriend(self, me: str, other: str) -> None:
        with self.uow() as session:
            if Repository(session).remove_friendship(me, other) == 0:
                raise NotFound("You are not friends with that person.")

    def friends(self, me: str, after: str | None = None, limit: int = 100) -> list[str]:
        with self.uow() as session:
            return Repository(session).friends_page(me, after, limit)

    def block(self, me: str, other: str) -> None:
        with self.uow() as session:
            repo = Repository(session)
            if me == other:
                raise InvalidInput("You cannot block yourself.")
            if not repo.person_exists(other):
                raise NotFound(NOT_FOUND)
            if repo.block(me, other) is not None:
                return
            repo.remove_friendship(me, other)
            repo.delete_requests_between(me, other)
            repo.add(Block(blocker_id=me, blocked_id=other, created_at=self.clock()))

    def unblock(self, me: str, other: str) -> None:
        with self.uow() as session:
            repo = Repository(session)
            block = repo.block(me, other)
            if block is None:
                raise NotFound("You have not blocked that person.")
            session.delete(block)

    def blocks(self, me: str) -> list[Block]:
        with self.uow() as session:
            return list(Repository(session).blocks_by(me))
