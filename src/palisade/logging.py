"""Structured logs (structlog, JSON lines) with a last-line defence against PII.

Code never logs identifiers, codes, tokens or profile values; this processor also redacts any
event key (or nested key) any of whose words names one, so a future mistake is scrubbed
rather than shipped.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SENSITIVE = {"phone", "email", "identifier", "code", "token", "password", "body", "name",
              "birthday", "location", "bio", "authorization", "cookie", "value", "secret",
              "address", "fields"}
REDACTED = "[redacted]"


def _is_sensitive(key: object) -> bool:
    """A key names PII or a secret if any of its words does: `new_password`, `Session-Token`."""
    words = str(key).lower().replace("-", "_").split("_")
    return any(word in _SENSITIVE for word in words)


def _redact(value: object) -> object:
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def _scrub(_logger: object, _method: str, event: dict) -> dict:
    for key in list(event):
        if key == "event":
            continue
        event[key] = REDACTED if _is_sensitive(key) else _redact(event[key])
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
