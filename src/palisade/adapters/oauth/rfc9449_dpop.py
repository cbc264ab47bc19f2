"""RFC 9449, OAuth 2.0 Demonstrating Proof of Possession (DPoP): checking a proof.

joserfc does the JOSE work (JWS signature check, JWK import, RFC 7638 thumbprint); the checks
that make a JWS a DPoP proof are written here because no maintained library does them (Authlib
has no DPoP support yet). Each check names its section of RFC 9449.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey

# §3.1: asymmetric algorithms only; "none" and MACs are refused.
SIGNING_ALGORITHMS = ("ES256", "ES384", "Ed25519", "EdDSA", "RS256", "PS256")  # EdDSA: RFC 9864
MAX_PROOF_BYTES = 8192


class InvalidDPoPProof(Exception):
    """The proof is missing, malformed or does not match the request (§7.1: invalid_dpop_proof)."""

    error = "invalid_dpop_proof"


@dataclass(frozen=True, slots=True)
class CheckedProof:
    jkt: str  # RFC 7638 thumbprint of the proof's public key (§6.1 cnf.jkt)
    jti: str


def _b64url_json(segment: str) -> dict:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def access_token_hash(access_token: str) -> str:
    """§4.2 `ath`: base64url(SHA-256(ASCII access token)) without padding."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@lru_cache(maxsize=1024)
def normalise_htu(url: str) -> str:
    """§4.3 check 9: the URI without query and fragment, scheme and host case-folded."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port is None or port == default else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


@lru_cache(maxsize=4096)
def _public_key(jwk_json: str) -> tuple[object, str]:
    """The imported key and its RFC 7638 thumbprint, cached by the JWK's exact JSON: a client
    signs many proofs with one key, and importing an EC point costs as much as the rest of the
    checks. Only public keys get here; a cache of public keys holds no secret."""
    key = JWKRegistry.import_key(json.loads(jwk_json))
    if key.is_private:
        raise ValueError("private key")
    return key, key.thumbprint()


class PendingProof:
    """A proof whose checks have passed except two that need more than the request: the key
    binding (needs the token's `cnf.jkt`) and the replay answer (a round trip to the shared
    seen-set, started already so that it overlaps the token look-up)."""

    def __init__(self, jkt: str, jti: str, replay_answer: Callable[[], bool]) -> None:
        self.jkt = jkt
        self.jti = jti
        self._answer = replay_answer
        self._first: bool | None = None

    def first_use(self) -> bool:
        """Wait for the seen-set's answer (once; always call it, it frees the connection)."""
        if self._first is None:
            self._first = bool(self._answer())
        return self._first

    def finish(self, expected_jkt: str | None = None) -> CheckedProof:
        first = self.first_use()
        if expected_jkt is not None and self.jkt != expected_jkt:  # §4.3 check 12, §7.1
            raise InvalidDPoPProof("The DPoP proof's key is not the key the token is bound to.")
        if not first:  # §11.1: a proof is accepted once
            raise InvalidDPoPProof("This DPoP proof has been used before.")
        return CheckedProof(jkt=self.jkt, jti=self.jti)


