"""What the server-rendered pages (the OAuth consent page, the Privacy Center) share: reading
an HTML form, and a CSRF value bound to the session."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from fastapi import Request

from palisade.bootstrap import Platform

MAX_FORM_BYTES = 64 * 1024


async def urlencoded_form(request: Request) -> list[tuple[str, str]]:
    """The fields of an application/x-www-form-urlencoded body (what an HTML form sends,
    and what RFC 6749 §4.1.3 and RFC 7009 §2.1 require); anything else reads as empty."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if ctype != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        return []
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return []


def csrf_value(p: Platform, purpose: bytes, session_token: str) -> str:
    """An HMAC of the session token under a key derived for `purpose`: a form value another
    site cannot know, and nothing to store."""
    key = hmac.new(p.keyrings.get().secrets["one_time_codes"], purpose, hashlib.sha256).digest()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def csrf_matches(given: str, expected: str) -> bool:
    """Constant time, and as bytes: any text the form sent compares without an error."""
    return hmac.compare_digest(given.encode(), expected.encode())
