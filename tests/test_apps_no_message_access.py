"""No API anywhere reads, writes or deletes private messages for a third party (incident 3).

The test walks every operation in the OpenAPI document with an app's valid DPoP-bound token
(and a fresh proof for that exact method and URL), with every path parameter set to a real id
(the conversation, the message's author, the app): nothing but the Graph API and the public
protocol endpoints answers 2xx, nothing changes in the conversation, and the message text
appears in no response. The Graph API itself has no route or field for messages."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from palisade.adapters.storage.tables import Message
from palisade.domain.apps.grants import AppField, Purpose
from tests.apps_world import BASE, AppWorld
from tests.conftest import befriend

SECRET_TEXT = "the combination is 4-8-15-16-23-42"
PUBLIC = {"/healthz", "/v1/problems/{code}", "/.well-known/oauth-authorization-server",
          "/v1/transparency/head",  # the access log's signed head: hashes only
          "/oauth/authorize"}  # the last answers a person with the sign-in page


@pytest.fixture
def world(app_world: AppWorld) -> AppWorld:
    return app_world


def test_no_route_gives_an_app_private_messages(world: AppWorld) -> None:
    every = {f.value: [p.value for p in Purpose] for f in AppField}
    client_id, secret = world.app(every)
    ada, bob = world.person("Ada"), world.person("Bob")
    befriend(world.platform, ada, bob)
    conversation = world.platform.messaging.open(ada.id, bob.id)
    message = world.platform.messaging.send(bob.id, conversation.id, SECRET_TEXT)
    scope = " ".join(f"{f}:{p}" for f, ps in every.items() for p in ps)
    token = world.issue(ada, client_id, secret, scope)

    values = {"conversation_id": conversation.id, "person_id": bob.id, "app_id": client_id,
              "partner_id": client_id, "agreement_id": "x", "identifier_id": "x",
              "request_id": "x", "code": "not-found"}
    openapi = world.client.get("/openapi.json").json()
    answered = []
    for path, methods in openapi["paths"].items():
        assert "message" not in path or not path.startswith("/v1/graph")
        url_path = path.format(**values)
        for method in methods:
            for scheme in ("DPoP", "Bearer"):
                proof = token.key.proof(method.upper(), BASE + url_path, token.access_token,
                                        iat=world.now())
                r = world.client.request(
                    method.upper(), url_path, json={} if method in ("post", "put", "patch")
                    else None, headers={"Authorization": f"{scheme} {token.access_token}",
                                        "DPoP": proof, "Palisade-Purpose": "research"})
                assert SECRET_TEXT not in r.text, (method, path)
                assert r.status_code < 500, (method, path, r.text)
                if r.status_code < 300:
                    answered.append((method, path, scheme))
    assert {p for _m, p, _s in answered} <= PUBLIC | {"/v1/graph/me", "/v1/graph/me/friends",
                                                      "/v1/graph/people/{person_id}"}
    assert not [a for a in answered if a[1].startswith("/v1/graph") and a[2] == "Bearer"]
    assert len(openapi["paths"]) >= 40
    with world.platform.uow() as session:  # nothing written, nothing deleted
        rows = session.scalars(sa.select(Message).where(
            Message.conversation_id == conversation.id)).all()
    assert [m.id for m in rows] == [message.id]
    assert world.platform.messaging.read(ada.id, conversation.id)[0].body == SECRET_TEXT
