"""The OAuth 2.0 endpoints (authorization, token, revocation, introspection, metadata) and the
consent and sign-in pages. Thin: parsing and rendering here, protocol in services.apps."""

from __future__ import annotations

from pathlib import Path

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from palisade.bootstrap import Platform
from palisade.domain.errors import DomainError, Unauthenticated
from palisade.entrypoints.http.dependencies import client_address
from palisade.entrypoints.http.forms import csrf_matches, csrf_value, urlencoded_form
from palisade.services.apps.oauth_server import HttpRequest
from palisade.services.apps.oauth_server import Response as OAuthResponse

router = APIRouter(tags=["oauth"])
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

COOKIE = "palisade_session"
UI_FIELDS = {"csrf", "grant", "decision"}
# The consent page must never be framed (clickjacking) and loads nothing from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _platform(request: Request) -> Platform:
    return request.app.state.platform


def _oauth_request(p: Platform, request: Request, form: list[tuple[str, str]],
                   query: list[tuple[str, str]] | None = None) -> HttpRequest:
    url = p.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return HttpRequest(request.method, url, dict(request.headers),
                       list(request.query_params.multi_items()) if query is None else query,
                       form, dpop_proof=request.headers.get("dpop"))


def _to_response(result: OAuthResponse) -> Response:
    headers = dict(result.headers)
    if result.status == 302:
        return RedirectResponse(headers.pop("Location"), status_code=302, headers=headers)
    headers.pop("Content-Type", None)
    return JSONResponse(result.body if isinstance(result.body, dict) else {},
                        status_code=result.status, headers=headers)


def _csrf(p: Platform, session_token: str) -> str:
    return csrf_value(p, b"palisade/oauth-consent-csrf/v1", session_token)


def _page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status,
                                      headers=PAGE_HEADERS)


