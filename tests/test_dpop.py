"""RFC 9449 proof checks (adapters.oauth.rfc9449_dpop): each check has a test that fails if
the check is removed."""

from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.adapters.oauth.rfc9449_dpop import (
    DPoPVerifier,
    InvalidDPoPProof,
    access_token_hash,
    normalise_htu,
)
from tests.dpop_client import DPoPKey

URL = "https://palisade.example/v1/graph/me"


def verifier(now: float | None = None) -> DPoPVerifier:
    seen: set[str] = set()

    def first_use(key: str, ttl: float):  # type: ignore[no-untyped-def]
        first = key not in seen
        seen.add(key)
        return lambda: first

    return DPoPVerifier(first_use, (lambda: now) if now is not None else time.time)


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_a_good_proof_binds_to_its_key(alg: str) -> None:
    key = DPoPKey(alg)
    checked = verifier().check(key.proof("GET", URL, "pat_x"), "GET", URL, access_token="pat_x",
                               expected_jkt=key.jkt)
    assert checked.jkt == key.jkt


def test_no_proof_is_refused() -> None:
    with pytest.raises(InvalidDPoPProof, match="required"):
        verifier().check(None, "GET", URL)


def test_wrong_typ_is_refused() -> None:
    key = DPoPKey()
    with pytest.raises(InvalidDPoPProof, match="typ"):
        verifier().check(key.proof("GET", URL, typ="JWT"), "GET", URL)


def test_alg_none_and_macs_are_refused() -> None:
    key = DPoPKey()
    good = key.proof("GET", URL)
    _h, payload, _s = good.split(".")
    for alg in ("none", "HS256"):
        header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.key.as_dict(private=False)}
        with pytest.raises(InvalidDPoPProof, match="asymmetric"):
            verifier().check(f"{b64(header)}.{payload}.", "GET", URL)


def test_a_private_key_in_the_header_is_refused() -> None:
    key = DPoPKey()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.key.as_dict(private=True)}
    _h, payload, sig = key.proof("GET", URL).split(".")
    with pytest.raises(InvalidDPoPProof, match="public key"):
        verifier().check(f"{b64(header)}.{payload}.{sig}", "GET", URL)


def test_a_signature_by_another_key_is_refused() -> None:
    key, other = DPoPKey(), DPoPKey()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": other.key.as_dict(private=False)}
    _h, payload, sig = key.proof("GET", URL).split(".")
    with pytest.raises(InvalidDPoPProof, match="signature"):
        verifier().check(f"{b64(header)}.{payload}.{sig}", "GET", URL)


def test_method_and_url_must_match() -> None:
    key = DPoPKey()
    with pytest.raises(InvalidDPoPProof, match="htm"):
        verifier().check(key.proof("POST", URL), "GET", URL)
    with pytest.raises(InvalidDPoPProof, match="htu"):
        verifier().check(key.proof("GET", URL + "/friends"), "GET", URL)
    with pytest.raises(InvalidDPoPProof, match="htu"):
        verifier().check(key.proof("GET", "https://evil.example/v1/graph/me"), "GET", URL)
    # query and fragment are not part of htu (§4.3 check 9)
    verifier().check(key.proof("GET", URL + "?cursor=x#y"), "GET", URL + "?limit=2")


def test_time_window() -> None:
    key = DPoPKey()
    now = 1_800_000_000.0
    with pytest.raises(InvalidDPoPProof, match="window"):
        verifier(now).check(key.proof("GET", URL, iat=now - 61), "GET", URL)
    with pytest.raises(InvalidDPoPProof, match="window"):
        verifier(now).check(key.proof("GET", URL, iat=now + 6), "GET", URL)
    verifier(now).check(key.proof("GET", URL, iat=now - 59), "GET", URL)


