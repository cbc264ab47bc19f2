"""The FastAPI application: routers, problem handlers, security headers, metrics, and the
background purge of disappeared messages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool

from palisade import __version__
from palisade.adapters.storage.database import checkpoint_wal
from palisade.bootstrap import Platform, build
from palisade.config import Settings
from palisade.entrypoints.http import problems
from palisade.entrypoints.http.routers import (
    admin,
    apps,
    auth,
    conversations,
    discovery,
    graph,
    leaks,
    me,
    notifications,
    oauth,
    people,
    privacy_center,
    social,
    transparency,
)
from palisade.logging import configure, get_logger

log = get_logger("palisade.http")

REQUESTS = Counter("palisade_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("palisade_http_request_seconds", "HTTP request latency", ["route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
PURGED = Counter("palisade_purged_messages_total", "Disappeared messages deleted")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # personal data must not sit in shared caches
}


def _background_tasks(platform: Platform) -> list[tuple[str, Callable[[], object]]]:
    """What every process does each purge interval, in order. Each runs on its own: one
    failing (a mail server down, a lock wait) does not skip the others."""

    def purge() -> None:
        PURGED.inc(platform.maintenance.purge().messages)

    return [("purge", purge), ("wind_up_partners", platform.partners.wind_up),
            ("sequence_access_log", platform.transparency.sequence),
            ("send_notifications", platform.notifications.send_due),
            ("deliver_callbacks", platform.callbacks.deliver_due)]


async def _purge_loop(platform: Platform) -> None:
    interval = max(1, platform.settings.purge_interval_seconds)
    tasks = _background_tasks(platform)
    while True:
        await asyncio.sleep(interval)
        for name, task in tasks:
            try:
                await run_in_threadpool(task)
            except Exception as exc:  # try again next tick; never crash the server
                log.error("background_task_failed", task=name, error_type=type(exc).__name__)


async def _audit_loop(platform: Platform) -> None:
    """The automatic app audits. Every process runs them; a finding already in the alert list
    is not repeated, so several processes only repeat the work, not the alerts."""
    interval = max(60, platform.settings.audit_interval_seconds)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(platform.audits.run)
        except Exception as exc:  # keep auditing on the next tick; never crash the server
            log.error("audit_failed", error_type=type(exc).__name__)


WAL_CHECKPOINT_SECONDS = 1.0


async def _checkpoint_loop(platform: Platform) -> None:
    """The embedded database (SQLite): checkpoint its write-ahead log off the request path
    (adapters.storage.database.checkpoint_wal)."""
    while True:
        await asyncio.sleep(WAL_CHECKPOINT_SECONDS)
        try:
            await run_in_threadpool(checkpoint_wal, platform.engine)
        except Exception as exc:  # the commit-time backstop still bounds the log
            log.error("wal_checkpoint_failed", error_type=type(exc).__name__)


def create_app(platform: Platform) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_purge_loop(platform)),
                 asyncio.create_task(_audit_loop(platform))]
        if platform.engine.dialect.name == "sqlite":
            tasks.append(asyncio.create_task(_checkpoint_loop(platform)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Palisade",
        version=__version__,
        description="People's profiles, relationships and messages, served under their "
        "own rules. Errors are RFC 9457 problem documents.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    problems.install(app)
    for module in (auth, me, notifications, people, social, conversations, discovery, apps,
                   graph, oauth, transparency, admin, privacy_center, leaks):
        app.include_router(module.router)

    @app.middleware("http")
    async def observe(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            response: Response = await call_next(request)
        except Exception as exc:  # noqa: BLE001
            # Answer here instead of letting the server's error middleware re-raise: uvicorn
            # would print the traceback, whose messages and SQL parameters may hold PII.
            response = await problems.unexpected_error(request, exc)
        route = getattr(request.scope.get("route"), "path", "unmatched")  # template, no ids
        elapsed = time.perf_counter() - started
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(elapsed)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if response.status_code >= 500:
            log.warning("request", method=request.method, route=route,
                        status=response.status_code, ms=round(elapsed * 1000, 2))
        return response

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/problems/{code}", tags=["operations"])
    def problem_type(code: str) -> JSONResponse:
        """What a problem `type` means (RFC 9457 §3.1.1 suggests the URI be resolvable)."""
        title = problems.PROBLEM_TYPES.get(code)
        if title is None:
            return problems.problem(404, "not-found", "Not found", "No such problem type.")
        return JSONResponse({"type": problems.TYPE_BASE + code, "title": title})

    return app


# Python collects its youngest generation every 700 net allocations; a 1,000-entry address-book
# sync allocates tens of thousands of objects, so that is dozens of collections a request.
GC_YOUNG_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """For a serving process, once the app is wired. The objects built at start-up (SQLAlchemy
    mappers, pydantic schemas, phonenumbers' metadata) live as long as the process, yet every
    full collection walks all of them: `gc.freeze` moves them out of the collector's reach.
    The youngest generation is collected less often (GC_YOUNG_THRESHOLD), which the request
    path's short-lived objects allow. Reference counting still frees everything at once; only
    reference cycles wait a little longer."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` (and `palisade serve`): settings from the environment."""
    settings = Settings()
    configure(settings.log_level)
    app = create_app(build(settings))
    settle_garbage_collector()
    return app
