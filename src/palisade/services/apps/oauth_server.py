"""The OAuth 2.0 authorization server, built on Authlib's framework-neutral server.

Library: Authlib does the protocol — RFC 6749 authorization-code and refresh-token grants
(request validation, client authentication, redirect-URI and scope checks, error responses),
RFC 7636 PKCE verification, RFC 7009 revocation and RFC 7662 introspection endpoints, RFC 8414
metadata validation. joserfc does JOSE for DPoP.

Ours (Authlib has no slot for them): binding every token to a DPoP key (RFC 9449) at the token
endpoint, RFC 8707 resource indicators, consent per field and purpose (the person may untick
any pair), the storage of codes and tokens as hashes, refresh-token rotation with reuse
detection (RFC 9700 §4.14.2), and the O(1) revocation horizons.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from palisade.adapters.oauth.rfc9449_dpop import (
    SIGNING_ALGORITHMS,
    DPoPVerifier,
    InvalidDPoPProof,
)
from palisade.adapters.passwords import Passwords
from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import (
    AppAuthorizationRow,
    AppRow,
    OAuthCodeRow,
    OAuthTokenRow,
)
from palisade.config import Settings
from palisade.domain.apps.grants import (
    FIELD_LABELS,
    PURPOSE_LABELS,
    Grant,
    format_scope,
    grants_from_declaration,
    parse_grant,
)
from palisade.domain.errors import InvalidInput
from palisade.domain.notifications import NotificationKind
from palisade.services.clock import Clock
from palisade.services.notifications import notify

CODE_TTL = timedelta(minutes=5)  # RFC 6749 §4.1.2 recommends at most 10 minutes
ACCESS_PREFIX = "pat_"
REFRESH_PREFIX = "prf_"
GRAPH_PATH = "/v1/graph"
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class PersonRef:
    id: str


class InvalidDPoPError(OAuth2Error):
    error = "invalid_dpop_proof"  # RFC 9449 §12.2
    status_code = 400


class OAuthClient(ClientMixin):
    """An app row seen through Authlib's client interface."""

    def __init__(self, row: AppRow, passwords: Passwords) -> None:
        self.row = row
        self._passwords = passwords
        self.allowed = grants_from_declaration(row.requested)

    def get_client_id(self) -> str:
        return self.row.id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None  # several: the request must name one

    def get_allowed_scope(self, scope: str) -> str | None:
        """All of the requested pairs, or None (invalid_scope): asking for a pair the app did
        not register is a developer error to fix, not something to narrow silently."""
        tokens = (scope or "").split()
        if not tokens or any(_grant_or_none(t) not in self.allowed for t in tokens):
            return None
        return " ".join(tokens)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact match (RFC 9700 §2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.row.secret_hash is not None and self._passwords.verify(
            self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.secret_hash is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.row.kind == "app"

    def check_grant_type(self, grant_type: str) -> bool:
        if self.row.kind == "partner":
            return grant_type == "client_credentials"
        return grant_type in ("authorization_code", "refresh_token")


def _grant_or_none(token: str) -> Grant | None:
    try:
        return parse_grant(token)
    except InvalidInput:
        return None


class _Payload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for key, value in items:
            self._data.setdefault(key, value)
            self._datalist.setdefault(key, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class HttpRequest(OAuth2Request):
    """A request as the HTTP layer read it (query and form already parsed)."""

    def __init__(self, method: str, url: str, headers: dict[str, str],
                 query: list[tuple[str, str]], form: list[tuple[str, str]],
                 dpop_proof: str | None = None) -> None:
        super().__init__(method, url, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)
        self.dpop_proof = dpop_proof
        self.dpop_jkt: str | None = None
        self.credential_row: OAuthCodeRow | OAuthTokenRow | None = None
        self.asked: set[Grant] | None = None
        self.chosen: set[Grant] | None = None  # the pairs the person left ticked
        self.partner_scope = ""

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class Response:
    status: int
    body: dict | str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentItem:
    grant: Grant
    field_label: str
    purpose_label: str
    previously_granted: bool


@dataclass(frozen=True)
class ConsentView:
    app_id: str
    app_name: str
    privacy_policy_url: str
    items: list[ConsentItem]
    params: list[tuple[str, str]]  # the authorization request, carried through the form


class _Code:
    """An authorization code row seen through Authlib's interface."""

    def __init__(self, row: OAuthCodeRow) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class _Token:
    def __init__(self, row: OAuthTokenRow, revoked: bool, now: datetime,
                 scoped_id: str | None) -> None:
        self.row = row
        self._revoked = revoked
        self._now = now
        self.scoped_id = scoped_id

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.app_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self._now

    def is_revoked(self) -> bool:
        return self._revoked


def describe_access(app_name: str, grants: Iterable[Grant]) -> str:
    """What a person is told when an app or partner gets new access."""
    parts = [f"{FIELD_LABELS[g.field]} {PURPOSE_LABELS[g.purpose]}" for g in sorted(grants)]
    return f"{app_name} can now use " + "; ".join(parts) + "."


class _PKCE(CodeChallenge):
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # RFC 9700 §2.1.1: plain is not offered

    def validate_code_challenge(self, grant, redirect_uri):  # type: ignore[no-untyped-def]
        data = grant.request.payload.data
        # every client must use PKCE with S256 (RFC 9700 §2.1.1), confidential ones too
        if not data.get("code_challenge"):
            raise InvalidRequestError("code_challenge is required (PKCE, RFC 7636).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):  # type: ignore[no-untyped-def]
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("code_verifier is required (PKCE, RFC 7636).")
        return super().validate_code_verifier(grant, result)


class OAuthServer(AuthorizationServer):
    def __init__(self, settings: Settings, uow: UnitOfWork, passwords: Passwords,
                 dpop: DPoPVerifier, clock: Clock) -> None:
        super().__init__(scopes_supported=None)
        self.settings = settings
        self.uow = uow
        self.passwords = passwords
        self.dpop = dpop
        self.clock = clock
        self.issuer = settings.public_url.rstrip("/")
        self.resource_id = self.issuer + GRAPH_PATH
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_CodeGrant, [_PKCE(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_grant(_PartnerGrant)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)
        self._metadata = self._build_metadata()

    # -- Authlib's framework hooks
    def query_client(self, client_id: str) -> OAuthClient | None:
        if not isinstance(client_id, str) or len(client_id) > 32:
            return None
        with self.uow() as session:
            row = AppsRepository(session).app(client_id)
        if row is None or row.suspended_at is not None:
            return None
        return OAuthClient(row, self.passwords)

    def _generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                        include_refresh_token=True):  # type: ignore[no-untyped-def]
        token = {
            "token_type": "DPoP",  # RFC 9449 §5: every app token is sender-constrained
            "access_token": ACCESS_PREFIX + secrets.token_urlsafe(32),
            "expires_in": self.settings.access_token_ttl_seconds,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = REFRESH_PREFIX + secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict, request: HttpRequest) -> None:
        now = self.clock()
        if request.dpop_jkt is None:  # checked before Authlib runs; a guard, not a path
            raise InvalidDPoPError("A DPoP proof is required.")
        origin = request.credential_row  # the code or refresh token exchanged; None: partner
        if origin is None:
            family, person, resource = secrets.token_urlsafe(16), None, self.resource_id
        else:
            family, person, resource = origin.family_id, origin.person_id, origin.resource
        refresh = token.get("refresh_token")
        with self.uow() as session:
            repo = AppsRepository(session)
            repo.add_token(OAuthTokenRow(
                id=secrets.token_urlsafe(16), access_hash=sha256(token["access_token"]),
                refresh_hash=sha256(refresh) if refresh else None, family_id=family,
                app_id=request.client.get_client_id(), person_id=person,
                scope=token.get("scope", ""), resource=resource, jkt=request.dpop_jkt,
                issued_at=now, expires_at=now + timedelta(seconds=token["expires_in"]),
                refresh_expires_at=(now + timedelta(days=self.settings.refresh_token_ttl_days)
                                    if refresh else None),
                rotated_at=None, revoked_at=None))
            repo.touch_app(request.client.get_client_id(), now)

    def create_oauth2_request(self, request: HttpRequest) -> HttpRequest:
        return request

    def handle_response(self, status, body, headers) -> Response:  # type: ignore[no-untyped-def]
        return Response(status, body, list(headers))

    def send_signal(self, name, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        return None

    # -- helpers
    def is_revoked(self, repo: AppsRepository, row: OAuthTokenRow) -> bool:
        if row.revoked_at is not None:
            return True
        horizons = repo.revocation_horizons(row.app_id, row.person_id)
        return any(row.issued_at <= h for h in horizons)

    def token_url(self) -> str:
        return self.issuer + "/oauth/token"

    # -- entry points used by the HTTP layer
    def metadata(self) -> dict:
        """RFC 8414 §2 (built and validated once)."""
        return dict(self._metadata)

    def _build_metadata(self) -> dict:
        """RFC 8414 §2, validated by Authlib's model."""
        scopes = sorted(g.scope_token for g in (Grant(f, p) for f in FIELD_LABELS
                                                 for p in PURPOSE_LABELS))
        doc = {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/oauth/authorize",
            "token_endpoint": self.token_url(),
            "revocation_endpoint": self.issuer + "/oauth/revoke",
            "introspection_endpoint": self.issuer + "/oauth/introspect",
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": self.issuer + "/docs",
            # RFC 9449 §5.1
            "dpop_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        }
        AuthorizationServerMetadata(doc).validate()
        return doc

    def consent(self, request: HttpRequest, person_id: str) -> ConsentView:
        """Validate an authorization request (raises OAuth2Error) and describe what the
        person is asked to agree to."""
        grant = self.get_consent_grant(request, end_user=PersonRef(person_id))
        client: OAuthClient = grant.client
        self._check_resource(request, grant)
        asked = [g for g in (_grant_or_none(t) for t in (request.scope or "").split()) if g]
        with self.uow() as session:
            existing = AppsRepository(session).authorization(client.get_client_id(), person_id)
        had = {parse_grant(g) for g in existing.grants} if existing else set()
        items = [ConsentItem(g, FIELD_LABELS[g.field], PURPOSE_LABELS[g.purpose], g in had)
                 for g in sorted(set(asked))]
        return ConsentView(client.get_client_id(), client.row.name,
                           client.row.privacy_policy_url, items,
                           [(k, v) for k, vs in request.payload.datalist.items() for v in vs])

    def decide(self, request: HttpRequest, person_id: str, ticked: Iterable[str],
               allow: bool) -> Response:
        """The person's answer on the consent page: a redirect to the app with a code (for
        the ticked pairs only) or with access_denied."""
        try:
            grant = self.get_consent_grant(request, end_user=PersonRef(person_id))
            self._check_resource(request, grant)
        except OAuth2Error as error:
            return self.handle_error_response(request, error)
        asked = {g for g in (_grant_or_none(t) for t in (request.scope or "").split()) if g}
        chosen = {g for g in (_grant_or_none(t) for t in ticked) if g} & asked
        user = PersonRef(person_id) if allow and chosen else None
        request.chosen = chosen
        request.asked = asked
        return self.create_authorization_response(request, grant_user=user, grant=grant)

    def _check_resource(self, request: HttpRequest, grant: _CodeGrant) -> None:
        """Our extensions of the authorization request; errors go back to the verified
        redirect URI like Authlib's own."""
        # RFC 8707 §2: one resource per request; the Graph API is the only one here.
        values = request.payload.datalist.get("resource", [])
        error: OAuth2Error | None = None
        if len(values) > 1 or (values and values[0].rstrip("/") != self.resource_id):
            error = InvalidTargetError(f"resource must be {self.resource_id}")
        jkt = request.payload.datalist.get("dpop_jkt", [])  # RFC 9449 §10
        if len(jkt) > 1 or (jkt and not _JKT.fullmatch(jkt[0])):
            error = InvalidRequestError("dpop_jkt must be one base64url SHA-256 thumbprint.")
        if error is not None:
            error.redirect_uri = grant.redirect_uri
            error.state = request.payload.state
            raise error

    def token(self, request: HttpRequest) -> Response:
        try:
            request.dpop_jkt = self.dpop.check(request.dpop_proof, "POST", self.token_url()).jkt
        except InvalidDPoPProof as exc:
            return self.handle_error_response(request, InvalidDPoPError(str(exc)))
        return self.create_token_response(request)

    def revoke(self, request: HttpRequest) -> Response:
        return self.create_endpoint_response("revocation", request)

    def introspect(self, request: HttpRequest) -> Response:
        return self.create_endpoint_response("introspection", request)


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"  # RFC 8707 §2


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    server: OAuthServer

    def validate_authorization_request(self):  # type: ignore[no-untyped-def]
        uri = super().validate_authorization_request()
        if not self.request.payload.redirect_uri:
            # RFC 9700 §2.1: exact redirect URIs; with one registered it may be omitted
            if self.client_redirect_count() != 1:
                raise InvalidRequestError("redirect_uri is required.")
        return uri

    def client_redirect_count(self) -> int:
        return len(self.request.client.row.redirect_uris)

    def save_authorization_code(self, code: str, request: HttpRequest) -> None:
        server = self.server
        now = server.clock()
        person_id = request.user.id
        app_id = request.client.get_client_id()
        # Authlib sets request.scope to everything the app asked for and may have; the
        # person's choice on the consent page narrows it
        chosen = request.chosen if request.chosen is not None else set()
        asked = request.asked if request.asked is not None else chosen
        request.scope = format_scope(chosen)
        with server.uow() as session:
            repo = AppsRepository(session)
            auth = repo.authorization(app_id, person_id)
            had = {parse_grant(g) for g in auth.grants} if auth else set()
            if chosen - had:
                notify(session, person_id, NotificationKind.NEW_APP_ACCESS,
                       describe_access(request.client.row.name, chosen - had), now)
            if auth is None:
                repo.add_authorization(AppAuthorizationRow(
                    app_id=app_id, person_id=person_id,
                    scoped_id=secrets.token_urlsafe(16), grants=sorted(
                        g.scope_token for g in chosen),
                    created_at=now, last_used_at=now))
            else:
                # what was asked again and left unticked is withdrawn; other grants stay
                kept = {parse_grant(g) for g in auth.grants} - asked
                auth.grants = sorted(g.scope_token for g in kept | chosen)
                auth.last_used_at = now
            data = request.payload.data
            repo.add_code(OAuthCodeRow(
                code_hash=sha256(code), app_id=app_id, person_id=person_id,
                redirect_uri=data.get("redirect_uri") or "",
                scope=request.scope or "", resource=server.resource_id,
                code_challenge=data["code_challenge"], code_challenge_method="S256",
                dpop_jkt=data.get("dpop_jkt"),
                expires_at=now + CODE_TTL, used_at=None, family_id=secrets.token_urlsafe(16)))

    def query_authorization_code(self, code: str, client: OAuthClient) -> _Code | None:
        server = self.server
        now = server.clock()
        if not isinstance(code, str) or len(code) > 128:
            return None
        with server.uow() as session:
            repo = AppsRepository(session)
            row = repo.code(sha256(code))
            if row is None or row.app_id != client.get_client_id():
                return None
            if row.used_at is not None:
                # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for
                repo.revoke_family(row.family_id, now)
                return None
            if row.expires_at <= now:
                return None
            row.used_at = now  # claimed in this transaction: a racing exchange finds it used
        if row.dpop_jkt is not None and row.dpop_jkt != self.request.dpop_jkt:
            raise InvalidDPoPError("The code is bound to another DPoP key (RFC 9449, section 10).")
        resource = self.request.payload.data.get("resource")
        if resource is not None and resource.rstrip("/") != row.resource:
            raise InvalidTargetError(f"resource must be {row.resource}")
        self.request.credential_row = row
        return _Code(row)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        return None  # already marked used when it was claimed

    def authenticate_user(self, authorization_code: _Code) -> PersonRef | None:
        with self.server.uow() as session:
            alive = AppsRepository(session).person_exists(authorization_code.row.person_id)
        return PersonRef(authorization_code.row.person_id) if alive else None


class _RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate on every use
    server: OAuthServer

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        server = self.server
        now = server.clock()
        if not isinstance(refresh_token, str) or len(refresh_token) > 128:
            return None
        with server.uow() as session:
            repo = AppsRepository(session)
            row = repo.token_by_refresh(sha256(refresh_token))
            if row is None or row.app_id != self.request.client.get_client_id():
                return None
            if row.rotated_at is not None:
                repo.revoke_family(row.family_id, now)  # RFC 9700 §4.14.2: reuse detected
                return None
            if (server.is_revoked(repo, row) or row.refresh_expires_at is None
                    or row.refresh_expires_at <= now):
                return None
            if row.jkt != self.request.dpop_jkt:
                # RFC 9449 §5: a refresh token of a public client is bound to its DPoP key; we
                # bind every client's
                raise InvalidGrantError("The refresh token is bound to another DPoP key.")
            if row.person_id is not None:
                auth = repo.authorization(row.app_id, row.person_id)
                if auth is None:
                    return None
        self.request.credential_row = row
        return _Token(row, False, now, None)

    def authenticate_user(self, refresh_token: _Token) -> PersonRef | None:
        person_id = refresh_token.row.person_id
        return PersonRef(person_id) if person_id else None

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        now = self.server.clock()
        with self.server.uow() as session:
            row = session.get(OAuthTokenRow, refresh_token.row.id)
            if row is not None:
                row.rotated_at = now
                row.revoked_at = row.revoked_at or now  # the old access token ends too

    def _validate_token_scope(self, token):  # type: ignore[no-untyped-def]
        # a refresh may narrow the scope, never widen it (RFC 6749 §6)
        scope = self.request.payload.scope
        if scope and not set(scope.split()) <= set(token.get_scope().split()):
            raise InvalidScopeError()

    def issue_token(self, user, refresh_token):  # type: ignore[no-untyped-def]
        scope = self.request.payload.scope or refresh_token.get_scope()
        return self.generate_token(user=user, scope=scope,
                                   include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)


class _PartnerGrant(grants.ClientCredentialsGrant):
    """Partners authenticate as themselves (RFC 6749 §4.4) and get a DPoP-bound token whose
    scope is bounded by their agreements in force; it names no person, so it reaches only
    people who opted in to this partner."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    server: OAuthServer

    def validate_token_request(self):  # type: ignore[no-untyped-def]
        super().validate_token_request()
        with self.server.uow() as session:
            active = AppsRepository(session).active_agreements(
                self.server.clock(), self.request.client.get_client_id())
        allowed = {t for a in active for t in a.scopes}
        asked = set((self.request.payload.scope or "").split()) or allowed
        if not allowed or not asked <= allowed:
            raise InvalidScopeError("The scope must be within this partner's agreements in "
                                    "force.")
        self.request.partner_scope = " ".join(sorted(asked))

    def create_token_response(self):  # type: ignore[no-untyped-def]
        token = self.generate_token(scope=self.request.partner_scope,
                                    include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def _token_lookup(server: OAuthServer, token_string: str, hint: str | None) -> _Token | None:
    if not isinstance(token_string, str) or len(token_string) > 128:
        return None
    now = server.clock()
    with server.uow() as session:
        repo = AppsRepository(session)
        digest = sha256(token_string)
        row = None
        if hint != "refresh_token":
            row = repo.token_by_access(digest)
        if row is None and hint != "access_token":
            row = repo.token_by_refresh(digest)
        if row is None:
            return None
        auth = repo.authorization(row.app_id, row.person_id) if row.person_id else None
        revoked = server.is_revoked(repo, row) or (row.person_id is not None and auth is None)
        return _Token(row, revoked, now, auth.scoped_id if auth else None)


class _TokenLookup:
    server: OAuthServer

    def query_token(self, token_string, token_type_hint):  # type: ignore[no-untyped-def]
        return _token_lookup(self.server, token_string, token_type_hint)


class _Revocation(_TokenLookup, RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def revoke_token(self, token: _Token, request) -> None:  # type: ignore[no-untyped-def]
        # RFC 7009 §2.1: revoking either token of a grant ends the grant's tokens
        with self.server.uow() as session:
            AppsRepository(session).revoke_family(token.row.family_id, self.server.clock())


class _Introspection(_TokenLookup, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def check_permission(self, token, client, request) -> bool:  # type: ignore[no-untyped-def]
        return token.check_client(client)  # an app introspects only its own tokens

    def introspect_token(self, token: _Token) -> dict:
        row = token.row
        return {
            "active": True,
            "client_id": row.app_id,
            "scope": row.scope,
            "token_type": "DPoP",
            "sub": token.scoped_id,  # the app-scoped id, never the internal one
            "aud": row.resource,
            "iss": self.server.issuer,
            "iat": int(row.issued_at.timestamp()),
            "exp": int(row.expires_at.timestamp()),
            "cnf": {"jkt": row.jkt},  # RFC 9449 §6.2
        }
