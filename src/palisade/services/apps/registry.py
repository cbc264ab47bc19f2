"""Registering apps, people's view of the apps they authorized, and O(1) token revocation."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from palisade.adapters.passwords import Passwords
from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import AccessEventRow, AppRow
from palisade.domain.apps.grants import Grant, declaration, grants_from_declaration, parse_grant
from palisade.domain.errors import InvalidInput, NotFound
from palisade.services.apps.callbacks import queue as queue_callbacks
from palisade.services.apps.callbacks import signing_secret
from palisade.services.clock import Clock

APP_NOT_FOUND = "No such app."
MAX_REDIRECT_URIS = 10


@dataclass(frozen=True)
class RegisteredApp:
    client_id: str
    client_secret: str | None  # shown once; only its argon2id hash is kept
    callback_signing_secret: str  # verifies deletion callbacks (derived, never stored)


@dataclass(frozen=True)
class AuthorizedApp:
    app_id: str
    name: str
    kind: str
    grants: list[Grant]
    authorized_at: datetime
    last_used_at: datetime
    non_public_access_until: datetime


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str, redirect: bool = False) -> str:
    """https only, except plain http to a loopback host (RFC 8252 §7.3, and local testing)."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidInput(f"{what} must be a URL of at most 2048 characters.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidInput(f"{what} is not a URL.") from None
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise InvalidInput(f"{what} must be an https:// URL.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InvalidInput(f"{what} must be https:// (plain http only to a loopback address).")
    if parts.username or parts.password:
        raise InvalidInput(f"{what} must not carry credentials.")
    if redirect and parts.fragment:
        raise InvalidInput(f"{what} must not have a fragment (RFC 6749 §3.1.2).")
    return url


def check_callback_url(url: str, allow_private: bool) -> str:
    """Palisade itself calls this URL, so it must not point inside the operator's network
    (server-side request forgery): https to a public host, unless the operator allows private
    addresses (for local development and tests)."""
    check_url(url, "deletion_callback_url")
    host = urlsplit(url).hostname or ""
    if allow_private:
        return url
    if urlsplit(url).scheme != "https" or host == "localhost" or host.endswith(".localhost"):
        raise InvalidInput("deletion_callback_url must be https:// to a public host.")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return url  # a name; resolved at delivery
    if not address.is_global:
        raise InvalidInput("deletion_callback_url must be https:// to a public host.")
    return url


class AppRegistry:
    def __init__(self, uow: UnitOfWork, passwords: Passwords, clock: Clock,
                 access_expiry: timedelta, outbox_secret: Callable[[], bytes],
                 allow_private_callbacks: bool = False) -> None:
        self.outbox_secret = outbox_secret
        self.allow_private_callbacks = allow_private_callbacks
        self.uow = uow
        self.passwords = passwords
        self.clock = clock
        self.access_expiry = access_expiry

    def register(self, *, name: str, redirect_uris: list[str], requested: dict[str, list[str]],
                 privacy_policy_url: str, deletion_callback_url: str,
                 owner_id: str | None = None, confidential: bool = True,
                 kind: str = "app") -> RegisteredApp:
        name = (name or "").strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("name must be 1 to 200 characters.")
        if not redirect_uris and kind == "app":
            raise InvalidInput("An app needs at least one redirect URI.")
        if len(redirect_uris) > MAX_REDIRECT_URIS:
            raise InvalidInput(f"At most {MAX_REDIRECT_URIS} redirect URIs.")
        uris = [check_url(u, "redirect URI", redirect=True) for u in redirect_uris]
        grants = grants_from_declaration(requested)
        if not grants and kind == "app":  # a partner's scope comes from its agreements
            raise InvalidInput("Declare at least one field with a purpose.")
        check_url(privacy_policy_url, "privacy_policy_url")
        check_callback_url(deletion_callback_url, self.allow_private_callbacks)
        client_id = ("prt_" if kind == "partner" else "app_") + secrets.token_urlsafe(12)
        secret = secrets.token_urlsafe(32) if confidential or kind == "partner" else None
        now = self.clock()
        with self.uow() as session:
            AppsRepository(session).add_app(AppRow(
                id=client_id, kind=kind, name=name, owner_id=owner_id,
                secret_hash=self.passwords.hash(secret) if secret else None,
                redirect_uris=uris, requested=declaration(grants),
                privacy_policy_url=privacy_policy_url,
                deletion_callback_url=deletion_callback_url, created_at=now,
                last_activity_at=now, suspended_at=None, suspended_reason=None))
        return RegisteredApp(client_id, secret, signing_secret(self.outbox_secret(), client_id))

    def get(self, app_id: str, owner_id: str | None = None) -> AppRow:
        with self.uow() as session:
            row = AppsRepository(session).app(app_id)
            if row is None or (owner_id is not None and row.owner_id != owner_id):
                raise NotFound(APP_NOT_FOUND)
            return row

    def list(self, owner_id: str | None = None, kind: str | None = None) -> list[AppRow]:
        with self.uow() as session:
            return AppsRepository(session).apps(owner_id=owner_id, kind=kind)

    def suspend(self, app_id: str, reason: str) -> None:
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            row = repo.app(app_id)
            if row is None:
                raise NotFound(APP_NOT_FOUND)
            row.suspended_at = now
            row.suspended_reason = reason[:500]
            repo.set_revocation("app", app_id, now)

    # -- revocation at scale: one row write each, effective for every process's next request
    def revoke_all_tokens(self, *, app_id: str | None = None, person_id: str | None = None,
                          everyone: bool = False) -> datetime:
        if sum((app_id is not None, person_id is not None, everyone)) != 1:
            raise InvalidInput("Revoke the tokens of one app, of one person, or of everyone.")
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            if app_id is not None:
                if repo.app(app_id) is None:
                    raise NotFound(APP_NOT_FOUND)
                repo.set_revocation("app", app_id, now)
            elif person_id is not None:
                repo.set_revocation("person", person_id, now)
            else:
                repo.set_revocation("all", "*", now)
        return now

    # -- the person's side
    def authorized_apps(self, person_id: str) -> list[AuthorizedApp]:
        with self.uow() as session:
            rows = AppsRepository(session).authorizations_of_person(person_id)
            return [AuthorizedApp(app.id, app.name, app.kind,
                                  sorted(parse_grant(g) for g in auth.grants),
                                  auth.created_at, auth.last_used_at,
                                  auth.last_used_at + self.access_expiry)
                    for auth, app in rows]

    def remove(self, person_id: str, app_id: str) -> None:
        """The person removes the app: the app is owed a deletion callback, the authorization
        (and so the app's id for them) is gone, and every token the app holds for them stops
        working now."""
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            auth, app = repo.authorization(app_id, person_id), repo.app(app_id)
            if auth is None or app is None:
                raise NotFound(APP_NOT_FOUND)
            queue_callbacks(repo, person_id, "removed", now, app_id=app_id)
            repo.delete_authorization(app_id, person_id)
            repo.revoke_tokens_of(app_id, person_id, now)
            # the removal goes into the person's access log: "removed" apps stay listed
            session.add(AccessEventRow(
                person_id=person_id, kind="app_removed", actor_kind=app.kind, actor_id=app_id,
                fields=sorted({parse_grant(g).field.value for g in auth.grants}),
                purpose="removed_by_person", outcome="removed", route="", at=now))

    def renew(self, person_id: str, app_id: str) -> None:
        """Renew an app's access to non-public data for another expiry period."""
        now = self.clock()
        with self.uow() as session:
            repo = AppsRepository(session)
            if repo.authorization(app_id, person_id) is None:
                raise NotFound(APP_NOT_FOUND)
            repo.touch_authorization(app_id, person_id, now)