def _signed_in(p: Platform, request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    try:
        return p.accounts.authenticate(token).person_id if token else None
    except Unauthenticated:
        return None


def _error_page(request: Request, error: OAuth2Error) -> Response:
    # An error is sent back to the app only when Authlib validated the redirect URI
    # (RFC 6749 §4.1.2.1); otherwise the person sees it here.
    if error.redirect_uri:
        status, _body, headers = error()
        return RedirectResponse(dict(headers)["Location"], status_code=302)
    message = error.description or error.error.replace("_", " ")
    return _page(request, "oauth_error.html", 400, message=message)


@router.get("/.well-known/oauth-authorization-server")
def metadata(request: Request) -> JSONResponse:
    """Authorization server metadata (RFC 8414)."""
    return JSONResponse(_platform(request).oauth.metadata(),
                        headers={"Cache-Control": "public, max-age=3600"})


@router.get("/oauth/authorize", response_class=HTMLResponse)
async def authorize_page(request: Request) -> Response:
    """The authorization endpoint (RFC 6749 §3.1): sign in if needed, then the consent page."""
    p = _platform(request)
    person_id = await run_in_threadpool(_signed_in, p, request)
    if person_id is None:
        return _page(request, "oauth_signin.html", next=str(request.url.path) + "?" +
                     request.url.query)
    oauth_request = _oauth_request(p, request, [])
    try:
        view = await run_in_threadpool(p.oauth.consent, oauth_request, person_id)
    except OAuth2Error as error:
        return _error_page(request, error)
    return _page(request, "oauth_consent.html", view=view,
                 csrf=_csrf(p, request.cookies[COOKIE]),
                 expiry_days=p.settings.app_access_expiry_days)


@router.post("/oauth/authorize")
async def authorize_decision(request: Request) -> Response:
    """The person's answer on the consent page."""
    p = _platform(request)
    form = await urlencoded_form(request)
    person_id = await run_in_threadpool(_signed_in, p, request)
    if person_id is None or not csrf_matches(dict(form).get("csrf", ""),
                                             _csrf(p, request.cookies[COOKIE])):
        return _page(request, "oauth_error.html", 400,
                     message="This form has expired or did not come from this page.")
    params = [(k, v) for k, v in form if k not in UI_FIELDS]
    ticked = [v for k, v in form if k == "grant"]
    allow = dict(form).get("decision") == "allow"
    oauth_request = _oauth_request(p, request, [], query=params)
    oauth_request.method = "GET"  # Authlib validates the authorization request as sent
    result = await run_in_threadpool(p.oauth.decide, oauth_request, person_id, ticked, allow)
    if result.status != 302:
        return _page(request, "oauth_error.html", 400,
                     message=str(result.body.get("error_description") or result.body.get(
                         "error", "The request is not valid."))
                     if isinstance(result.body, dict) else "The request is not valid.")
    return _to_response(result)


def _next(form: dict[str, str]) -> str:
    nxt = form.get("next", "")
    return nxt if nxt.startswith("/oauth/authorize?") else "/oauth/authorize?"  # no open redirect


@router.post("/oauth/signin/code", response_class=HTMLResponse)
async def signin_code(request: Request) -> Response:
    """Send a one-time code for the authorization page (the same answer for members and
    strangers, as everywhere)."""
    p = _platform(request)
    form = dict(await urlencoded_form(request))
    nxt, identifier = _next(form), form.get("identifier", "")
    try:
        sent = await run_in_threadpool(p.accounts.request_code, identifier,
                                       client_address(request, p))
    except DomainError as exc:
        return _page(request, "oauth_signin.html", exc.status, next=nxt, error=exc.detail)
    return _page(request, "oauth_signin.html", next=nxt, identifier=identifier,
                 code_sent_to=sent.sent_to)


@router.post("/oauth/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Sign-in for the authorization page, by password or one-time code; sets an HttpOnly
    session cookie scoped to /oauth."""
    p = _platform(request)
    form = dict(await urlencoded_form(request))
    nxt, identifier = _next(form), form.get("identifier", "")
    try:
        if form.get("code"):
            signed = await run_in_threadpool(p.accounts.sign_in_with_code, identifier,
                                             form["code"])
        else:
            signed = await run_in_threadpool(p.accounts.sign_in_with_password, identifier,
                                             form.get("password", ""),
                                             client_address(request, p))
    except DomainError as exc:
        again = {"identifier": identifier, "code_sent_to": "the same place"} \
            if form.get("code") else {}
        return _page(request, "oauth_signin.html", exc.status, next=nxt, error=exc.detail,
                     **again)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(COOKIE, signed.token, httponly=True, samesite="lax", path="/oauth",
                        secure=p.settings.public_url.startswith("https://"))
    return response


def _too_many(p: Platform, request: Request) -> Response | None:
    """Client-authenticating endpoints verify an argon2id secret per request: a per-address
    budget keeps them from being used to guess secrets or to burn the server's CPU."""
    verdict = p.limiter.hit(f"oauth:addr:{client_address(request, p)}",
                            p.settings.oauth_requests_per_address_per_minute, 60)
    if verdict.allowed:
        return None
    return JSONResponse({"error": "invalid_request",
                         "error_description": "Too many requests from this address; retry "
                                              "later."},
                        status_code=429, headers={"Retry-After": str(verdict.retry_after)})


async def _client_endpoint(request: Request, handler: str) -> Response:
    p = _platform(request)
    refused = await run_in_threadpool(_too_many, p, request)
    if refused is not None:
        return refused
    oauth_request = _oauth_request(p, request, await urlencoded_form(request), query=[])
    return _to_response(await run_in_threadpool(getattr(p.oauth, handler), oauth_request))


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    """The token endpoint (RFC 6749 §3.2): every token is bound to the DPoP key of the proof
    sent with the request (RFC 9449 §5)."""
    return await _client_endpoint(request, "token")


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    """Token revocation (RFC 7009)."""
    return await _client_endpoint(request, "revoke")


@router.post("/oauth/introspect")
async def introspect(request: Request) -> Response:
    """Token introspection (RFC 7662), for an app's own tokens."""
    return await _client_endpoint(request, "introspect")

