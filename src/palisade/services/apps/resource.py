"""The resource side of app access: checking a DPoP-bound access token on every Graph API
request (RFC 9449 §7), in one database query plus one proof check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from palisade.adapters.oauth.rfc9449_dpop import DPoPVerifier, InvalidDPoPProof
from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.config import Settings
from palisade.domain.apps.grants import Grant, parse_grant
from palisade.domain.errors import InvalidAppToken
from palisade.services.apps.oauth_server import ACCESS_PREFIX, GRAPH_PATH, sha256
from palisade.services.clock import Clock

ACTIVITY_RESOLUTION = timedelta(hours=1)  # an app's last activity is written at most hourly


@dataclass(frozen=True, slots=True)
class AppCaller:
    """Who is calling: the app, the person it acts for, and what that person granted."""

    app_id: str
    kind: str
    person_id: str | None
    scoped_id: str | None
    grants: frozenset[Grant]  # the token's scope, narrowed to what the person still grants
    last_used_at: datetime | None


# RFC 9449 §7.1: the credentials are a token68 (RFC 9110 §11.2)
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def split_authorization(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "dpop" or not token.strip():
        raise InvalidAppToken("Send 'Authorization: DPoP <access token>' with a DPoP proof; "
                              "bearer tokens are not accepted for apps.")
    token = token.strip()
    if len(token) > 128 or not _TOKEN68.fullmatch(token):
        raise InvalidAppToken("The access token is not valid.")
    return token


class ResourceGuard:
    def __init__(self, settings: Settings, uow: UnitOfWork, dpop: DPoPVerifier,
                 clock: Clock) -> None:
        self.uow = uow
        self.dpop = dpop
        self.clock = clock
        self.resource_id = settings.public_url.rstrip("/") + GRAPH_PATH
        self.inactivity = timedelta(days=settings.app_inactivity_days)

    def verify(self, authorization: str | None, proof: str | None, method: str,
               url: str) -> AppCaller:
        """The whole check of an app's request: the token, then its DPoP proof."""
        token = split_authorization(authorization)
        try:  # §7.1: the proof must match this request...
            pending = self.dpop.begin(proof, method, url, access_token=token)
        except InvalidDPoPProof as exc:
            raise InvalidAppToken(str(exc), error="invalid_dpop_proof") from None
        # ...and the token's key. The replay check's round trip to the shared seen-set is
        # already under way; it overlaps the token look-up.
        try:
            with self.uow() as session:
                caller, jkt = self.token_check(AppsRepository(session), token)
        finally:
            pending.first_use()  # always collected
        try:
            pending.finish(expected_jkt=jkt)
        except InvalidDPoPProof as exc:
            raise InvalidAppToken(str(exc), error="invalid_dpop_proof") from None
        return caller

    def token_check(self, repo: AppsRepository, token: str) -> tuple[AppCaller, str]:
        """The token alone (what a bearer check would be): one query for the token, its app,
        the person's authorization and the revocation horizons. Returns the caller and the
        key thumbprint the token is bound to."""
        if not token.startswith(ACCESS_PREFIX) or len(token) > 128:
            raise InvalidAppToken("The access token is not valid.")
        now = self.clock()
        ctx = repo.token_context(sha256(token))
        if ctx is None:
            raise InvalidAppToken("The access token is not valid.")
        row = ctx.OAuthTokenRow
        horizons = [h for h in (ctx.rev_all, ctx.rev_app, ctx.rev_person) if h is not None]
        if (row.revoked_at is not None or row.expires_at <= now
                or any(row.issued_at <= h for h in horizons)
                or ctx.suspended_at is not None
                or ctx.last_activity_at + self.inactivity <= now
                or row.resource != self.resource_id
                or (row.person_id is not None and ctx.grants is None)):
            raise InvalidAppToken("The access token has expired or been revoked.")
        if now - ctx.last_activity_at > ACTIVITY_RESOLUTION:
            repo.touch_app(row.app_id, now)
        token_grants = {parse_grant(t) for t in row.scope.split()}
        if row.person_id is not None:  # narrowed to what the person grants now
            current = {parse_grant(t) for t in ctx.grants}
        else:  # a partner: narrowed to its agreements in force now
            current = {parse_grant(t) for a in repo.active_agreements(now, row.app_id)
                       for t in a.scopes}
            if not current:
                raise InvalidAppToken("This partner has no agreement in force.")
        return AppCaller(row.app_id, ctx.kind, row.person_id, ctx.scoped_id,
                         frozenset(token_grants & current), ctx.last_used_at), row.jkt
