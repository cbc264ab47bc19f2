"""The Privacy Center: server-rendered pages (Jinja2) where a person signs in with a one-time
code and sees and controls everything: profile and audiences with View As, who can find
them, apps and partners, the access history with its proofs, notifications, export and
account deletion. Every page works without JavaScript.

Security: the session cookie is HttpOnly, SameSite=Strict, scoped to /privacy, and Secure
(with the __Host- prefix) whenever the public URL is https; every form carries a CSRF token
bound to the session (an HMAC of it) and compared in constant time; pages are never framed
and load nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from palisade.bootstrap import Platform
from palisade.domain.apps.grants import FIELD_LABELS, AppField
from palisade.domain.discovery.discoverability import Discoverability
from palisade.domain.errors import DomainError, InvalidInput, Unauthenticated
from palisade.domain.notifications import EmailPreference, NotificationKind
from palisade.domain.profile import Audience, ProfileField
from palisade.entrypoints.http.dependencies import client_address
from palisade.entrypoints.http.forms import csrf_matches, csrf_value, urlencoded_form
from palisade.entrypoints.http.routers.me import erasure_receipt
from palisade.services.accounts import AuthSession
from palisade.services.privacy_center import KIND_LABELS, HistoryFilter

router = APIRouter(prefix="/privacy", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

CONFIRM_DELETE = "delete my account"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
FIELD_NAMES = {
    "name": "Name", "phone": "Phone number", "email": "Email address", "birthday": "Birthday",
    "location": "Location", "bio": "Bio", "relationship_status": "Relationship status",
    "photo_url": "Photo URL",
}
FROM_IDENTIFIERS = {"phone", "email"}  # shown from verified identifiers, not typed in
AUDIENCE_NAMES = {"only_me": "Only me", "friends": "Friends",
                  "friends_of_friends": "Friends of friends", "everyone": "Everyone"}
FINDABLE_NAMES = {
    "everyone": "Anyone who has it",
    "friends_of_friends": "Friends and friends of friends",
    "mutual_contacts": "Only people whose number or email is in my own address book",
    "nobody": "Nobody",
}
NOTIFICATION_NAMES = {
    "new_app_access": "An app or partner gets access to my data",
    "app_new_field": "An app starts using a field it had not used before",
    "new_sign_in": "Someone signs in to my account",
    "stranger_lookups": "Many strangers look me up",
    "leak_found": "My data is found in a leak",
}
PREFERENCE_NAMES = {"immediate": "Email me at once", "daily": "Daily digest",
                    "off": "No email (feed only)"}
NAV = [("profile", "Profile"), ("finding", "Who can find me"), ("apps", "Apps and partners"),
       ("history", "Access history"), ("notifications", "Notifications"),
       ("export", "Export"), ("delete", "Delete account")]


def _platform(request: Request) -> Platform:
    return request.app.state.platform


def _secure(p: Platform) -> bool:
    return p.settings.public_url.startswith("https://")


def _cookie_name(p: Platform) -> str:
    # __Host- (RFC 6265bis §4.1.3.2): Secure, no Domain, Path=/ — only possible over https
    return "__Host-palisade_privacy" if _secure(p) else "palisade_privacy"


class Visit:
    """One request of a signed-in person: their session, its token, the CSRF value."""

    def __init__(self, p: Platform, session: AuthSession, token: str) -> None:
        self.p, self.session, self.token = p, session, token
        self.person_id = session.person_id
        self.csrf = csrf_value(p, b"palisade/privacy-csrf/v1", token)


def _visit(p: Platform, request: Request) -> Visit | None:
    token = request.cookies.get(_cookie_name(p))
    if not token:
        return None
    try:
        return Visit(p, p.accounts.authenticate(token), token)
    except Unauthenticated:
        return None


def _page(request: Request, name: str, visit: Visit | None, status: int = 200,
          **context: Any) -> HTMLResponse:
    context.update(nav=NAV, csrf=visit.csrf if visit else "", signed_in=visit is not None,
                   done=DONE.get(str(context.get("done"))))
    return templates.TemplateResponse(request, f"privacy/{name}.html", context,
                                      status_code=status, headers=PAGE_HEADERS)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/privacy/sign-in", status_code=303)


# What a page says after a change, by code: the query string never carries text onto a page
DONE = {
    "profile": "Your profile is saved.",
    "finding": "Saved. This applies to the next search anyone makes.",
    "removed": "Removed: it can no longer read anything of yours, and it has been asked to "
               "delete what it holds.",
    "renewed": "Renewed for another period.",
    "notifications": "Your notification settings are saved.",
}


def _done(where: str, code: str) -> RedirectResponse:
    return RedirectResponse(f"/privacy/{where}?{urlencode({'done': code})}", status_code=303)


async def _signed_in_form(request: Request) -> tuple[Visit | None, dict[str, str]]:
    """The visit and the form of a POST, or no visit when the session or the CSRF value is
    wrong (the CSRF value is compared as bytes, in constant time)."""
    p = _platform(request)
    form = dict(await urlencoded_form(request))
    visit = await run_in_threadpool(_visit, p, request)
    if visit is None or not csrf_matches(form.get("csrf", ""), visit.csrf):
        return None, form
    return visit, form


def _refused(request: Request) -> HTMLResponse:
    return _page(request, "message", None, 403, title="This form has expired",
                 message="This form has expired or did not come from this site. Sign in and "
                 "try again.")


async def _show(request: Request, name: str,
                context: Callable[[Visit], dict[str, Any]] = lambda _visit: {},
                **extra: Any) -> Response:
    """A page of the signed-in person (or the sign-in page for anyone else)."""
    visit = await run_in_threadpool(_visit, _platform(request), request)
    if visit is None:
        return _to_sign_in()
    shown = await run_in_threadpool(context, visit)
    return _page(request, name, visit, current=name, **shown, **extra)


async def _apply(request: Request, visit: Visit, name: str, change: Callable[[], None],
                 context: Callable[[Visit], dict[str, Any]]) -> Response:
    """Make a change from a page's form; on a mistake show the page again with the error
    (nothing was written), otherwise go back to it with its confirmation."""
    try:
        await run_in_threadpool(change)
    except DomainError as exc:
        shown = await run_in_threadpool(context, visit)
        return _page(request, name, visit, exc.status, current=name, error=exc.detail,
                     **shown)
    return _done(name, name)


# -- signing in --------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    visit = await run_in_threadpool(_visit, _platform(request), request)
    return RedirectResponse("/privacy/profile" if visit else "/privacy/sign-in", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    return _page(request, "sign_in", None)


@router.post("/sign-in/code", response_class=HTMLResponse)
async def send_code(request: Request) -> Response:
    """Send a one-time code. The answer is the same whether or not the identifier belongs to
    anyone."""
    p = _platform(request)
    identifier = dict(await urlencoded_form(request)).get("identifier", "")
    try:
        sent = await run_in_threadpool(p.accounts.request_code, identifier,
                                       client_address(request, p))
    except DomainError as exc:
        return _page(request, "sign_in", None, exc.status, error=exc.detail,
                     identifier=identifier)
    return _page(request, "sign_in", None, identifier=identifier, code_sent_to=sent.sent_to)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    p = _platform(request)
    form = dict(await urlencoded_form(request))
    identifier = form.get("identifier", "")
    try:
        signed = await run_in_threadpool(p.accounts.sign_in_with_code, identifier,
                                         form.get("code", ""))
    except DomainError as exc:
        return _page(request, "sign_in", None, exc.status, error=exc.detail,
                     identifier=identifier, code_sent_to="the same place")
    response = RedirectResponse("/privacy/profile", status_code=303)
    response.set_cookie(_cookie_name(p), signed.token, httponly=True, samesite="strict",
                        secure=_secure(p), path="/" if _secure(p) else "/privacy")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    p = _platform(request)
    visit, _ = await _signed_in_form(request)
    if visit is not None:
        await run_in_threadpool(p.accounts.sign_out, visit.session)
    response = _to_sign_in()
    response.delete_cookie(_cookie_name(p), path="/" if _secure(p) else "/privacy")
    return response


# -- profile, audiences, View As ---------------------------------------------------------------
def _profile_context(visit: Visit, view_as: str | None = None) -> dict[str, Any]:
    p = visit.p
    rendered, audiences = p.profiles.own(visit.person_id)
    rows = [{"field": f.value, "label": FIELD_NAMES[f.value],
             "value": rendered.fields.get(f.value) or "", "audience": audiences[f].value,
             "from_identifiers": f.value in FROM_IDENTIFIERS}
            for f in ProfileField]
    seen = None
    if view_as in {a.value for a in Audience if a is not Audience.ONLY_ME}:
        shown = p.profiles.view_as(visit.person_id, audience=Audience(view_as))
        seen = [(FIELD_NAMES[k], v) for k, v in shown.fields.items() if v]
    return {"rows": rows, "audiences": AUDIENCE_NAMES, "view_as": view_as, "seen": seen,
            "view_as_choices": {k: v for k, v in AUDIENCE_NAMES.items() if k != "only_me"}}


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(request: Request, view_as: str | None = None,
                       done: str | None = None) -> Response:
    return await _show(request, "profile", lambda visit: _profile_context(visit, view_as),
                       done=done)


@router.post("/profile", response_class=HTMLResponse)
async def save_profile(request: Request) -> Response:
    visit, form = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    fields = {f.value: form[f"value_{f.value}"].strip() or None for f in ProfileField
              if f"value_{f.value}" in form and f.value not in FROM_IDENTIFIERS}
    audiences = {f.value: form[f"audience_{f.value}"]
                 for f in ProfileField if f"audience_{f.value}" in form}

    def save() -> None:
        if any(a not in AUDIENCE_NAMES for a in audiences.values()):
            raise InvalidInput("Choose one of the listed audiences.")
        visit.p.profiles.update(visit.person_id, fields, audiences)

    return await _apply(request, visit, "profile", save, _profile_context)


# -- who can find me ---------------------------------------------------------------------------
def _finding_context(visit: Visit) -> dict[str, Any]:
    p = visit.p
    values = {i["id"]: i["value"] for i in p.accounts.identifiers(visit.person_id)}
    rows = [{**s, "value": values.get(s["identifier_id"], "")}
            for s in p.discovery.settings(visit.person_id)]
    return {"rows": rows, "choices": FINDABLE_NAMES,
            "notices": p.discovery.notices(visit.person_id)}


@router.get("/finding", response_class=HTMLResponse)
async def finding_page(request: Request, done: str | None = None) -> Response:
    return await _show(request, "finding", _finding_context, done=done)


@router.post("/finding", response_class=HTMLResponse)
async def save_finding(request: Request) -> Response:
    visit, form = await _signed_in_form(request)
    if visit is None:
        return _refused(request)

    def save() -> None:
        chosen = {s["identifier_id"]: form[f"findable_{s['identifier_id']}"]
                  for s in visit.p.discovery.settings(visit.person_id)
                  if f"findable_{s['identifier_id']}" in form}
        if any(c not in FINDABLE_NAMES for c in chosen.values()):
            raise InvalidInput("Choose one of the listed settings.")  # before any write
        for identifier_id, value in chosen.items():
            visit.p.discovery.set_discoverability(visit.person_id, identifier_id,
                                                  Discoverability(value))

    return await _apply(request, visit, "finding", save, _finding_context)


# -- apps and partners -------------------------------------------------------------------------
@router.get("/apps", response_class=HTMLResponse)
async def apps_page(request: Request, done: str | None = None) -> Response:
    return await _show(request, "apps", lambda visit: {
        "overview": visit.p.privacy_center.apps_overview(visit.person_id)}, done=done)


@router.post("/apps/{app_id}/{action}", response_class=HTMLResponse)
async def app_action(request: Request, app_id: str, action: str) -> Response:
    visit, _ = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    if action not in ("remove", "renew"):
        return _page(request, "message", visit, 404, title="Not found",
                     message="There is no such action.")
    handler = visit.p.apps.remove if action == "remove" else visit.p.apps.renew
    try:
        await run_in_threadpool(handler, visit.person_id, app_id)
    except DomainError as exc:
        return _page(request, "message", visit, exc.status, title="Not done",
                     message=exc.detail)
    return _done("apps", "removed" if action == "remove" else "renewed")


# -- access history ----------------------------------------------------------------------------
def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/history", response_class=HTMLResponse)
async def history_page(request: Request, actor: str | None = None, field: str | None = None,
                       kind: str | None = None, since: str | None = None,
                       until: str | None = None) -> Response:
    keep = HistoryFilter(actor or None, field or None, kind or None, _date(since),
                         _date(until))
    return await _show(request, "history", lambda visit: {
        "history": visit.p.privacy_center.history(visit.person_id, keep)},
        keep=keep, kinds=KIND_LABELS, fields={f.value: FIELD_LABELS[f] for f in AppField},
        since=since or "", until=until or "")


@router.post("/history/verify", response_class=HTMLResponse)
async def verify_history(request: Request) -> Response:
    visit, _ = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    report = await run_in_threadpool(visit.p.privacy_center.verify, visit.person_id)
    return _page(request, "verified", visit, current="history", report=report)


# -- notifications -----------------------------------------------------------------------------
@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, done: str | None = None) -> Response:
    def load(visit: Visit) -> dict[str, Any]:
        notifications = visit.p.notifications
        feed, unread = notifications.feed(visit.person_id)
        prefs = notifications.preferences(visit.person_id)
        notifications.mark_read(visit.person_id)  # seeing the feed is reading it
        return {"feed": feed, "unread": unread,
                "prefs": {k.value: v.value for k, v in prefs.items()}}

    return await _show(request, "notifications", load, done=done, kinds=NOTIFICATION_NAMES,
                       choices=PREFERENCE_NAMES)


@router.post("/notifications", response_class=HTMLResponse)
async def save_notifications(request: Request) -> Response:
    visit, form = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    changes = {k.value: form[f"email_{k.value}"] for k in NotificationKind
               if f"email_{k.value}" in form}
    try:
        if any(v not in {e.value for e in EmailPreference} for v in changes.values()):
            raise InvalidInput("Choose one of the listed options.")
        await run_in_threadpool(visit.p.notifications.set_preferences, visit.person_id,
                                changes)
    except DomainError as exc:
        return _page(request, "message", visit, exc.status, title="Not saved",
                     message=exc.detail)
    return _done("notifications", "notifications")


# -- export ------------------------------------------------------------------------------------
@router.get("/export", response_class=HTMLResponse)
async def export_page(request: Request) -> Response:
    return await _show(request, "export")


@router.post("/export")
async def export(request: Request) -> Response:
    visit, _ = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    out = await run_in_threadpool(visit.p.export.build, visit.person_id)
    return Response(out.data, media_type="application/zip", headers={
        **PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{out.name}"'})


# -- delete my account -------------------------------------------------------------------------
@router.get("/delete", response_class=HTMLResponse)
async def delete_page(request: Request) -> Response:
    return await _show(request, "delete", phrase=CONFIRM_DELETE)


@router.post("/delete", response_class=HTMLResponse)
async def delete(request: Request) -> Response:
    p = _platform(request)
    visit, form = await _signed_in_form(request)
    if visit is None:
        return _refused(request)
    if form.get("confirm", "").strip().lower() != CONFIRM_DELETE:
        return _page(request, "delete", visit, 422, current="delete", phrase=CONFIRM_DELETE,
                     error=f'Type "{CONFIRM_DELETE}" to confirm. Nothing was deleted.')
    erasure = await run_in_threadpool(p.maintenance.erase, visit.person_id)
    receipt = erasure_receipt(p, visit.person_id, erasure)
    response = _page(request, "deleted", None, receipt=receipt,
                     receipt_json=receipt.model_dump_json(indent=2))
    response.delete_cookie(_cookie_name(p), path="/" if _secure(p) else "/privacy")
    return response
