"""Adapters that deliver a short text to a phone number or email address.

`OutboxDelivery` (development) keeps the text in the database, sealed under the keyring's
outbox key, for `palisade outbox` to show. `SmtpDelivery` sends email; `WebhookSmsDelivery`
POSTs SMS to a provider's HTTP endpoint, signed with HMAC-SHA-256 so the receiver can tell
it came from us. `RoutedDelivery` picks one by the identifier's kind.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

import httpx

from palisade.adapters.crypto.envelope import open_sealed, seal
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import OutboxRow
from palisade.domain.identifiers import Identifier, IdentifierKind


class DeliveryFailed(Exception):
    pass


class CodeDelivery(Protocol):
    def send(self, repo: Repository, to: Identifier, text: str, now: datetime) -> None: ...


_OUTBOX_CONTEXT = b"palisade/outbox/v1"


class OutboxDelivery:
    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def send(self, repo: Repository, to: Identifier, text: str, now: datetime) -> None:
        payload = json.dumps({"to": to.value, "text": text}).encode()
        repo.add(OutboxRow(channel=to.kind.value, sealed=seal(self._key(), payload,
                                                              _OUTBOX_CONTEXT), created_at=now))

    def read(self, repo: Repository, limit: int = 20) -> list[dict[str, str]]:
        out = []
        for row in repo.outbox(limit):
            doc = json.loads(open_sealed(self._key(), row.sealed, _OUTBOX_CONTEXT))
            out.append({"id": str(row.id), "channel": row.channel, "to": doc["to"],
                        "text": doc["text"], "at": row.created_at.isoformat()})
        return out


class SmtpDelivery:
    def __init__(self, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, repo: Repository, to: Identifier, text: str, now: datetime) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to.value
        msg["Subject"] = text.split("\n", 1)[0][:120]
        msg.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"email delivery failed: {type(exc).__name__}") from None


class WebhookSmsDelivery:
    def __init__(self, url: str, signing_key: bytes, client: httpx.Client | None = None) -> None:
        self.url = url
        self._key = signing_key
        self._client = client or httpx.Client(timeout=10)

    def send(self, repo: Repository, to: Identifier, text: str, now: datetime) -> None:
        body = json.dumps({"to": to.value, "text": text, "sent_at": now.isoformat()}).encode()
        signature = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        try:
            response = self._client.post(
                self.url, content=body,
                headers={"content-type": "application/json",
                         "x-palisade-signature": f"sha256={signature}"},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"SMS delivery failed: {type(exc).__name__}") from None


class RoutedDelivery:
    def __init__(self, email: CodeDelivery, sms: CodeDelivery) -> None:
        self._by_kind = {IdentifierKind.EMAIL: email, IdentifierKind.PHONE: sms}

    def send(self, repo: Repository, to: Identifier, text: str, now: datetime) -> None:
        self._by_kind[to.kind].send(repo, to, text, now)
