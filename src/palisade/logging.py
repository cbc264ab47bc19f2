"""Structured logs (structlog, JSON lines) with a last-line defence against PII.

Code never logs identifiers, codes, tokens or profile values; this processor also drops any
event key that names one, so a future mistake is scrubbed rather than shipped.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SENSITIVE = {"phone", "email", "identifier", "code", "token", "password", "body", "name",
              "birthday", "location", "bio", "authorization", "cookie", "value"}


def _scrub(_logger: object, _method: str, event: dict) -> dict:
    for key in list(event):
        if key.lower() in _SENSITIVE:
            event[key] = "[redacted]"
    return event


def configure(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "palisade") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
