"""Request-scoped dependencies: the platform, the signed-in person, the client address."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from palisade.bootstrap import Platform
from palisade.services.accounts import AuthSession

_bearer = HTTPBearer(auto_error=False, description="A first-party session token (pls_…)")


def platform(request: Request) -> Platform:
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(platform)]


def current_session(p: PlatformDep,
                    credentials: Annotated[HTTPAuthorizationCredentials | None,
                                           Depends(_bearer)]) -> AuthSession:
    return p.accounts.authenticate(credentials.credentials if credentials else None)


Auth = Annotated[AuthSession, Depends(current_session)]


def client_address(request: Request, p: PlatformDep) -> str:
    """The caller's address. X-Forwarded-For is believed only when the direct peer is a
    configured trusted proxy, and then only up to the first hop that is not one (the
    rightmost untrusted address): anyone else can write any value into that header."""
    peer = request.client.host if request.client else "0.0.0.0"
    trusted = p.settings.trusted_networks

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed header is not trusted at all
    return peer


ClientAddress = Annotated[str, Depends(client_address)]
