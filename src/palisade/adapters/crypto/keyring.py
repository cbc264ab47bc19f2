"""The keyring: master keys (which wrap per-person data keys) and the service's other secrets.

Keys come from configuration, never from code: a JSON file (mode 0600) named by
`PALISADE_KEYS_FILE`, or the same JSON in the `PALISADE_KEYRING` environment variable for
deployments that inject secrets. Several master keys may be present: one is `current` (used to
wrap new data keys); the others still unwrap keys that have not been re-wrapped yet, which is
what lets `palisade keys rotate` run while the service keeps reading.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

KEY_BYTES = 32  # AES-256 and HMAC-SHA-256 keys
SECRET_NAMES = ("blind_index", "one_time_codes", "outbox")


class KeyringError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyringError(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes, found {len(raw)}")
    return raw


def new_key_id() -> str:
    return "mk-" + time.strftime("%Y%m%d") + "-" + secrets.token_hex(4)


@dataclass(frozen=True)
class Keyring:
    master_keys: dict[str, bytes]
    current: str
    secrets: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current not in self.master_keys:
            raise KeyringError(f"current master key {self.current!r} is not in the keyring")
        missing = [n for n in SECRET_NAMES if n not in self.secrets]
        if missing:
            raise KeyringError(f"keyring lacks secrets: {', '.join(missing)}")

    @classmethod
    def generate(cls) -> Keyring:
        key_id = new_key_id()
        return cls(
            master_keys={key_id: secrets.token_bytes(KEY_BYTES)},
            current=key_id,
            secrets={n: secrets.token_bytes(KEY_BYTES) for n in SECRET_NAMES},
        )

    def with_new_master(self) -> Keyring:
        key_id = new_key_id()
        while key_id in self.master_keys:
            key_id = new_key_id()
        keys = dict(self.master_keys)
        keys[key_id] = secrets.token_bytes(KEY_BYTES)
        return replace(self, master_keys=keys, current=key_id)

    def without_masters(self, key_ids: set[str]) -> Keyring:
        if self.current in key_ids:
            raise KeyringError("the current master key cannot be removed")
        return replace(
            self, master_keys={k: v for k, v in self.master_keys.items() if k not in key_ids}
        )

    # --- serialisation -------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "current": self.current,
                "master_keys": {k: _b64(v) for k, v in self.master_keys.items()},
                "secrets": {k: _b64(v) for k, v in self.secrets.items()},
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            doc = json.loads(text)
            return cls(
                master_keys={
                    k: _unb64(v, f"master key {k}") for k, v in doc["master_keys"].items()
                },
                current=doc["current"],
                secrets={k: _unb64(v, f"secret {k}") for k, v in doc["secrets"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"the keyring is malformed: {exc}") from None

    def save(self, path: Path) -> None:
        """Write atomically with owner-only permissions."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


class KeyringSource:
    """Hands out the current keyring and reloads it when the file changes (rotation by
    another process), at most once per `recheck_seconds`, or at once on an unknown key id."""

    def __init__(self, path: Path | None, inline_json: str | None = None,
                 recheck_seconds: float = 1.0) -> None:
        if path is None and inline_json is None:
            raise KeyringError("no keyring configured: set PALISADE_KEYS_FILE or PALISADE_KEYRING")
        self.path = path
        self._inline = inline_json
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._mtime: float | None = None
        self._keyring = self._read()

    def _read(self) -> Keyring:
        if self._inline is not None:
            return Keyring.from_json(self._inline)
        assert self.path is not None
        if not self.path.exists():
            raise KeyringError(f"no keyring at {self.path}; run `palisade init`")
        self._mtime = self.path.stat().st_mtime
        return Keyring.from_json(self.path.read_text())

    def get(self) -> Keyring:
        if self.path is not None and time.monotonic() - self._checked_at > self._recheck:
            self.refresh(force=False)
        return self._keyring

    def refresh(self, force: bool = True) -> Keyring:
        if self.path is None:
            return self._keyring
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                return self._keyring
            if force or mtime != self._mtime:
                self._keyring = self._read()
        return self._keyring

    def replace(self, keyring: Keyring) -> None:
        if self.path is None:
            raise KeyringError(
                "the keyring comes from PALISADE_KEYRING; rotate it by changing that value"
            )
        with self._lock:
            keyring.save(self.path)
            self._keyring = keyring
            self._mtime = self.path.stat().st_mtime
