"""Partner agreements: what a partner may ever be given, on what legal basis, for how long."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from palisade.domain.apps.grants import AppField, Grant, parse_grant
from palisade.domain.errors import InvalidInput


class LegalBasis(StrEnum):
    """GDPR Art. 6(1). Whatever the basis, each person still opts in before their data flows."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


def agreement_scopes(tokens: Iterable[str]) -> frozenset[Grant]:
    grants = frozenset(parse_grant(t) for t in tokens)
    if not grants:
        raise InvalidInput("An agreement names at least one field:purpose.")
    if any(g.field is AppField.FRIENDS for g in grants):
        # a partner acts for nobody, so there is no one whose friends it could be shown
        raise InvalidInput("Partners cannot be given friendships.")
    return grants


def check_period(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("An agreement must end after it starts.")
