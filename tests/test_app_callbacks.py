"""Deletion callbacks: removing an app, or being erased, tells the app (by app-scoped id, with
a signature it can check) so it deletes what it holds; failed deliveries are retried; and the
callback URL cannot point inside the operator's network."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from palisade.domain.errors import InvalidInput
from palisade.services.apps.callbacks import SIGNATURE_HEADER, signing_key
from tests.apps_world import REDIRECT, AppWorld


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[dict, str]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.calls.append((json.loads(body), self.headers[SIGNATURE_HEADER]))
                receiver.bodies.append(body)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.bodies: list[bytes] = []
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/deleted"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    app_world.platform.apps.allow_private_callbacks = True  # the receiver is on loopback
    return app_world


def register(world: AppWorld, url: str) -> tuple[str, str | None, str]:
    r = world.platform.apps.register(
        name="Cal", redirect_uris=[REDIRECT],
        requested={"name": ["personalisation"]}, privacy_policy_url="https://cal.example/p",
        deletion_callback_url=url)
    return r.client_id, r.client_secret, r.callback_signing_secret


def test_removal_and_erasure_are_called_back_signed(world: AppWorld, receiver: Receiver) -> None:
    client_id, secret, signing_secret = register(world, receiver.url)
    ada, bob = world.person("Ada"), world.person("Bob")
    ids = {}
    for who in (ada, bob):
        token = world.issue(who, client_id, secret, "name:personalisation")
        ids[who.id] = world.call("/me", token).json()["id"]
    world.platform.apps.remove(ada.id, client_id)
    world.platform.maintenance.erase(bob.id)
    report = world.platform.callbacks.deliver_due()
    assert report.delivered >= 2
    mine = [(body, sig, raw) for (body, sig), raw in zip(receiver.calls, receiver.bodies,
                                                          strict=True)
            if body["user_id"] in ids.values()]
    assert sorted((b["user_id"], b["reason"]) for b, _s, _r in mine) == sorted(
        [(ids[ada.id], "removed"), (ids[bob.id], "erased")])
    import base64
    key = base64.urlsafe_b64decode(signing_secret + "=" * (-len(signing_secret) % 4))
    assert key == signing_key(world.platform.keyrings.get().secrets["outbox"], client_id)
    for _body, sig, raw in mine:
        assert hmac.compare_digest(sig, "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest())
    assert world.platform.callbacks.deliver_due().delivered == 0  # each is delivered once


def test_failed_deliveries_are_retried_with_backoff(world: AppWorld, receiver: Receiver,
                                                    clock) -> None:  # type: ignore[no-untyped-def]
    client_id, secret, _ = register(world, receiver.url)
    ada = world.person("Ada")
    world.issue(ada, client_id, secret, "name:personalisation")
    world.platform.apps.remove(ada.id, client_id)
    receiver.status = 503
    assert world.platform.callbacks.deliver_due().failed >= 1
    assert world.platform.callbacks.deliver_due().failed == 0  # not due again yet
    receiver.status = 200
    clock.advance(minutes=1, seconds=1)
    assert world.platform.callbacks.deliver_due().delivered >= 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "https://127.0.0.1/x",
                                 "https://10.1.2.3/x", "https://[::1]/x",
                                 "https://localhost/x", "https://169.254.169.254/latest",
                                 "http://cal.example/x"])
def test_callbacks_cannot_target_the_operators_network(app_world: AppWorld, url: str) -> None:
    with pytest.raises(InvalidInput):
        register(app_world, url)
