"""Rules for one-time codes that prove control of a phone number or email address.

A code is 6 digits, expires, is single use, and allows at most MAX_ATTEMPTS wrong tries;
after that it is dead and a new one must be requested. The state transitions are pure so
they can be tested without a database; the service stores the resulting state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

CODE_DIGITS = 6
MAX_ATTEMPTS = 5


class Purpose(StrEnum):
    SIGN_IN = "sign_in"  # sign in, or register if the identifier is new
    ADD_IDENTIFIER = "add_identifier"  # attach an identifier to a signed-in person
    REVERIFY = "reverify"  # prove control again (asked of accounts whose discovery looks automated)
    EXPOSURE_CHECK = "exposure_check"  # anyone proves control before learning if it leaked


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    EXHAUSTED = "exhausted"  # too many wrong tries: the code is dead
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True, slots=True)
class CodeState:
    expires_at: datetime
    attempts: int = 0
    consumed: bool = False

    @classmethod
    def issued(cls, now: datetime, ttl: timedelta) -> CodeState:
        return cls(expires_at=now + ttl)


def check(state: CodeState, matches: bool, now: datetime) -> tuple[Outcome, CodeState]:
    """Apply one attempt. `matches` is the constant-time comparison done by the caller."""
    if state.consumed:
        return Outcome.USED, state
    if now >= state.expires_at:
        return Outcome.EXPIRED, state
    if state.attempts >= MAX_ATTEMPTS:
        return Outcome.EXHAUSTED, state
    if matches:
        return Outcome.ACCEPTED, replace(state, consumed=True)
    attempts = state.attempts + 1
    outcome = Outcome.EXHAUSTED if attempts >= MAX_ATTEMPTS else Outcome.WRONG
    return outcome, replace(state, attempts=attempts)


def tries_left(state: CodeState) -> int:
    return max(0, MAX_ATTEMPTS - state.attempts)
