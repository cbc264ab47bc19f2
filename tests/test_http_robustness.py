"""Bad input never becomes a live_server error, never half-writes, and no route shows a
conversation to someone outside it. Driven by the live server's own OpenAPI document, so a
new route is covered the day it is added."""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palisade.bootstrap import Platform
from tests.conftest import LiveServer, last_code, unique_phone

PROBLEM_JSON = "application/problem+json"
HUGE = "x" * 100_000


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def sign_in(http: httpx.Client, live_platform: Platform, phone: str) -> dict:
    r = http.post("/v1/auth/codes", json={"identifier": phone})
    assert r.status_code == 202, r.text
    r = http.post("/v1/auth/sessions", json={"identifier": phone,
                                             "code": last_code(live_platform, phone)})
    assert r.status_code == 201, r.text
    return r.json()


@dataclass
class Person:
    http: httpx.Client
    live_platform: Platform
    phone: str = field(default_factory=unique_phone)
    id: str = ""
    token: str = ""

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        doc = sign_in(self.http, self.live_platform, self.phone)
        self.id, self.token = doc["person_id"], doc["token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ensure_signed_in(self) -> None:
        if self.http.get("/v1/me", headers=self.auth).status_code == 401:
            self.refresh()


def befriend(http: httpx.Client, a: Person, b: Person) -> None:
    r = http.post("/v1/friend-requests", json={"person_id": b.id}, headers=a.auth)
    assert r.status_code == 201, r.text
    r = http.post("/v1/friend-requests", json={"person_id": a.id}, headers=b.auth)
    assert r.json()["status"] == "friends", r.text


@dataclass
class World:
    me: Person
    friend: Person
    outsider: Person  # a friend of both, not in their conversation
    conversation_id: str
    message_id: int
    secret: str
    request_id: str


@pytest.fixture(scope="module")
def world(http: httpx.Client, live_platform: Platform) -> World:
    me, friend, outsider, asker = (Person(http, live_platform) for _ in range(4))
    befriend(http, me, friend)
    befriend(http, outsider, me)
    befriend(http, outsider, friend)
    cid = http.post("/v1/conversations", json={"person_id": friend.id},
                    headers=me.auth).json()["id"]
    secret = "secret-" + secrets.token_hex(8)
    r = http.post(f"/v1/conversations/{cid}/messages", json={"body": secret}, headers=me.auth)
    assert r.status_code == 201, r.text
    message_id = r.json()["id"]
    r = http.post("/v1/friend-requests", json={"person_id": me.id}, headers=asker.auth)
    return World(me, friend, outsider, cid, message_id, secret, r.json()["request_id"])


# --- the OpenAPI document as a list of operations ----------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: tuple[str, ...]
    query: tuple[tuple[str, dict], ...]
    body: dict | None  # resolved JSON schema of the request body
    needs_auth: bool


@pytest.fixture(scope="module")
def openapi(http: httpx.Client) -> dict:
    r = http.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


@pytest.fixture(scope="module")
def operations(openapi: dict) -> list[Operation]:
    ops = []
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            ops.append(Operation(
                method.upper(), path,
                tuple(p["name"] for p in params if p["in"] == "path"),
                tuple((p["name"], p.get("schema", {})) for p in params if p["in"] == "query"),
                _resolve(openapi, body["schema"]) if body else None,
                bool(op.get("security")) or path.startswith(("/v1/me", "/v1/people",
                                                             "/v1/friend", "/v1/blocks",
                                                             "/v1/conversations"))))
    assert len(ops) >= 25, "the OpenAPI document lost its routes"
    return ops


# --- malformed requests --------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    what: str
    path_values: dict[str, str] | None = None  # None: use real ids
    params: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


ODD_PATH_VALUES = ["\x00", "..", "%", "/", "\\", " ", "😀", "ü", "' OR '1'='1", "-1", "0",
                   "9" * 40, "a" * 65, "a" * 3000, "null", "{id}", "%00", "\r\n", ";", "~"]
ODD_NUMBERS = ["-1", "0", "-99999999999999999999", "99999999999999999999999999999", "1e309",
               "9223372036854775807", "9223372036854775808", "-9223372036854775809",
               "NaN", "inf", "", "abc", "1.5", "0x10", "\x00", "９"]
ODD_STRINGS = ["", "\x00", "x" * 4000, "😀", "' OR 1=1 --", "-1", "everyone\x00"]
WRONG_TYPES: list[Any] = [None, True, 0, -1, 10**30, 1.5, -1e308, [], {}, ["a"], {"a": "b"},
                          "", HUGE, "\x00", "😀" * 50]
JSON = {"content-type": "application/json"}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def malformed(op: Operation, world: World) -> list[Bad]:
    bads: list[Bad] = []
    for name in op.path_params:
        for value in ODD_PATH_VALUES:
            bads.append(Bad(f"path {name}={value[:20]!r}", path_values={name: value}))
    for name, schema in op.query:
        numeric = "integer" in json.dumps(schema)
        for value in ODD_NUMBERS if numeric else ODD_STRINGS:
            bads.append(Bad(f"query {name}={value[:20]!r}", params={name: value}))
        bads.append(Bad(f"query {name} twice", params=[(name, "1"), (name, "everyone")]))
    bads.append(Bad("unknown query parameter", params={"zzz": "1", "limit": "-5"}))
    raw_bodies: dict[str, tuple[bytes, dict[str, str]]] = {
        "non-JSON": (b"this is not json", JSON),
        "truncated JSON": (b'{"identifier": "+1', JSON),
        "python literal": (b"{'a': 1}", JSON),
        "invalid UTF-8": (b'{"identifier": "\xff\xfe\xc3\x28"}', JSON),
        "invalid UTF-8 only": (b"\xff\xfe\xfd", JSON),
        "UTF-16": ('{"body": "x"}'.encode("utf-16"), JSON),
        "JSON with NUL": (b'{"\x00": "\x00"}', JSON),
        "deeply nested": (_deep(50_000), JSON),
        "huge array": (b"[" + b"1," * 100_000 + b"1]", JSON),
        "top-level string": (_json(HUGE), JSON),
        "top-level number": (b"1e999999", JSON),
        "top-level null": (b"null", JSON),
        "empty with JSON type": (b"", JSON),
        "text/plain": (b'{"a": 1}', {"content-type": "text/plain"}),
        "form": (b"identifier=%2B12015550123&code=1", {"content-type":
                                                       "application/x-www-form-urlencoded"}),
        "multipart": (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n",
                      {"content-type": "multipart/form-data; boundary=b"}),
        "no content-type": (b'{"a": 1}', {}),
        "bogus charset": (b'{"a": 1}', {"content-type": "application/json; charset=klingon"}),
    }
    for what, (content, headers) in raw_bodies.items():
        bads.append(Bad(what, content=content, headers=headers))
    if op.body is not None:
        props: dict[str, dict] = op.body.get("properties", {})
        bads.append(Bad("empty object", content=b"{}", headers=JSON))
        bads.append(Bad("array", content=b"[]", headers=JSON))
        bads.append(Bad("extra field", content=_json({**{k: "1" for k in props}, "zzz": 1}),
                        headers=JSON))
        bads.append(Bad("every field huge", content=_json({k: HUGE for k in props}),
                        headers=JSON))
        for name in props:
            for value in WRONG_TYPES:
                shown = repr(value)[:20]
                bads.append(Bad(f"{name}={shown}", content=_json({name: value}), headers=JSON))
            for value in (None, 10**30, [], {}, HUGE, "\x00"):
                shown = repr(value)[:20]
                bads.append(Bad(f"{name}={shown} + others", headers=JSON, content=_json(
                    {**{k: "1" for k in props if k != name}, name: value})))
        for name, schema in props.items():
            if schema.get("type") == "object" or "additionalProperties" in schema:
                for inner in ({"zzz": "1"}, {"name": 5}, {"name": HUGE}, {"name": ["a"]},
                              {"bio": {"a": 1}}, {"birthday": "2999-99-99"},
                              {"location": "x\x00y"}, {"name": "everyone", "zzz": None}):
                    bads.append(Bad(f"{name}={inner!r}"[:60], content=_json({name: inner}),
                                    headers=JSON))
    return bads


def url_for(op: Operation, world: World, overrides: dict[str, str] | None = None) -> str:
    """The operation's path, with `overrides` or else real ids in it; except that a route that
    acts on its path alone (unfriend, unblock, accept...) gets ids that match nothing, so
    walking it does not change the world the other tests rely on."""
    real = {"person_id": world.friend.id, "conversation_id": world.conversation_id,
            "request_id": world.request_id, "identifier_id": secrets.token_urlsafe(16),
            "code": "not-found", "message_id": str(world.message_id)}
    if op.body is None and op.method in ("POST", "PUT", "PATCH", "DELETE"):
        real = {name: secrets.token_urlsafe(16) for name in real}
    path = op.path
    for name in op.path_params:
        value = (overrides or {}).get(name, real.get(name, "x"))
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    return path


def check(response: httpx.Response, what: str) -> None:
    where = f"{response.request.method} {response.request.url.path[:120]} [{what}]"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    path = response.request.url.path
    if path.startswith("/oauth/") and 400 <= response.status_code < 500:
        # The OAuth protocol's own contract: JSON errors of RFC 6749 §5.2 from the token,
        # revocation and introspection endpoints, HTML pages for the person at the others.
        ctype = response.headers.get("content-type", "")
        if path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            assert ctype.startswith("application/json"), f"{where}: {ctype}"
            assert isinstance(response.json().get("error"), str), f"{where}: {response.text}"
        else:
            assert ctype.startswith("text/html"), f"{where}: {response.status_code} {ctype}"
        return
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", "")
        assert ctype.startswith(PROBLEM_JSON), f"{where}: {response.status_code} {ctype}"
        doc = response.json()
        for key in ("type", "title", "detail"):
            assert isinstance(doc.get(key), str) and doc[key], f"{where}: no {key}: {doc}"
        assert doc.get("status") == response.status_code, f"{where}: {doc}"
        assert doc["type"].startswith("/v1/problems/"), f"{where}: {doc}"


DESTRUCTIVE = {("DELETE", "/v1/auth/session"), ("DELETE", "/v1/me/sessions"),
               ("DELETE", "/v1/me")}


def send(http: httpx.Client, op: Operation, world: World, bad: Bad,
         auth: dict[str, str]) -> httpx.Response:
    headers = {**auth, **(bad.headers or {})}
    return http.request(op.method, url_for(op, world, bad.path_values), params=bad.params,
                        content=bad.content, headers=headers)


def test_no_operation_fails_on_malformed_input(http: httpx.Client, operations: list[Operation],
                                               world: World) -> None:
    me = world.me
    failures: list[str] = []
    counts = {"requests": 0, "unauthenticated_with_session": 0}
    for op in operations:
        bads = malformed(op, world)
        # Signed out, a route that needs a session answers 401 before it reads anything, so a
        # sample is enough there; routes open to everyone get the whole batch both ways.
        signed_out = bads if not op.needs_auth else bads[::7]
        runs = [(b, False) for b in signed_out] + [(b, True) for b in bads]
        for bad, signed_in in runs:
            if signed_in and (op.method, op.path) in DESTRUCTIVE and bad.path_values is None \
                    and bad.params is None:
                continue  # would (rightly) sign out or erase; covered signed out
            try:
                r = send(http, op, world, bad, me.auth if signed_in else {})
            except httpx.TransportError as exc:
                failures.append(f"{op.method} {op.path} [{bad.what}]: {exc!r}")
                continue
            counts["requests"] += 1
            try:
                check(r, bad.what + (" signed in" if signed_in else ""))
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            if not signed_in and op.needs_auth and r.status_code < 300:
                failures.append(f"{op.method} {op.path} [{bad.what}] worked without a session")
            # (operator routes take the operator token, never a person's session)
            if signed_in and r.status_code == 401 and op.path.startswith("/v1/") \
                    and not op.path.startswith(("/v1/admin/", "/v1/graph/")) \
                    and r.json()["type"].endswith("/unauthenticated"):
                counts["unauthenticated_with_session"] += 1
                me.ensure_signed_in()
    assert not failures, "\n".join(failures[:40])
    assert counts["requests"] > 1000, counts
    # The signed-in half really was signed in (a sign-out route may end one session, no more).
    assert counts["unauthenticated_with_session"] <= 3, counts


@pytest.mark.parametrize("after", ["9223372036854775808", "99999999999999999999999999999"])
def test_after_beyond_64_bits_is_a_client_error(live_server: LiveServer, world: World,
                                                after: str) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as fresh:  # a 500 drops the connection
        r = fresh.get(f"/v1/conversations/{world.conversation_id}/messages",
                      params={"after": after}, headers=world.me.auth)
    check(r, f"after={after}")
    assert r.status_code == 422


@pytest.mark.parametrize("authorization", [
    "Bearer", "Bearer pls_", "Bearer pls_" + "x" * 500, "Basic Zm9vOmJhcg==",
    "bearer pls_abc", "Bearer  pls_abc", "Bearer pls_\tx", "Token pls_abc", "x" * 6000,
])
def test_odd_authorization_headers_are_401_problems(http: httpx.Client,
                                                    operations: list[Operation],
                                                    world: World, authorization: str) -> None:
    for op in operations:
        if not op.needs_auth:
            continue
        r = http.request(op.method, url_for(op, world), headers={"authorization": authorization},
                         json={})
        check(r, f"authorization {authorization[:20]!r}")
        assert r.status_code in (401, 422), (op.method, op.path, r.status_code, r.text)


def test_latin1_bytes_in_headers_are_handled(http: httpx.Client, world: World) -> None:
    for value in (b"Bearer pls_\xff\xfe", b"\xc3\x28", b"Bearer \x80"):
        r = http.get("/v1/me", headers=[(b"authorization", value)])
        check(r, repr(value))
        assert r.status_code == 401
    r = http.post("/v1/auth/codes", json={"identifier": unique_phone()},
                  headers=[(b"x-forwarded-for", b"\xff\xfe, 999.1.1.1")])
    check(r, "odd x-forwarded-for")


# --- generated bodies (hypothesis) --------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)


@st.composite
def generated_requests(draw: st.DrawFn, operations: list[Operation]) -> tuple[Operation, Any,
                                                                             str | None]:
    op = draw(st.sampled_from([o for o in operations if o.body is not None or o.path_params]))
    keys = list((op.body or {}).get("properties", {})) + ["name", "fields", "audiences"]
    body = draw(st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)),
        st.fixed_dictionaries({k: json_values for k in (op.body or {}).get("properties", {})})))
    path_value = draw(st.none() | st.text(min_size=1, max_size=30))
    return op, body, path_value


