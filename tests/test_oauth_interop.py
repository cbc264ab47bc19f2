"""Interop proof: a stock OAuth client library (requests-oauth2client, not our code) completes
the whole flow against a live server — authorize with PKCE, consent, token with DPoP, API call,
refresh, revoke — unmodified."""

from __future__ import annotations

import requests
from requests_oauth2client import OAuth2Client
from requests_oauth2client.dpop import MissingDPoPNonce

from tests.apps_helpers import browser_authorize, http_person, register_app


def refused(url: str, token: object, headers: dict[str, str]) -> requests.Response:
    """A call the server must refuse. The library reads any 401 carrying `WWW-Authenticate:
    DPoP` as a nonce request (RFC 9449 §9) and raises when no nonce comes with it; the response
    is on the exception."""
    try:
        return requests.get(url, auth=token, headers=headers, timeout=10)
    except MissingDPoPNonce as exc:
        return exc.response


def test_stock_client_completes_the_whole_flow(live_server, live_platform) -> None:
    base = live_server.url
    with live_server.client() as client:
        developer = http_person(client, live_platform, "Dev Eloper")
        ada = http_person(client, live_platform, "Ada Lovelace")
        client_id, secret = register_app(client, developer, {
            "name": ["sign_in", "personalisation"], "birthday": ["personalisation"]})

    oauth = OAuth2Client.from_discovery_endpoint(
        issuer=base, url=base + "/.well-known/oauth-authorization-server",
        client_id=client_id, client_secret=secret, redirect_uri="http://127.0.0.1:9/callback",
        dpop_bound_access_tokens=True,
        testing=True)  # the library's own switch for non-https (loopback) test servers
    request = oauth.authorization_request(
        scope="name:personalisation birthday:personalisation", resource=base + "/v1/graph")
    location = browser_authorize(base, str(request.uri), ada)
    response = request.validate_callback(location)
    token = oauth.authorization_code(response)
    assert token.token_type == "DPoP"

    graph = base + "/v1/graph/me"
    purpose = {"Palisade-Purpose": "personalisation"}
    me = requests.get(graph, auth=token, headers=purpose, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["fields"] == {"name": "Ada Lovelace", "birthday": "1990-04-01"}
    assert me.json()["id"] != ada.id  # app-scoped, never the internal id

    refreshed = oauth.refresh_token(token)
    assert refreshed.access_token != token.access_token
    assert requests.get(graph, auth=refreshed, headers=purpose, timeout=10).status_code == 200
    # the rotated-out access token no longer works
    assert refused(graph, token, purpose).status_code == 401

    info = oauth.introspect_token(refreshed.access_token)
    assert info["active"] is True and info["cnf"]["jkt"] and info["sub"] == me.json()["id"]

    oauth.revoke_access_token(refreshed)
    gone = refused(graph, refreshed, purpose)
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"].startswith("DPoP ")
    assert oauth.introspect_token(refreshed.access_token)["active"] is False
