"""Deletion callbacks: when a person removes an app or partner, or is erased, the app is told
(by the person's app-scoped id) so it can delete what it holds. Queued in the same transaction
as the removal, delivered with retries, signed so the app can tell them from forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select

from palisade.adapters.storage.apps_repository import AppsRepository
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.tables import AppAuthorizationRow, AppCallbackRow, AppRow
from palisade.services.clock import Clock

MAX_ATTEMPTS = 10
SIGNATURE_HEADER = "Palisade-Signature"


def signing_key(outbox_secret: bytes, app_id: str) -> bytes:
    """The app's callback signing key, derived (never stored): shown to the developer once at
    registration, re-derivable by the operator."""
    return hmac.new(outbox_secret, b"palisade/deletion-callback/v1:" + app_id.encode(),
                    hashlib.sha256).digest()


def signing_secret(outbox_secret: bytes, app_id: str) -> str:
    return base64.urlsafe_b64encode(signing_key(outbox_secret, app_id)).rstrip(b"=").decode()


def signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def queue(repo: AppsRepository, person_id: str, reason: str, now, app_id: str | None = None
          ) -> int:  # type: ignore[no-untyped-def]
    """Queue a callback for each app the person authorized (or just `app_id`). Call before
    the authorizations are deleted, in the same transaction."""
    stmt = select(AppAuthorizationRow).where(AppAuthorizationRow.person_id == person_id)
    if app_id is not None:
        stmt = stmt.where(AppAuthorizationRow.app_id == app_id)
    rows = list(repo.session.scalars(stmt))
    repo.session.add_all([AppCallbackRow(app_id=a.app_id, scoped_id=a.scoped_id, reason=reason,
                                         created_at=now, attempts=0, next_attempt_at=now,
                                         delivered_at=None, last_error=None) for a in rows])
    return len(rows)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


class DeletionCallbacks:
    def __init__(self, uow: UnitOfWork, outbox_secret: Callable[[], bytes], clock: Clock,
                 client: httpx.Client | None = None) -> None:
        self.uow = uow
        self.outbox_secret = outbox_secret
        self.clock = clock
        self.client = client or httpx.Client(timeout=10, follow_redirects=False)

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        now = self.clock()
        with self.uow() as session:
            due = session.execute(
                select(AppCallbackRow, AppRow.deletion_callback_url)
                .join(AppRow, AppRow.id == AppCallbackRow.app_id)
                .where(AppCallbackRow.delivered_at.is_(None),
                       AppCallbackRow.next_attempt_at <= now,
                       AppCallbackRow.attempts < MAX_ATTEMPTS)
                .order_by(AppCallbackRow.id).limit(limit)).all()
            jobs = [(row.id, row.app_id, row.scoped_id, row.reason, row.created_at, url)
                    for row, url in due]
        delivered = failed = 0
        for row_id, app_id, scoped_id, reason, created_at, url in jobs:
            body = json.dumps({"type": "palisade.deletion", "user_id": scoped_id,
                               "reason": reason, "requested_at": created_at.isoformat()},
                              separators=(",", ":")).encode()
            key = signing_key(self.outbox_secret(), app_id)
            error = None
            try:
                response = self.client.post(url, content=body, headers={
                    "content-type": "application/json", SIGNATURE_HEADER: signature(key, body)})
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            with self.uow() as session:
                row = session.get(AppCallbackRow, row_id)
                if row is None:
                    continue
                if error is None:
                    row.delivered_at = self.clock()
                    delivered += 1
                else:  # retry with exponential backoff: 1, 2, 4 ... minutes
                    row.attempts += 1
                    row.last_error = error
                    row.next_attempt_at = self.clock() + timedelta(minutes=2 ** (row.attempts - 1))
                    failed += 1
        return DeliveryReport(delivered, failed)