def test_generated_bodies_never_fail(http: httpx.Client, operations: list[Operation],
                                     world: World) -> None:
    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(generated_requests(operations), st.booleans())
    def run(request: tuple[Operation, Any, str | None], signed_in: bool) -> None:
        op, body, path_value = request
        if signed_in and (op.method, op.path) in DESTRUCTIVE:
            signed_in = False
        overrides = {n: path_value for n in op.path_params} if path_value else None
        r = http.request(op.method, url_for(op, world, overrides), json=body,
                         headers=world.me.auth if signed_in else {})
        check(r, f"generated body {json.dumps(body)[:80]}")
        if r.status_code == 401 and signed_in:
            world.me.ensure_signed_in()

    run()


# --- nothing half-written ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def writer(http: httpx.Client, live_platform: Platform) -> Person:
    person = Person(http, live_platform)
    r = http.patch("/v1/me/profile", headers=person.auth, json={
        "fields": {"name": "Before", "bio": "Old bio", "birthday": "1990-01-01"},
        "audiences": {"bio": "everyone"}})
    assert r.status_code == 200, r.text
    return person


@pytest.mark.parametrize("update", [
    {"fields": {"name": "After", "birthday": "not-a-date"}},
    {"fields": {"name": "After", "birthday": "1850-01-01"}},
    {"fields": {"name": "After", "location": "x" * 201}},
    {"fields": {"name": "After", "photo_url": "http://insecure.example/me.jpg"}},
    {"fields": {"name": "After", "relationship_status": "confused"}},
    {"fields": {"name": "After", "phone": "+12015550123"}},
    {"fields": {"name": "After", "nickname": "Bee"}},
    {"fields": {"name": "After", "bio": 5}},
    {"fields": {"name": "After"}, "audiences": {"bio": "nobody"}},
    {"fields": {"name": "After"}, "audiences": {"shoe_size": "everyone"}},
    {"fields": {"name": "After"}, "extra": True},
    {"audiences": {"bio": "only_me"}, "fields": {"birthday": "31/12/1990"}},
    {"audiences": {"bio": "only_me", "name": "sometimes"}},
    {"fields": {"bio": "New bio", "name": "   "}},
])
def test_a_rejected_profile_update_changes_nothing(http: httpx.Client, writer: Person,
                                                   update: dict) -> None:
    before = http.get("/v1/me/profile", headers=writer.auth).json()
    assert before["fields"]["name"] == "Before"
    r = http.patch("/v1/me/profile", headers=writer.auth, json=update)
    check(r, "half-write")
    assert r.status_code == 422, r.text
    assert http.get("/v1/me/profile", headers=writer.auth).json() == before