def test_ath_must_hash_the_presented_token() -> None:
    key = DPoPKey()
    with pytest.raises(InvalidDPoPProof, match="ath"):
        verifier().check(key.proof("GET", URL, "pat_other"), "GET", URL, access_token="pat_x")
    with pytest.raises(InvalidDPoPProof, match="ath"):
        verifier().check(key.proof("GET", URL), "GET", URL, access_token="pat_x")


def test_the_key_must_be_the_tokens_key() -> None:
    key, thief = DPoPKey(), DPoPKey()
    with pytest.raises(InvalidDPoPProof, match="bound"):
        verifier().check(thief.proof("GET", URL, "pat_x"), "GET", URL, access_token="pat_x",
                         expected_jkt=key.jkt)


def test_a_proof_is_accepted_once() -> None:
    key, v = DPoPKey(), verifier()
    proof = key.proof("GET", URL)
    v.check(proof, "GET", URL)
    with pytest.raises(InvalidDPoPProof, match="used before"):
        v.check(proof, "GET", URL)


def test_known_ath_vector() -> None:
    # RFC 9449 §7.1 example: the token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == \
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_htu_normalisation() -> None:
    assert normalise_htu("HTTPS://Palisade.Example:443/v1/graph/me?x=1") == URL
    assert normalise_htu("http://127.0.0.1:8000/a") == "http://127.0.0.1:8000/a"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_garbage_never_passes_and_never_crashes(junk: str) -> None:
    with pytest.raises(InvalidDPoPProof):
        verifier().check(junk, "GET", URL)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["jti", "htm", "htu", "iat", "ath"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
                       max_size=5))
def test_malformed_claims_are_refused(claims: dict) -> None:
    key = DPoPKey()
    import json as _json
    from joserfc import jws

    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.key.as_dict(private=False)}
    proof = jws.serialize_compact(header, _json.dumps(claims).encode(), key.key,
                                  algorithms=["ES256"])
    with pytest.raises(InvalidDPoPProof):
        verifier().check(proof, "GET", URL)


@pytest.mark.redis
def test_redis_replay_set_answers_once_and_frees_its_connections(redis_client) -> None:  # type: ignore[no-untyped-def]
    from palisade.adapters.limits.counter_store import RedisCounterStore

    store = RedisCounterStore(redis_client, prefix=f"palisade:test-dpop:{time.time_ns()}:")
    pending = [store.first_time_deferred(f"k{i % 50}", 5, time.time()) for i in range(100)]
    answers = [answer() for answer in pending]
    assert answers[:50] == [True] * 50 and answers[50:] == [False] * 50
    pool = redis_client.connection_pool
    assert len(pool._in_use_connections) == 0  # every connection went back to the pool
    key, other = DPoPKey(), DPoPKey()
    v = DPoPVerifier(lambda k, ttl: store.first_time_deferred(k, ttl, time.time()), time.time)
    proof = key.proof("GET", URL, "pat_x")
    with pytest.raises(InvalidDPoPProof, match="bound"):  # the answer is collected anyway
        v.check(proof, "GET", URL, access_token="pat_x", expected_jkt=other.jkt)
    with pytest.raises(InvalidDPoPProof, match="used before"):
        v.check(proof, "GET", URL, access_token="pat_x", expected_jkt=key.jkt)
    assert len(pool._in_use_connections) == 0


def test_error_descriptions_are_what_rfc6749_allows() -> None:
    """RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E (Authlib raises, and
    the request becomes a 500, on anything else). Every message the token endpoint can send
    is a string literal raised in these modules."""
    import ast
    import inspect

    from palisade.adapters.oauth import rfc9449_dpop
    from palisade.services.apps import oauth_server

    allowed = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}
    for module in (rfc9449_dpop, oauth_server):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for arg in node.exc.args:
                    parts = [arg] if isinstance(arg, ast.Constant) else (
                        [v for v in arg.values if isinstance(v, ast.Constant)]
                        if isinstance(arg, ast.JoinedStr) else [])
                    for part in parts:
                        if isinstance(part.value, str):
                            assert set(part.value) <= allowed, (module.__name__, part.value)
