"""The escalation ladder for an account whose discovery traffic looks like enumeration.

NORMAL -> SLOWED (one sync per interval) -> REVERIFY (prove control of an identifier again
with a one-time code) -> FROZEN (discovery off until an operator lifts it). Every step from
REVERIFY up raises an operator alert. A finding never lowers the level; a repeated finding
after re-verification climbs one step further, so solving codes does not buy a fresh start.
"""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    NORMAL = 0
    SLOWED = 1
    REVERIFY = 2
    FROZEN = 3


def escalate(current: Level, severity: int, repeat: bool) -> Level:
    """The level after a finding of `severity` (1..3). `repeat`: the account was already
    escalated for this kind of finding before and was let back (re-verified)."""
    target = Level(max(Level.SLOWED, min(Level.FROZEN, severity)))
    if repeat:
        target = Level(min(Level.FROZEN, max(target, current) + 1))
    return max(current, target)


def alerts_operator(level: Level) -> bool:
    return level >= Level.REVERIFY
