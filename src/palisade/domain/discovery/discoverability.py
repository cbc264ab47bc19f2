"""Per-identifier discoverability and the rule that says whether a searcher may find a person.

The owner of each phone number or email chooses who may find them by it. The rule is strict:
each setting names exactly the relationship it admits, and a block in either direction hides
both people from each other whatever the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Discoverability(StrEnum):
    EVERYONE = "everyone"
    FRIENDS_OF_FRIENDS = "friends_of_friends"  # friends and friends of friends
    MUTUAL_CONTACTS = "mutual_contacts"  # only someone already in my own synced address book
    NOBODY = "nobody"


# Safe default: a new person can be found only by people whose number or email they have
# themselves, so a stranger holding a list of numbers finds no one.
DEFAULT_DISCOVERABILITY = Discoverability.MUTUAL_CONTACTS


@dataclass(frozen=True, slots=True)
class Tie:
    """What the platform knows about how a searcher stands to a person found by identifier.

    `has_you`: the person's own synced address book contains one of the searcher's
    identifiers (the person knows the searcher). `blocked`: either one blocked the other.
    """

    friend: bool = False
    friend_of_friend: bool = False
    has_you: bool = False
    blocked: bool = False

    @property
    def known(self) -> bool:
        """The person already knows the searcher: revealing them costs no stranger budget."""
        return self.friend or self.has_you


def may_find(setting: Discoverability, tie: Tie) -> bool:
    """May a searcher with this `tie` find the owner of an identifier with this `setting`?"""
    if tie.blocked or setting is Discoverability.NOBODY:
        return False
    if setting is Discoverability.EVERYONE:
        return True
    if setting is Discoverability.FRIENDS_OF_FRIENDS:
        return tie.friend or tie.friend_of_friend
    return tie.has_you  # MUTUAL_CONTACTS