class DPoPVerifier:
    """Checks proofs (§4.3). `mark_used(key, ttl)` records a proof in the replay store shared
    by every server process and returns a function that answers whether this was the first use
    within ttl seconds (§11.1); the split lets a caller overlap the round trip with other work.
    """

    def __init__(self, mark_used: Callable[[str, float], Callable[[], bool]],
                 clock: Callable[[], float], max_age_seconds: float = 60.0,
                 max_skew_seconds: float = 5.0) -> None:
        self.mark_used = mark_used
        self.clock = clock
        self.max_age = max_age_seconds
        self.max_skew = max_skew_seconds

    def check(self, proof: str | None, method: str, url: str,
              access_token: str | None = None, expected_jkt: str | None = None) -> CheckedProof:
        return self.begin(proof, method, url, access_token).finish(expected_jkt)

    def begin(self, proof: str | None, method: str, url: str,
              access_token: str | None = None) -> PendingProof:
        """Every check that needs only the request; then the proof is marked used."""
        if not proof:
            raise InvalidDPoPProof("A DPoP proof is required (RFC 9449): send it in the DPoP "
                                   "header; bearer tokens are not accepted for apps.")
        if len(proof) > MAX_PROOF_BYTES or proof.count(".") != 2:
            raise InvalidDPoPProof("The DPoP proof is not a compact JWS.")  # §4.3 checks 2-3
        try:
            header = _b64url_json(proof.split(".", 1)[0])
        except (ValueError, UnicodeDecodeError):
            raise InvalidDPoPProof("The DPoP proof header is not valid JSON.") from None
        if header.get("typ") != "dpop+jwt":  # §4.3 check 4
            raise InvalidDPoPProof("The DPoP proof's typ must be dpop+jwt.")
        alg = header.get("alg")
        if alg not in SIGNING_ALGORITHMS:  # §4.3 check 5
            raise InvalidDPoPProof("The DPoP proof must be signed with an asymmetric algorithm.")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi",
                                                                 "k")):
            raise InvalidDPoPProof("The DPoP proof's jwk must be a public key.")  # check 7
        try:
            key, jkt = _public_key(json.dumps(jwk, sort_keys=True))
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidDPoPProof("The DPoP proof's jwk must be a public key.") from None
        try:
            obj = jws.deserialize_compact(proof, key, algorithms=[alg])  # check 6
            claims = json.loads(obj.payload)
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidDPoPProof("The DPoP proof's signature does not verify.") from None
        if not isinstance(claims, dict):
            raise InvalidDPoPProof("The DPoP proof's claims are not an object.")
        jti, htm, htu, iat = (claims.get(k) for k in ("jti", "htm", "htu", "iat"))
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:  # §4.2
            raise InvalidDPoPProof("The DPoP proof needs a jti of 8 to 256 characters.")
        if htm != method.upper():  # §4.3 check 8
            raise InvalidDPoPProof("The DPoP proof's htm does not match the request method.")
        if not isinstance(htu, str) or normalise_htu(htu) != normalise_htu(url):  # check 9
            raise InvalidDPoPProof("The DPoP proof's htu does not match the request URL.")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise InvalidDPoPProof("The DPoP proof needs a numeric iat.")
        now = self.clock()
        if iat > now + self.max_skew or iat < now - self.max_age:  # §4.3 check 11, §11.1
            raise InvalidDPoPProof("The DPoP proof was not created within the accepted window.")
        if access_token is not None:  # §4.3 check 12 (resource requests)
            if claims.get("ath") != access_token_hash(access_token):
                raise InvalidDPoPProof("The DPoP proof's ath does not match the access token.")
        # §11.1: remembered for the proof's whole window plus skew
        return PendingProof(jkt, jti, self.mark_used(f"{jkt}:{jti}",
                                                     self.max_age + self.max_skew))


class ProofKey:
    """The client side (§4.2): a key pair and proofs signed with it. Palisade's own clients use
    it (the incident replays act as apps; the benchmarks and tests too)."""

    def __init__(self, alg: str = "ES256") -> None:
        if alg not in ("ES256", "Ed25519", "EdDSA"):
            raise ValueError("ES256 or Ed25519")
        self.alg = alg
        self.key = OKPKey.generate_key("Ed25519") if alg != "ES256" else ECKey.generate_key(
            "P-256")
        self.public_jwk = self.key.as_dict(private=False)
        self.jkt = self.key.thumbprint()

    def proof(self, method: str, url: str, access_token: str | None = None,
              iat: float | None = None, jti: str | None = None, typ: str = "dpop+jwt",
              **claims: object) -> str:
        header = {"typ": typ, "alg": self.alg, "jwk": self.public_jwk}
        payload = {"jti": jti or secrets.token_urlsafe(16), "htm": method, "htu": url,
                   "iat": int(time.time() if iat is None else iat), **claims}
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        return jws.serialize_compact(header, json.dumps(payload).encode(), self.key,
                                     algorithms=[self.alg])
