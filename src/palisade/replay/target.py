"""Which servers a replay may attack: loopback only, unless the operator says the target is
theirs. A replay sends thousands of hostile requests; pointed at someone else's service by
mistake it would be an attack."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    pass


def check_target(url: str, i_own_it: bool = False) -> str:
    """The target's base URL (no trailing slash), or TargetRefused. Every address the host
    name resolves to must be a loopback address unless `i_own_it`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"{url!r} is not an http(s) URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TargetRefused("give the server's base URL, without a path")
    if not i_own_it:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(
                parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)}
        except socket.gaierror as e:
            raise TargetRefused(f"{parts.hostname} does not resolve: {e}") from None
        outside = sorted(a for a in addresses
                         if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
        if not addresses or outside:
            raise TargetRefused(
                f"{parts.hostname} resolves outside the loopback range ({', '.join(outside)}); "
                "replays attack only loopback servers unless you pass --i-own-this-target")
    return f"{parts.scheme}://{parts.netloc}"
