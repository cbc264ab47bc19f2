"""Rules for private one-to-one messages and disappearing timers."""

from __future__ import annotations

from datetime import datetime, timedelta

from palisade.domain.errors import InvalidInput

MIN_TIMER_SECONDS = 5
MAX_TIMER_SECONDS = 365 * 24 * 3600
MAX_BODY_CHARS = 10_000


def validate_timer(seconds: int | None) -> int | None:
    """None or 0 switches the timer off; otherwise 5 seconds to 1 year."""
    if seconds in (None, 0):
        return None
    if not MIN_TIMER_SECONDS <= seconds <= MAX_TIMER_SECONDS:
        raise InvalidInput(
            f"A disappearing timer must be between {MIN_TIMER_SECONDS} seconds and "
            f"{MAX_TIMER_SECONDS // 86400} days, or 0 to switch it off."
        )
    return seconds


def validate_body(body: str) -> str:
    if not body or not body.strip():
        raise InvalidInput("A message cannot be empty.")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"A message can be at most {MAX_BODY_CHARS} characters.")
    return body


def expiry(sent_at: datetime, timer_seconds: int | None) -> datetime | None:
    """When a message sent now disappears: the timer in force when it was sent applies."""
    return None if timer_seconds is None else sent_at + timedelta(seconds=timer_seconds)


def conversation_pair(a: str, b: str) -> tuple[str, str]:
    """The canonical (ordered) pair, so one conversation exists per two people."""
    if a == b:
        raise InvalidInput("You cannot start a conversation with yourself.")
    return (a, b) if a < b else (b, a)
