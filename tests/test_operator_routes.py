"""Operator routes over HTTP. POST /v1/admin/leaks/scans, the twin of `palisade leaks scan`:
operator only, the body streamed to a temporary file under a size limit, bad input a 4xx
problem, a good file a report with attribution (and a recorded incident, once per SHA-256).
POST /v1/admin/sessions/end: one person, or everyone, logged out at once."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import serving

TOKEN = "operator-token-for-leak-scans-0123"


def test_the_operator_scans_an_uploaded_dump_over_http(tmp_path: Path) -> None:
    env = {"PALISADE_ADMIN_TOKEN": TOKEN, "PALISADE_LEAK_UPLOAD_MAX_BYTES": "4096"}
    with serving(tmp_path / "home", env) as live, live.client() as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        dump = b"id,phone,first_name,email\n1,+12015550123,Ada,ada@example.org\n"
        assert http.post("/v1/admin/leaks/scans", content=dump).status_code == 401
        assert http.post("/v1/admin/leaks/scans", content=dump, headers={
            "Authorization": "Bearer wrong"}).status_code == 401

        empty = http.post("/v1/admin/leaks/scans", content=b"", headers=auth)
        assert empty.status_code == 422
        assert empty.headers["content-type"].startswith("application/problem+json")
        no_ids = http.post("/v1/admin/leaks/scans", content=b"colour,size\nred,3\n",
                           headers=auth)
        assert no_ids.status_code == 422 and "no column" in no_ids.json()["detail"]
        assert "/tmp" not in no_ids.text and ".dump" not in no_ids.text  # no server paths
        big = http.post("/v1/admin/leaks/scans", content=b"x" * 5000, headers=auth)
        assert big.status_code == 413
        assert http.post("/v1/admin/leaks/scans?region=zz", content=dump,
                         headers=auth).status_code == 422
        corrupt = http.post("/v1/admin/leaks/scans", content=b"\x1f\x8b" + bytes(range(99)),
                            headers=auth)
        assert corrupt.status_code == 422 and "not a readable gzip" in corrupt.json()["detail"]

        first = http.post("/v1/admin/leaks/scans", content=dump, headers=auth)
        assert first.status_code == 201, first.text
        doc = first.json()
        assert doc["rows"] == 1 and doc["people_matched"] == 0 and doc["new"] is True
        assert doc["incident_id"] and doc["attribution"] == []
        again = http.post("/v1/admin/leaks/scans", content=dump, headers=auth).json()
        assert again["new"] is False and again["incident_id"] == doc["incident_id"]
        dry = http.post("/v1/admin/leaks/scans?record=false", content=dump + b"2,,B,\n",
                        headers=auth).json()
        assert dry["incident_id"] is None


def test_the_operator_logs_one_person_or_everyone_out(tmp_path: Path) -> None:
    from palisade.bootstrap import build
    from palisade.config import Settings
    from tests.conftest import last_code, unique_phone

    home = tmp_path / "home"
    with serving(home, {"PALISADE_ADMIN_TOKEN": TOKEN}) as live, live.client() as http:
        platform = build(Settings(home=home, _env_file=None))
        tokens = []
        for _ in range(3):
            phone = unique_phone()
            assert http.post("/v1/auth/codes", json={"identifier": phone}).status_code == 202
            doc = http.post("/v1/auth/sessions", json={
                "identifier": phone, "code": last_code(platform, phone)}).json()
            tokens.append((doc["person_id"], doc["token"]))
        platform.close()
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def works(token: str) -> bool:
            return http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}
                            ).status_code == 200

        assert all(works(t) for _, t in tokens)
        for body in ({}, {"everyone": True, "person_id": tokens[0][0]}):
            assert http.post("/v1/admin/sessions/end", json=body,
                             headers=auth).status_code == 422
        assert http.post("/v1/admin/sessions/end", json={"everyone": True}).status_code == 401
        unknown = http.post("/v1/admin/sessions/end", json={
            "person_id": "00000000-0000-4000-8000-000000000000"}, headers=auth)
        assert unknown.status_code == 404 and "No such person" in unknown.text
        one = http.post("/v1/admin/sessions/end", json={"person_id": tokens[0][0]}, headers=auth)
        assert one.json() == {"ended": 1}
        assert not works(tokens[0][1]) and works(tokens[1][1])
        everyone = http.post("/v1/admin/sessions/end", json={"everyone": True}, headers=auth)
        assert everyone.json()["ended"] >= 2
        assert not any(works(t) for _, t in tokens)
