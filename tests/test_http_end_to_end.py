"""The whole API against a real `palisade serve` process, over HTTP only (httpx).

One live server (SQLite in a temporary home) serves the module. Codes are read from the encrypted
development outbox through a Platform built on the live server's own settings. Every request the
module makes, and every problem document it gets back, is recorded, so the last tests can
check that the OpenAPI document lists each route used and that each problem `type` resolves.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest

from palisade.bootstrap import Platform
from tests.conftest import LiveServer, last_code, unique_phone

PROBLEM_JSON = "application/problem+json"

# (METHOD, path as sent) of every request, and every problem document received.
USED: set[tuple[str, str]] = set()
PROBLEMS: list[dict] = []


def _record_request(request: httpx.Request) -> None:
    USED.add((request.method, request.url.path))


def _record_response(response: httpx.Response) -> None:
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        response.read()
        PROBLEMS.append(response.json())


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30, event_hooks={
            "request": [_record_request], "response": [_record_response]}) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pretty(phone: str) -> str:
    """'+12015550123' -> '+1 (201) 555-0123': same number, different spelling."""
    assert re.fullmatch(r"\+1\d{10}", phone), phone
    return f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"


def national(phone: str) -> str:
    """'+12015550123' -> '201.555.0123' (no country code: the default region, US, applies)."""
    return f"{phone[2:5]}.{phone[5:8]}.{phone[8:]}"


def sign_in_by_code(http: httpx.Client, live_platform: Platform, identifier: str,
                    canonical: str | None = None) -> dict:
    """Ask for a code for `identifier`, read it from the outbox (addressed to the canonical
    form) and sign in with it. Returns the SessionOut document."""
    r = http.post("/v1/auth/codes", json={"identifier": identifier})
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"sent_to", "expires_in_seconds"}
    code = last_code(live_platform, canonical or identifier)
    r = http.post("/v1/auth/sessions", json={"identifier": identifier, "code": code})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["token"].startswith("pls_") and doc["token_type"] == "Bearer"
    return doc


class Person:
    def __init__(self, doc: dict, phone: str) -> None:
        self.id: str = doc["person_id"]
        self.token: str = doc["token"]
        self.phone = phone

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


def new_person(http: httpx.Client, live_platform: Platform) -> Person:
    phone = unique_phone()
    doc = sign_in_by_code(http, live_platform, phone)
    assert doc["created"] is True
    return Person(doc, phone)


def befriend(http: httpx.Client, a: Person, b: Person) -> None:
    """a asks, b accepts the incoming request by id."""
    r = http.post("/v1/friend-requests", json={"person_id": b.id}, headers=a.auth)
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    request_id = r.json()["request_id"]
    r = http.get("/v1/friend-requests", params={"direction": "outgoing"}, headers=a.auth)
    assert [x["id"] for x in r.json()] == [request_id]
    r = http.get("/v1/friend-requests", headers=b.auth)  # incoming by default
    assert r.status_code == 200
    assert [(x["id"], x["from_person"], x["to_person"]) for x in r.json()] == \
        [(request_id, a.id, b.id)]
    r = http.post(f"/v1/friend-requests/{request_id}/accept", headers=b.auth)
    assert r.status_code == 204, r.text


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    doc = r.json()
    assert {"type", "title", "status", "detail"} <= set(doc)
    assert doc["status"] == status
    if code is not None:
        assert doc["type"] == f"/v1/problems/{code}"
    return doc


def unknown_id() -> str:
    return secrets.token_urlsafe(16)  # the shape of a real id, never issued


# --------------------------------------------------------------------------------------------


def test_one_phone_in_different_spellings_is_one_person(http: httpx.Client,
                                                        live_platform: Platform) -> None:
    phone = unique_phone()
    first = sign_in_by_code(http, live_platform, phone)
    assert first["created"] is True

    again = sign_in_by_code(http, live_platform, pretty(phone), canonical=phone)
    assert again["created"] is False
    assert again["person_id"] == first["person_id"]

    third = sign_in_by_code(http, live_platform, national(phone), canonical=phone)
    assert (third["person_id"], third["created"]) == (first["person_id"], False)
    assert len({first["token"], again["token"], third["token"]}) == 3

    r = http.get("/v1/me/identifiers", headers=bearer(third["token"]))
    assert r.status_code == 200
    assert [(i["kind"], i["value"]) for i in r.json()] == [("phone", phone)]

    # Someone else's number is someone else.
    other = sign_in_by_code(http, live_platform, unique_phone())
    assert other["created"] is True and other["person_id"] != first["person_id"]


def test_audiences_decide_what_a_stranger_and_then_a_friend_see(http: httpx.Client,
                                                               live_platform: Platform) -> None:
    ada, bob = new_person(http, live_platform), new_person(http, live_platform)
    r = http.patch("/v1/me/profile", headers=ada.auth, json={
        "fields": {"name": "Ada Example", "birthday": "1990-12-10", "location": "London",
                   "bio": "Engines", "relationship_status": "single"},
        "audiences": {"location": "everyone", "bio": "friends_of_friends"}})
    assert r.status_code == 200, r.text
    own = r.json()
    assert own["fields"] == {"name": "Ada Example", "phone": ada.phone, "email": None,
                             "birthday": "1990-12-10", "location": "London", "bio": "Engines",
                             "relationship_status": "single", "photo_url": None}
    assert own["audiences"]["location"] == "everyone"
    assert own["audiences"]["birthday"] == "friends"  # the default was kept
    assert http.get("/v1/me/profile", headers=ada.auth).json() == own

    r = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"person_id": ada.id, "relationship": "stranger",
                        "fields": {"name": "Ada Example", "location": "London"}}

    befriend(http, bob, ada)
    r = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    assert r.json() == {"person_id": ada.id, "relationship": "friend",
                        "fields": {"name": "Ada Example", "location": "London",
                                   "bio": "Engines", "birthday": "1990-12-10",
                                   "relationship_status": "single"}}
    assert ada.phone not in r.text  # identifiers are only_me by default

    r = http.get("/v1/friends", headers=bob.auth)
    assert r.status_code == 200
    assert r.json() == {"friends": [{"person_id": ada.id, "name": "Ada Example"}],
                        "next_after": None}
    r = http.get("/v1/friends", headers=ada.auth)
    assert [f["person_id"] for f in r.json()["friends"]] == [bob.id]

    # Narrowing an audience takes effect at once, for the friend too.
    r = http.patch("/v1/me/profile", headers=ada.auth, json={"audiences": {"birthday": "only_me"}})
    assert r.status_code == 200
    r = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    assert "birthday" not in r.json()["fields"]

    # Unfriending takes the friends fields away again.
    r = http.delete(f"/v1/friends/{bob.id}", headers=ada.auth)
    assert r.status_code == 204
    r = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    assert r.json()["relationship"] == "stranger"
    assert set(r.json()["fields"]) == {"name", "location"}


def test_view_as_follows_audience_changes_and_mints_nothing(http: httpx.Client,
                                                            live_platform: Platform) -> None:
    ada, friend, stranger = (new_person(http, live_platform) for _ in range(3))
    befriend(http, friend, ada)
    r = http.patch("/v1/me/profile", headers=ada.auth, json={
        "fields": {"name": "Ada V", "birthday": "1991-01-02", "bio": "Hello"}})
    assert r.status_code == 200

    def sessions(p: Person) -> list[dict]:
        r = http.get("/v1/me/sessions", headers=p.auth)
        assert r.status_code == 200
        return r.json()

    before = {p.id: sessions(p) for p in (ada, friend, stranger)}
    assert all(len(s) == 1 for s in before.values())

    def view_as(**params: str) -> dict:
        r = http.get("/v1/me/view-as", params=params, headers=ada.auth)
        assert r.status_code == 200, r.text
        assert "token" not in r.json() and "pls_" not in r.text
        assert "set-cookie" not in r.headers and "authorization" not in r.headers
        return r.json()

    everyone = view_as(audience="everyone")
    assert everyone["viewed_as"] == "everyone"
    assert everyone["fields"] == {"name": "Ada V"}
    friends = view_as(audience="friends")
    assert friends["fields"] == {"name": "Ada V", "birthday": "1991-01-02", "bio": "Hello"}
    assert view_as(person_id=friend.id)["fields"] == friends["fields"]
    assert view_as(person_id=friend.id)["viewed_as"] == "person"
    assert view_as(person_id=stranger.id)["fields"] == everyone["fields"]
    assert view_as(person_id=unknown_id())["fields"] == everyone["fields"]
    assert view_as(person_id=ada.id)["fields"] == everyone["fields"]  # not a way to see "self"

    # The preview is what the real readers get.
    assert http.get(f"/v1/people/{ada.id}/profile",
                    headers=friend.auth).json()["fields"] == friends["fields"]
    assert http.get(f"/v1/people/{ada.id}/profile",
                    headers=stranger.auth).json()["fields"] == everyone["fields"]

    # An audience change shows up in View As at once, widening and narrowing.
    http.patch("/v1/me/profile", headers=ada.auth,
               json={"audiences": {"birthday": "everyone", "name": "friends"}})
    assert view_as(audience="everyone")["fields"] == {"birthday": "1991-01-02"}
    assert view_as(person_id=stranger.id)["fields"] == {"birthday": "1991-01-02"}
    assert view_as(audience="friends")["fields"] == friends["fields"]
    http.patch("/v1/me/profile", headers=ada.auth, json={"audiences": {"bio": "only_me"}})
    assert view_as(audience="friends")["fields"] == {"name": "Ada V", "birthday": "1991-01-02"}
    assert view_as(person_id=friend.id)["fields"] == {"name": "Ada V",
                                                      "birthday": "1991-01-02"}

    for bad in ({}, {"audience": "only_me"}, {"audience": "everyone", "person_id": friend.id},
                {"audience": "nobody"}):
        assert_problem(http.get("/v1/me/view-as", params=bad, headers=ada.auth), 422)

    # No session was created for anyone, and nobody's sessions changed.
    after = {p.id: sessions(p) for p in (ada, friend, stranger)}
    assert [[s["id"] for s in after[k]] for k in after] == \
        [[s["id"] for s in before[k]] for k in before]


def test_conversation_is_for_its_two_participants_only(http: httpx.Client,
                                                       live_platform: Platform) -> None:
    ada, bob, eve = (new_person(http, live_platform) for _ in range(3))
    befriend(http, ada, bob)
    befriend(http, eve, ada)  # eve is a friend of both...
    befriend(http, eve, bob)  # ...and still not in their conversation

    r = http.post("/v1/conversations", json={"person_id": bob.id}, headers=ada.auth)
    assert r.status_code == 201, r.text
    conv = r.json()
    assert conv["with_person"] == bob.id and conv["disappearing_seconds"] is None
    r = http.post("/v1/conversations", json={"person_id": ada.id}, headers=bob.auth)
    assert r.json()["id"] == conv["id"] and r.json()["with_person"] == ada.id
    cid = conv["id"]

    r = http.post(f"/v1/conversations/{cid}/messages", json={"body": "first, kept"},
                  headers=ada.auth)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["expires_at"] is None and first["sender_id"] == ada.id

    r = http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": 3600},
                   headers=bob.auth)
    assert r.status_code == 200 and r.json()["disappearing_seconds"] == 3600
    r = http.post(f"/v1/conversations/{cid}/messages", json={"body": "second, disappears"},
                  headers=bob.auth)
    second = r.json()
    assert r.status_code == 201 and second["expires_at"] is not None

    for reader in (ada, bob):
        r = http.get(f"/v1/conversations/{cid}/messages", headers=reader.auth)
        assert r.status_code == 200
        assert [(m["id"], m["sender_id"], m["body"]) for m in r.json()] == \
            [(first["id"], ada.id, "first, kept"), (second["id"], bob.id, "second, disappears")]
        assert [m["expires_at"] is None for m in r.json()] == [True, False]
    r = http.get(f"/v1/conversations/{cid}/messages", params={"after": first["id"]},
                 headers=ada.auth)
    assert [m["id"] for m in r.json()] == [second["id"]]
    r = http.get("/v1/conversations", headers=ada.auth)
    assert [(c["id"], c["disappearing_seconds"]) for c in r.json()] == [(cid, 3600)]

    assert_problem(http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": 1},
                              headers=ada.auth), 422)
    r = http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": 0},
                   headers=ada.auth)
    assert r.status_code == 200 and r.json()["disappearing_seconds"] is None

    # A third person: the same 404 as for a conversation that does not exist.
    missing = unknown_id()
    for method, path, body in (
            ("GET", "/v1/conversations/{}/messages", None),
            ("POST", "/v1/conversations/{}/messages", {"body": "let me in"}),
            ("PATCH", "/v1/conversations/{}", {"disappearing_seconds": 60})):
        real = http.request(method, path.format(cid), json=body, headers=eve.auth)
        fake = http.request(method, path.format(missing), json=body, headers=eve.auth)
        assert_problem(real, 404, "not-found")
        assert real.content == fake.content
    r = http.get("/v1/conversations", headers=eve.auth)
    assert r.status_code == 200 and cid not in r.text

    # Nothing eve did changed the conversation.
    r = http.get(f"/v1/conversations/{cid}/messages", headers=bob.auth)
    assert [m["body"] for m in r.json()] == ["first, kept", "second, disappears"]

    # Only friends may open a conversation.
    stranger = new_person(http, live_platform)
    assert_problem(http.post("/v1/conversations", json={"person_id": ada.id},
                             headers=stranger.auth), 403, "forbidden")


def test_a_block_hides_the_blocker_exactly_like_an_unknown_id(http: httpx.Client,
                                                              live_platform: Platform) -> None:
    ada, bob = new_person(http, live_platform), new_person(http, live_platform)
    http.patch("/v1/me/profile", headers=ada.auth, json={"fields": {"name": "Ada B"}})
    befriend(http, ada, bob)
    cid = http.post("/v1/conversations", json={"person_id": bob.id}, headers=ada.auth).json()["id"]
    assert http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth).status_code == 200

    r = http.post("/v1/blocks", json={"person_id": bob.id}, headers=ada.auth)
    assert r.status_code == 204, r.text
    assert [b["person_id"] for b in http.get("/v1/blocks", headers=ada.auth).json()] == [bob.id]

    blocked = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    unknown = http.get(f"/v1/people/{unknown_id()}/profile", headers=bob.auth)
    assert_problem(blocked, 404, "not-found")
    assert blocked.content == unknown.content
    assert "Ada B" not in blocked.text
    # Both ways, and every way of reaching her says the same as for nobody.
    assert_problem(http.get(f"/v1/people/{bob.id}/profile", headers=ada.auth), 404)
    r1 = http.post("/v1/friend-requests", json={"person_id": ada.id}, headers=bob.auth)
    r2 = http.post("/v1/friend-requests", json={"person_id": unknown_id()}, headers=bob.auth)
    assert_problem(r1, 404)
    assert r1.content == r2.content
    assert http.get("/v1/friends", headers=bob.auth).json()["friends"] == []
    r = http.post(f"/v1/conversations/{cid}/messages", json={"body": "hello?"}, headers=bob.auth)
    assert_problem(r, 404)

    # Unblocking does not restore the friendship, but the profile is visible again.
    assert http.delete(f"/v1/blocks/{bob.id}", headers=ada.auth).status_code == 204
    r = http.get(f"/v1/people/{ada.id}/profile", headers=bob.auth)
    assert r.status_code == 200 and r.json()["relationship"] == "stranger"


def test_sign_out_and_sign_out_everywhere(http: httpx.Client, live_platform: Platform) -> None:
    phone = unique_phone()
    one = sign_in_by_code(http, live_platform, phone)["token"]
    two = sign_in_by_code(http, live_platform, pretty(phone), canonical=phone)["token"]
    r = http.get("/v1/me/sessions", headers=bearer(one))
    assert len(r.json()) == 2 and sum(s["current"] for s in r.json()) == 1

    assert http.delete("/v1/auth/session", headers=bearer(one)).status_code == 204
    r = http.get("/v1/me", headers=bearer(one))
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"
    assert "pls_" not in r.text
    assert_problem(http.delete("/v1/auth/session", headers=bearer(one)), 401)
    r = http.get("/v1/me", headers=bearer(two))
    assert r.status_code == 200
    person_id = r.json()["person_id"]
    assert len(http.get("/v1/me/sessions", headers=bearer(two)).json()) == 1

    three = sign_in_by_code(http, live_platform, phone)["token"]
    assert http.delete("/v1/me/sessions", headers=bearer(two)).status_code == 204
    for token in (two, three):
        assert_problem(http.get("/v1/me/profile", headers=bearer(token)), 401, "unauthenticated")
    # Not signed in at all, or with rubbish: the same kind of answer.
    assert_problem(http.get("/v1/me"), 401, "unauthenticated")
    assert_problem(http.get("/v1/me", headers=bearer("pls_" + "x" * 43)), 401)

    four = sign_in_by_code(http, live_platform, phone)
    assert four["person_id"] == person_id and four["created"] is False


def test_password_sign_in_and_indistinguishable_failures(http: httpx.Client,
                                                         live_platform: Platform) -> None:
    me = new_person(http, live_platform)
    password = "correct horse " + secrets.token_hex(4)
    assert_problem(http.put("/v1/me/password", json={"new_password": "short"},
                            headers=me.auth), 422)
    r = http.put("/v1/me/password", json={"new_password": password}, headers=me.auth)
    assert r.status_code == 204, r.text

    r = http.post("/v1/auth/sessions", json={"identifier": pretty(me.phone),
                                             "password": password})
    assert r.status_code == 201, r.text
    assert (r.json()["person_id"], r.json()["created"]) == (me.id, False)
    token = r.json()["token"]
    methods = sorted(s["method"] for s in http.get("/v1/me/sessions", headers=bearer(token)).json())
    assert methods == ["code", "password"]

    wrong = http.post("/v1/auth/sessions", json={"identifier": me.phone,
                                                 "password": password + "x"})
    nobody = http.post("/v1/auth/sessions", json={"identifier": unique_phone(),
                                                  "password": password})
    assert_problem(wrong, 401, "sign-in-failed")
    assert wrong.content == nobody.content
    assert wrong.status_code == nobody.status_code
    assert wrong.headers["content-type"] == nobody.headers["content-type"]
    assert wrong.headers.get("www-authenticate") == nobody.headers.get("www-authenticate")

    # Changing it needs the current one; a failed change leaves the old one working.
    assert_problem(http.put("/v1/me/password", headers=me.auth,
                            json={"new_password": "another password 1"}), 401)
    assert_problem(http.put("/v1/me/password", headers=me.auth,
                            json={"new_password": "another password 1",
                                  "current_password": "not it at all"}), 401)
    r = http.post("/v1/auth/sessions", json={"identifier": me.phone, "password": password})
    assert r.status_code == 201
    # A code and a password together, or neither, is refused.
    assert_problem(http.post("/v1/auth/sessions", json={"identifier": me.phone}), 422)
    assert_problem(http.post("/v1/auth/sessions", json={"identifier": me.phone,
                                                        "password": password,
                                                        "code": "123456"}), 422)


def test_erasure_returns_a_receipt_and_frees_the_phone(http: httpx.Client,
                                                       live_platform: Platform) -> None:
    me, friend = new_person(http, live_platform), new_person(http, live_platform)
    http.patch("/v1/me/profile", headers=me.auth, json={"fields": {"name": "Soon Gone"}})
    befriend(http, me, friend)

    assert_problem(http.delete("/v1/me", headers=me.auth), 422)
    assert_problem(http.delete("/v1/me", params={"confirm": "yes"}, headers=me.auth), 422)
    assert http.get("/v1/me", headers=me.auth).status_code == 200  # nothing happened

    r = http.delete("/v1/me", params={"confirm": "erase-everything"}, headers=me.auth)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["person_id"] == me.id
    assert receipt["data_key_destroyed"] is True
    assert receipt["erased_at"]
    assert receipt["rows_deleted"].get("data_keys") == 1
    assert all(isinstance(v, int) and v >= 0 for v in receipt["rows_deleted"].values())
    assert sum(receipt["rows_deleted"].values()) > 1

    assert_problem(http.get("/v1/me", headers=me.auth), 401, "unauthenticated")
    gone = http.get(f"/v1/people/{me.id}/profile", headers=friend.auth)
    assert_problem(gone, 404)
    assert gone.content == http.get(f"/v1/people/{unknown_id()}/profile",
                                    headers=friend.auth).content
    assert http.get("/v1/friends", headers=friend.auth).json()["friends"] == []

    again = sign_in_by_code(http, live_platform, pretty(me.phone), canonical=me.phone)
    assert again["created"] is True
    assert again["person_id"] != me.id
    r = http.get("/v1/me/profile", headers=bearer(again["token"]))
    assert r.json()["fields"]["name"] is None


# These two check what the tests above did, so they come last and need the whole module.


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def test_openapi_lists_every_route_used(http: httpx.Client) -> None:
    used = {u for u in USED if u[1] not in ("/openapi.json",) and
            not u[1].startswith("/v1/problems/")}
    if len(used) < 20:
        pytest.skip("run the whole module: this checks the routes the other tests used")
    doc = http.get("/openapi.json").json()
    operations = [(method.upper(), _template_regex(path))
                  for path, ops in doc["paths"].items() for method in ops]
    missing = sorted(u for u in used
                     if not any(m == u[0] and rx.match(u[1]) for m, rx in operations))
    assert missing == []
    # And the walk is not vacuous: the main areas were all exercised.
    assert {m for m, _ in used} >= {"GET", "POST", "PATCH", "PUT", "DELETE"}
    for needle in ("/v1/auth/codes", "/v1/auth/sessions", "/v1/auth/session", "/v1/me/view-as",
                   "/v1/blocks", "/v1/friend-requests", "/v1/conversations"):
        assert any(p == needle or p.startswith(needle + "/") for _, p in used), needle


def test_every_problem_type_received_resolves(http: httpx.Client) -> None:
    if len(PROBLEMS) < 10:
        pytest.skip("run the whole module: this checks problems the other tests received")
    types = {p["type"]: p["title"] for p in PROBLEMS}
    assert {"/v1/problems/not-found", "/v1/problems/unauthenticated",
            "/v1/problems/sign-in-failed", "/v1/problems/invalid-input"} <= set(types)
    for type_uri, title in types.items():
        assert type_uri.startswith("/v1/problems/")
        r = http.get(type_uri)
        assert r.status_code == 200, type_uri
        assert r.json() == {"type": type_uri, "title": title}
    assert_problem(http.get("/v1/problems/no-such-problem"), 404, "not-found")
