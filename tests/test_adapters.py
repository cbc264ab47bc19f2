"""Adapters against real peers: SMTP delivery to a real SMTP server (aiosmtpd), the SMS
webhook to a real HTTP server (signature checked), Redis counters shared by clients, the
trusted-proxy rule, and the operations endpoints."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pydantic import ValidationError
from aiosmtpd.controller import Controller
from starlette.requests import Request

from palisade.adapters.delivery.codes import (
    DeliveryFailed,
    RoutedDelivery,
    SmtpDelivery,
    WebhookSmsDelivery,
)
from palisade.adapters.limits.counters import MemoryRateLimiter, RedisRateLimiter
from palisade.config import Settings
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.entrypoints.http.dependencies import client_address
from tests.conftest import REDIS_URL, free_port

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_smtp_delivery_reaches_a_real_smtp_server() -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpDelivery("127.0.0.1", port, "Palisade <no-reply@example.net>")
        smtp.send(None, Identifier(IdentifierKind.EMAIL, "ada@example.org"),  # type: ignore[arg-type]
                  "Your Palisade code is 123456.", NOW)
    finally:
        controller.stop()
    (sender, recipients, content), = inbox.messages
    assert sender == "no-reply@example.net" and recipients == ["ada@example.org"]
    assert b"Your Palisade code is 123456." in content


def test_smtp_failure_is_a_delivery_error_not_a_crash() -> None:
    smtp = SmtpDelivery("127.0.0.1", free_port(), "x@example.net")  # nothing listens there
    with pytest.raises(DeliveryFailed):
        smtp.send(None, Identifier(IdentifierKind.EMAIL, "a@example.org"), "t", NOW)  # type: ignore[arg-type]


def test_sms_webhook_posts_a_signed_request() -> None:
    received: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((body, self.headers["x-palisade-signature"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    key = b"k" * 32
    try:
        sms = WebhookSmsDelivery(f"http://127.0.0.1:{server.server_port}/sms", key)
        email = SmtpDelivery("127.0.0.1", free_port(), "x@example.net")
        RoutedDelivery(email=email, sms=sms).send(
            None, Identifier(IdentifierKind.PHONE, "+12015550123"), "code 654321", NOW)  # type: ignore[arg-type]
    finally:
        server.shutdown()
    (body, signature), = received
    assert json.loads(body) == {"to": "+12015550123", "text": "code 654321",
                                "sent_at": NOW.isoformat()}
    expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)


def test_memory_limiter_windows() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(lambda: now[0])
    assert [limiter.hit("k", 2, 60).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("k", 2, 60).retry_after == 60
    now[0] += 60
    assert limiter.hit("k", 2, 60).allowed


@pytest.mark.redis
def test_redis_limiter_is_one_budget_for_every_client(redis_client) -> None:
    import redis as redis_lib

    redis_client.delete("palisade:limit:test-shared")
    # four separate connections, as four server processes would have
    clients = [RedisRateLimiter(redis_lib.Redis.from_url(REDIS_URL)) for _ in range(4)]
    results = [clients[i % 4].hit("test-shared", 10, 60) for i in range(40)]
    assert sum(r.allowed for r in results) == 10
    assert all(0 < r.retry_after <= 60 for r in results if not r.allowed)
    assert redis_client.pttl("palisade:limit:test-shared") > 0  # the window expires


class _Platform:
    def __init__(self, trusted: list[str]) -> None:
        self.settings = Settings(_env_file=None, trusted_proxies=trusted)


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize("trusted,peer,forwarded,expected", [
    ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no trusted proxies: header ignored
    (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # peer not a proxy
    (["10.0.0.0/8"], "10.1.2.3", "198.51.100.1", "198.51.100.1"),
    # a client prepending a fake hop does not win: the rightmost untrusted hop does
    (["10.0.0.0/8"], "10.1.2.3", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
    (["10.0.0.0/8"], "10.1.2.3", "198.51.100.1, 10.9.9.9", "198.51.100.1"),
    (["10.0.0.0/8"], "10.1.2.3", "not-an-ip", "10.1.2.3"),
    (["10.0.0.0/8", "::1/128"], "::1", "2001:db8::5", "2001:db8::5"),
])
def test_trusted_proxy_rule(trusted, peer, forwarded, expected) -> None:
    assert client_address(_request(peer, forwarded), _Platform(trusted)) == expected  # type: ignore[arg-type]


def test_an_invalid_trusted_proxy_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="not an IP network"):
        Settings(_env_file=None, trusted_proxies=["10.0.0.0/8", "proxy.internal"])


def test_operations_endpoints_and_headers(platform) -> None:
    from fastapi.testclient import TestClient

    from palisade.entrypoints.http.app import create_app
    from tests.conftest import register

    person = register(platform)
    with TestClient(create_app(platform)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        r = client.get(f"/v1/people/{person.id}/profile",
                       headers={"authorization": f"Bearer {person.token}"})
        assert r.status_code == 200
        for header in ("x-content-type-options", "referrer-policy", "cache-control"):
            assert header in r.headers
        metrics = client.get("/metrics").text
        assert 'route="/v1/people/{person_id}/profile"' in metrics
        assert person.id not in metrics  # templates, never ids
        problem = client.get("/v1/problems/invalid-identifier").json()
        assert problem["title"]
        assert client.get("/v1/problems/nonsense").status_code == 404


def test_an_unexpected_error_is_a_problem_and_its_message_is_never_printed(platform, capsys
                                                                           ) -> None:
    from fastapi.testclient import TestClient

    from palisade.entrypoints.http.app import create_app

    app = create_app(platform)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("leaked +12015550123 in an exception message")

    with TestClient(app) as client:  # raise_server_exceptions stays on: nothing may escape
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "+12015550123" not in response.text
    captured = capsys.readouterr()
    assert "+12015550123" not in captured.out + captured.err
    assert "RuntimeError" in captured.out + captured.err  # the type is logged, for operators


def test_external_delivery_needs_a_webhook(settings) -> None:
    from palisade.bootstrap import build
    from palisade.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="SMS_WEBHOOK_URL"):
        build(settings.model_copy(update={"delivery": "external"}))
