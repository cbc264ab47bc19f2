"""Why an operator may read a person's personal data (pure).

Modelled on cloud providers' access-transparency logs: every operator read of a person's PII
names a reason from a fixed list and a reference (a ticket, a case number) that ties it to
a record outside this system, and the person sees both in their access log."""

from __future__ import annotations

import re
from enum import StrEnum

from palisade.domain.errors import InvalidInput


class OperatorReason(StrEnum):
    SUPPORT_REQUEST = "support_request"  # the person asked for help
    LEGAL_REQUEST = "legal_request"  # a court order or a regulator's demand
    ABUSE_INVESTIGATION = "abuse_investigation"  # a report against the account
    SECURITY_INCIDENT = "security_incident"  # a breach or compromise being handled
    LEAK_RESPONSE = "leak_response"  # checking a person found in a leaked dump


_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/#-]{2,79}")


def check_reference(reference: str) -> str:
    """A reference is 3-80 printable characters (letters, digits, ` ._:/#-`)."""
    if not _REFERENCE.fullmatch(reference):
        raise InvalidInput("Give a reference of 3 to 80 characters (letters, digits, spaces "
                           "and . _ : / # -), such as the ticket number.")
    return reference
