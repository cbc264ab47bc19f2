"""The attacker's HTTP client: counts every request and keeps every loop bounded, in
requests and in seconds, so that a replay always ends."""

from __future__ import annotations

import time
from typing import Any

import httpx


class BudgetSpent(RuntimeError):
    """The replay's request or time budget ran out."""


class Budget:
    def __init__(self, requests: int, seconds: float) -> None:
        self.max_requests, self.seconds = requests, seconds
        self.requests = 0
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spend(self) -> None:
        if self.requests >= self.max_requests:
            raise BudgetSpent(f"request budget of {self.max_requests} spent")
        if self.elapsed > self.seconds:
            raise BudgetSpent(f"time budget of {self.seconds:.0f} s spent")
        self.requests += 1

    def left(self) -> bool:
        return self.requests < self.max_requests and self.elapsed <= self.seconds


class Client:
    """httpx over one source address (for address rotation, many clients bound to
    different 127.x.y.z addresses), every request charged to a shared budget."""

    def __init__(self, base_url: str, budget: Budget, source: str | None = None,
                 token: str | None = None) -> None:
        transport = httpx.HTTPTransport(local_address=source) if source else None
        self.base_url = base_url
        self.budget = budget
        self._http = httpx.Client(base_url=base_url, timeout=30, transport=transport)
        self.token = token

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, token: str | None = None,
                **kwargs: Any) -> httpx.Response:
        self.budget.spend()
        headers = dict(kwargs.pop("headers", None) or {})
        token = token or self.token
        if token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        return self._http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The response, if its status is one of `statuses`; else a ReplayError saying what
    the server answered (a setup step that fails makes the replay an ERROR)."""
    if response.status_code not in statuses:
        raise ReplayError(f"{response.request.method} {response.request.url.path}: "
                          f"{response.status_code} {response.text[:300]}")
    return response


class ReplayError(RuntimeError):
    """A step the replay needs (not the attack) failed: the verdict is ERROR."""