def test_other_rejected_writes_change_nothing(http: httpx.Client, live_platform: Platform,
                                              world: World) -> None:
    me, friend = world.me, world.friend
    cid = world.conversation_id

    # A bad timer leaves the timer as it was.
    assert http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": 60},
                      headers=me.auth).status_code == 200
    for bad in (3, -5, 10**12, "soon", 1.5):
        r = http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": bad},
                       headers=me.auth)
        check(r, f"timer {bad!r}")
        assert r.status_code == 422
    timers = {c["id"]: c["disappearing_seconds"]
              for c in http.get("/v1/conversations", headers=me.auth).json()}
    assert timers[cid] == 60
    http.patch(f"/v1/conversations/{cid}", json={"disappearing_seconds": 0}, headers=me.auth)

    # A rejected message is not stored.
    before = http.get(f"/v1/conversations/{cid}/messages", headers=me.auth).json()
    for body in ("x" * 10_001, "   ", "", None):
        r = http.post(f"/v1/conversations/{cid}/messages", json={"body": body}, headers=me.auth)
        check(r, "message")
        assert r.status_code == 422
    r = http.post(f"/v1/conversations/{cid}/messages", json={"body": "ok", "zzz": 1},
                  headers=me.auth)
    assert r.status_code == 422
    assert http.get(f"/v1/conversations/{cid}/messages", headers=me.auth).json() == before

    # A rejected friend request is not recorded.
    stranger = Person(http, live_platform)
    r = http.post("/v1/friend-requests", json={"person_id": me.id, "note": "hi"},
                  headers=stranger.auth)
    assert r.status_code == 422
    assert http.get("/v1/friend-requests", params={"direction": "outgoing"},
                    headers=stranger.auth).json() == []

    # A rejected new password leaves the old one working.
    password = "first password " + secrets.token_hex(4)
    assert http.put("/v1/me/password", json={"new_password": password},
                    headers=friend.auth).status_code == 204
    for new in ("short", "x" * 1025):
        r = http.put("/v1/me/password", json={"new_password": new, "current_password": password},
                     headers=friend.auth)
        assert r.status_code == 422, r.text
    r = http.post("/v1/auth/sessions", json={"identifier": friend.phone, "password": password})
    assert r.status_code == 201, r.text

    # A wrong code does not register anybody; the right one then does.
    phone = unique_phone()
    assert http.post("/v1/auth/codes", json={"identifier": phone}).status_code == 202
    code = last_code(live_platform, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = http.post("/v1/auth/sessions", json={"identifier": phone, "code": wrong})
    check(r, "wrong code")
    assert r.status_code == 400
    r = http.post("/v1/auth/sessions", json={"identifier": phone, "code": code})
    assert r.status_code == 201 and r.json()["created"] is True


# --- no route shows a conversation to someone outside it --------------------------------------


def valid_body(op: Operation) -> dict | None:
    """A body that passes validation, so the route gets as far as its access check."""
    if op.body is None:
        return None
    values = {"integer": 60, "string": "from outside"}
    out = {}
    for name, schema in op.body.get("properties", {}).items():
        types = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
        out[name] = next(values[t] for t in types if t in values)
    return out


def test_no_route_exposes_a_conversation_to_a_non_participant(
        http: httpx.Client, operations: list[Operation], world: World) -> None:
    outsider, cid = world.outsider, world.conversation_id
    outsider.ensure_signed_in()
    world.me.ensure_signed_in()
    missing = secrets.token_urlsafe(16)
    conversation_routes = [op for op in operations if "conversation" in op.path]
    assert any(op.method == "GET" and "{" in op.path for op in conversation_routes)
    for op in conversation_routes:
        if "conversation_id" not in op.path_params:
            continue
        body = valid_body(op)
        real = http.request(op.method, url_for(op, world), headers=outsider.auth, json=body)
        check(real, "non-participant")
        assert real.status_code == 404, (op.method, op.path, real.status_code, real.text)
        fake = http.request(op.method, url_for(op, world, {"conversation_id": missing}),
                            headers=outsider.auth, json=body)
        assert real.content == fake.content, (op.method, op.path)
    listing = http.get("/v1/conversations", headers=outsider.auth)
    assert listing.status_code == 200 and cid not in listing.text

    # Every GET route, every path parameter filled with every id that could lead there.
    ids = [cid, world.me.id, world.friend.id, str(world.message_id)]
    seen_ok = 0
    for op in operations:
        if op.method != "GET":
            continue
        fillings = [{n: value for n in op.path_params} for value in ids] if op.path_params \
            else [{}]
        for filling in fillings:
            r = http.get(url_for(op, world, filling), headers=outsider.auth)
            check(r, "outsider walk")
            assert world.secret not in r.text, (op.path, filling)
            seen_ok += r.status_code == 200
    assert seen_ok >= 10  # the walk reached real data, it was not all 404s

    # The participant, walking the same way, does see it: the check above can fail.
    r = http.get(f"/v1/conversations/{cid}/messages", headers=world.me.auth)
    assert world.secret in r.text
