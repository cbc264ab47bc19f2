"""The defences compared, behind one small interface.

The simulated server (`platform.Platform`) does what the real sync service does for every
defence alike: it works out which identifiers are new to the account (its seen-set), which
identifiers belong to members, and each member's setting and tie to the searcher (friend,
has_you, revealed before, hidden from strangers). A defence then decides only two things:
whether the sync is admitted, and which candidates it reveals. It never sees the world's
parameters, the honest model or the attacker: only `Who` (account, address, standing facts),
the `Request` and the candidates, exactly what a server would have.

Every defence uses `may_find` (the one rule of who may find whom) for entitlement; only
Palisade adds a stranger budget on top of it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from palisade.domain.discovery.discoverability import Discoverability, Tie, may_find

__all__ = ["DEFENCES", "Cand", "Defence", "Outcome", "Request", "Who", "allowed", "make_defence"]


@dataclass(slots=True)
class Who:
    account: str
    address: str
    age_days: float
    friends: int
    known_by: int
    shared_address: bool = False  # for needs_every_sync only (honest NAT)


@dataclass(slots=True)
class Request:
    kind: str  # "full" (install, reinstall, any attacker upload) or "daily"
    total: int  # identifiers in the request (a daily sync re-sends the whole book)
    new_count: int  # identifiers this account had not sent before
    # (e164, allocated, member) of the new identifiers; called only by defences that look
    lookups: Callable[[], Sequence[tuple[int, bool, bool]]] = lambda: ()


@dataclass(slots=True)
class Cand:
    """A member behind one of the request's identifiers, with the server's facts."""

    pid: int
    key: str  # the person's id as the server would name it ("p123")
    setting: Discoverability
    tie: Tie
    revealed_before: bool
    hidden: bool
    registered_at: float  # when the member registered (B3 matches recent ones incrementally)
    is_new: bool  # the identifier is new to this account (B3: a full look-up)


@dataclass(slots=True)
class Outcome:
    allowed: bool
    reason: str = "ok"
    retry_after: float = 0.0
    found: list[int] = field(default_factory=list)
    withheld: list[int] = field(default_factory=list)  # allowed, held back, may come later
    overexposed: list[int] = field(default_factory=list)
    level: int = 0  # Palisade escalation level (0 for baselines)


class Defence:
    name = "?"
    label = "?"
    # refusals that are pacing, not blocking (the client waits and retries)
    pacing_reasons: frozenset[str] = frozenset()

    def needs_every_sync(self, who: Who, book_size: int) -> bool:
        """True if an empty daily sync of this honest account can change state (so it may not
        be skipped). Baselines that charge re-sent identifiers say so."""
        return False

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        raise NotImplementedError

    def reverified(self, account: str, now: float) -> None:
        """The account proved control of its number again."""


def allowed(cands: Sequence[Cand]) -> list[int]:
    """Every candidate the rule lets the searcher find: what a baseline reveals on admission."""
    return [c.pid for c in cands if may_find(c.setting, c.tie)]


DEFENCES: dict[str, type[Defence]] = {}


def register(cls: type[Defence]) -> type[Defence]:
    DEFENCES[cls.name] = cls
    return cls


def _load_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{mod.name}")


def make_defence(name: str) -> Defence:
    return DEFENCES[name]()


ORDER = ["B0", "B1", "B2", "B3", "palisade"]

_load_all()
