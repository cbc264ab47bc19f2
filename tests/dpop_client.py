"""A minimal DPoP client for tests (RFC 9449 §4): a key pair and proofs made with joserfc."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from palisade.adapters.oauth.rfc9449_dpop import access_token_hash


@dataclass
class DPoPKey:
    alg: str = "ES256"
    key: ECKey | OKPKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = (OKPKey.generate_key("Ed25519") if self.alg in ("EdDSA", "Ed25519")
                    else ECKey.generate_key("P-256"))

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(self, method: str, url: str, access_token: str | None = None,
              iat: float | None = None, jti: str | None = None, typ: str = "dpop+jwt",
              extra_header: dict | None = None, **claims: object) -> str:
        header = {"typ": typ, "alg": self.alg, "jwk": self.key.as_dict(private=False),
                  **(extra_header or {})}
        payload = {"jti": jti or secrets.token_urlsafe(16), "htm": method, "htu": url,
                   "iat": int(time.time() if iat is None else iat), **claims}
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        import json
        return jws.serialize_compact(header, json.dumps(payload).encode(), self.key,
                                     algorithms=[self.alg])
