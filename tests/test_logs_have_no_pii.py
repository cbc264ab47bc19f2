"""No personal data in the logs: a real server at DEBUG level through a whole flow, and the
structlog processor that scrubs sensitive keys as a last line of defence."""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from palisade.bootstrap import build
from palisade.config import Settings
from palisade.logging import _SENSITIVE, _scrub, configure, get_logger
from tests.conftest import CODE, last_code, start_server, stop_server, unique_email, unique_phone


def spellings(phone: str) -> list[str]:
    """The ways a +1 number could show up in a log line."""
    digits = phone[2:]
    return [phone, phone[1:], digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f"{digits[:3]} {digits[3:6]} {digits[6:]}", f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"]


def pretty(phone: str) -> str:
    return f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"


def test_a_full_flow_at_debug_level_logs_no_personal_data(tmp_path: Path) -> None:
    server = start_server({
        "PALISADE_LOG_LEVEL": "DEBUG",
        "PALISADE_CODE_RESEND_INTERVAL_SECONDS": "0",
        "PALISADE_CODE_SENDS_PER_ADDRESS_PER_HOUR": "1000",
    }, tmp_path)
    secrets_used: list[str] = []  # everything that must not reach the logs
    platform = build(Settings(home=tmp_path, _env_file=None))
    try:
        http = server.client()

        def code_for(identifier: str, canonical: str, path: str = "/v1/auth/codes",
                     token: str | None = None) -> str:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = http.post(path, json={"identifier": identifier}, headers=headers)
            assert r.status_code == 202, r.text
            code = last_code(platform, canonical)
            secrets_used.append(code)
            return code

        def sign_up(name: str, birthday: str, location: str, bio: str) -> tuple[str, str, str]:
            phone = unique_phone()
            secrets_used.extend(spellings(phone))
            code = code_for(pretty(phone), phone)
            r = http.post("/v1/auth/sessions", json={"identifier": pretty(phone), "code": code})
            assert r.status_code == 201, r.text
            token, person_id = r.json()["token"], r.json()["person_id"]
            secrets_used.append(token)
            secrets_used.append(token[len("pls_"):])
            r = http.patch("/v1/me/profile", headers={"Authorization": f"Bearer {token}"},
                           json={"fields": {"name": name, "birthday": birthday,
                                            "location": location, "bio": bio},
                                 "audiences": {"birthday": "everyone"}})
            assert r.status_code == 200, r.text
            secrets_used.extend([name, location, bio])
            secrets_used.append(birthday)
            return phone, token, person_id

        tag = secrets.token_hex(3)  # keeps the values unique to this run
        _, ada, ada_id = sign_up(f"Adaline Quillfeather {tag}", "1987-03-14",
                                 f"Tumbledown Lane {tag}", f"Secret bio {tag}")
        _, bob, bob_id = sign_up(f"Bartholomew Wexley {tag}", "1979-11-02",
                                 f"Quarry Street {tag}", f"Other bio {tag}")
        auth_a = {"Authorization": f"Bearer {ada}"}
        auth_b = {"Authorization": f"Bearer {bob}"}

        # A second identifier: an email, verified by code.
        email = unique_email().replace("person.", f"Mixed.Case.{tag}.")
        secrets_used.extend([email, email.lower()])
        code = code_for(email, email.lower(), "/v1/me/identifiers/codes", ada)
        r = http.post("/v1/me/identifiers", json={"identifier": email, "code": code},
                      headers=auth_a)
        assert r.status_code == 201, r.text

        # A password, used right and wrong.
        password = f"Tr0ub4dor&{tag}"
        secrets_used.append(password)
        assert http.put("/v1/me/password", json={"new_password": password},
                        headers=auth_a).status_code == 204
        r = http.post("/v1/auth/sessions", json={"identifier": email, "password": password})
        assert r.status_code == 201
        secrets_used.append(r.json()["token"])
        r = http.post("/v1/auth/sessions", json={"identifier": email, "password": password + "!"})
        assert r.status_code == 401

        # Friends, a conversation, messages.
        http.post("/v1/friend-requests", json={"person_id": bob_id}, headers=auth_a)
        r = http.post("/v1/friend-requests", json={"person_id": ada_id}, headers=auth_b)
        assert r.json()["status"] == "friends"
        cid = http.post("/v1/conversations", json={"person_id": bob_id},
                        headers=auth_a).json()["id"]
        for body, auth in ((f"Meet me at the old mill {tag}", auth_a),
                           (f"Bring the blue folder {tag}", auth_b)):
            secrets_used.append(body)
            r = http.post(f"/v1/conversations/{cid}/messages", json={"body": body}, headers=auth)
            assert r.status_code == 201
        assert http.get(f"/v1/conversations/{cid}/messages", headers=auth_b).status_code == 200
        assert http.get(f"/v1/people/{ada_id}/profile", headers=auth_b).status_code == 200
        assert http.get("/v1/me/view-as", params={"person_id": bob_id},
                        headers=auth_a).status_code == 200

        # Failures: a bad phone (422), an unknown person (404), a wrong code (400), a
        # bad token (401), a body that does not validate (422 with field errors).
        bad_phone = f"+1 555 {tag}"
        secrets_used.append(bad_phone)
        r = http.post("/v1/auth/codes", json={"identifier": bad_phone})
        assert r.status_code == 422
        assert http.get(f"/v1/people/{secrets.token_urlsafe(16)}/profile",
                        headers=auth_a).status_code == 404
        wrong_code_phone = unique_phone()
        secrets_used.extend(spellings(wrong_code_phone))
        real = code_for(wrong_code_phone, wrong_code_phone)
        wrong = f"{(int(real) + 1) % 1_000_000:06d}"
        secrets_used.append(wrong)
        assert http.post("/v1/auth/sessions", json={"identifier": wrong_code_phone,
                                                    "code": wrong}).status_code == 400
        assert http.get("/v1/me", headers={"Authorization": f"Bearer pls_{tag}nope"}
                        ).status_code == 401
        r = http.patch("/v1/me/profile", headers=auth_a,
                       json={"fields": {"name": ["not", f"text {tag}"]}})
        assert r.status_code == 422
        secrets_used.append(f"text {tag}")

        # A request uvicorn itself cannot parse: it logs a warning, which proves the capture
        # below sees what the server writes (and the garbage carries a phone number too).
        garbage_phone = unique_phone()
        secrets_used.extend(spellings(garbage_phone))
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(f"HELLO {garbage_phone} \x01\x02 WHAT/9\r\n\r\n".encode())
            assert raw.recv(4096).startswith(b"HTTP/1.1 400")

        # Erasure, then sign-out everywhere for the other one.
        assert http.delete("/v1/me", params={"confirm": "erase-everything"},
                           headers=auth_a).status_code == 200
        assert http.delete("/v1/me/sessions", headers=auth_b).status_code == 204
        http.close()
    finally:
        output = stop_server(server)
        platform.close()

    assert "Invalid HTTP request received" in output, output[-2000:]
    assert len(secrets_used) > 40
    leaked = sorted({s for s in secrets_used if s and s in output})
    assert leaked == [], f"personal data in the server output: {leaked}\n{output[-3000:]}"
    assert not CODE.search(output)  # no code-shaped message text at all
    assert "pls_" not in output
    # Whatever structlog wrote is JSON with only scrubbed sensitive keys.
    for line in output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            for key in event:
                if key.lower() in _SENSITIVE:
                    assert event[key] == "[redacted]", line


# --- the scrubbing processor -------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(_SENSITIVE) + ["Phone", "EMAIL", "Token", "Authorization"])
def test_scrub_redacts_every_sensitive_key_whatever_its_case(key: str) -> None:
    event = {"event": "something_happened", key: "+12015550123 ada@example.org pls_x 123456",
             "route": "/v1/people/{person_id}/profile", "status": 404}
    out = _scrub(None, "info", dict(event))
    assert out[key] == "[redacted]"
    assert out["event"] == "something_happened"
    assert out["route"] == event["route"] and out["status"] == 404
    assert set(out) == set(event)  # redacted, not dropped: the reader sees a value was there


def test_scrub_covers_what_the_service_handles() -> None:
    """The set names every kind of personal data the service holds, so a careless
    `log.info(..., phone=...)` anywhere is caught."""
    assert {"phone", "email", "identifier", "code", "token", "password", "body", "name",
            "birthday", "location", "bio", "authorization", "cookie"} <= _SENSITIVE


def test_scrub_leaves_operational_keys_alone() -> None:
    event = {"event": "request", "method": "GET", "route": "/v1/me", "status": 500, "ms": 1.5,
             "error_type": "OverflowError", "level": "warning", "timestamp": "2026-01-01T00:00"}
    assert _scrub(None, "warning", dict(event)) == event


@pytest.fixture
def structlog_to_stderr() -> Iterator[None]:
    """configure() changes process-wide logging; put everything back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configured_pipeline_scrubs_before_rendering(structlog_to_stderr: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG")
    log = get_logger("palisade.test")
    log.debug("code_sent", phone="+12015550123", code="654321", token="pls_abcdef",
              Email="ada@example.org", route="/v1/auth/codes", status=202)
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "code_sent" in line)
    event = json.loads(line)
    assert event["phone"] == event["code"] == event["token"] == event["Email"] == "[redacted]"
    assert event["route"] == "/v1/auth/codes" and event["status"] == 202
    assert event["level"] == "debug"  # DEBUG really is on, so the flow test above logs all
    for value in ("+12015550123", "654321", "pls_abcdef", "ada@example.org"):
        assert value not in err


# "drops any event key that names one": keys that name a secret in more than one word, and
# values nested one level down, are not caught today (exact, top-level key match only).
SCRUB_GAP = ("src/palisade/logging.py:_scrub matches whole top-level keys only: compound keys "
             "that name a secret (new_password, session_token, phone_number...) and nested "
             "dicts pass through unredacted")


@pytest.mark.parametrize("key", ["new_password", "current_password", "session_token",
                                 "phone_number", "email_address", "one_time_code"])
def test_scrub_redacts_compound_sensitive_keys(key: str) -> None:
    out = _scrub(None, "info", {"event": "x", key: "secret-value"})
    assert out[key] == "[redacted]"


def test_scrub_redacts_sensitive_keys_in_nested_values() -> None:
    out = _scrub(None, "info", {"event": "x", "fields": {"name": "Ada", "bio": "private"}})
    assert "Ada" not in json.dumps(out) and "private" not in json.dumps(out)

