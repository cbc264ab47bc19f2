"""Problem Details for HTTP APIs (RFC 9457): every error is application/problem+json with a
stable `type` URI, a `title`, the `status`, and a `detail` a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from palisade.adapters.oauth.rfc9449_dpop import SIGNING_ALGORITHMS as DPOP_ALGORITHMS
from palisade.domain.errors import ALL_ERRORS, DomainError, InvalidAppToken
from palisade.logging import get_logger
from palisade.services.accounts import DeliveryUnavailable

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/v1/problems/"  # RFC 9457 §3.1.1: resolved against the API's base; served below

log = get_logger("palisade.http")

_STATUS_CODES = {
    400: ("bad-request", "The request is malformed"),
    401: ("unauthenticated", "Sign in to do this"),
    403: ("forbidden", "You are not allowed to do this"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "That method is not allowed here"),
    413: ("too-large", "The request is too large"),
    415: ("unsupported-media-type", "Send application/json"),
    422: ("invalid-input", "The request contains an invalid value"),
    429: ("rate-limited", "Too many requests; try again later"),
    500: ("server-error", "Something went wrong on our side"),
}

PROBLEM_TYPES: dict[str, str] = {e.code: e.title for e in (*ALL_ERRORS, DeliveryUnavailable)}
PROBLEM_TYPES.update({code: title for code, title in _STATUS_CODES.values()})
PROBLEM_TYPES["validation-error"] = "Some fields of the request are not valid"


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def problem(status: int, code: str, title: str, detail: str,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, InvalidAppToken):  # RFC 9449 §7.1
        headers["WWW-Authenticate"] = (f'DPoP error="{exc.error}", '
                                       f'algs="{" ".join(DPOP_ALGORITHMS)}"')
    elif exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(exc.status, exc.code, exc.title, exc.detail, headers or None, **exc.extra)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: pydantic's `input` would echo the submitted value (maybe PII).
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
               "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "validation-error", PROBLEM_TYPES["validation-error"],
                   f"Some fields are not valid: {summary}", errors=errors)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, ("error", "The request failed"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(exc.status_code, code, title, detail, dict(exc.headers or {}) or None)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The type only: an exception's message may contain data.
    log.error("unhandled_error", error_type=type(exc).__name__, route=_route(request))
    return problem(500, "server-error", "Something went wrong on our side",
                   "The request was not carried out. Nothing was changed. Try again later.")


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def install(app: Any) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


# For OpenAPI: every route documents its problem responses with this schema.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "content": {MEDIA_TYPE: {}},
                "description": _STATUS_CODES.get(s, ("", "Error"))[1]} for s in statuses}
