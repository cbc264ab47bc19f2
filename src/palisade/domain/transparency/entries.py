"""What a leaf of the access log says, byte for byte (pure).

An entry is canonical JSON (sorted keys, no spaces, UTF-8): the leaf hash covers exactly these
bytes, so anyone holding an exported entry can recompute its leaf. Each entry names the
previous leaf of the same person (`prev`, its hex leaf hash) and its number among that
person's entries (`seq`): a person's entries form a chain, so an export that left one out,
or a log that dropped one, shows a gap."""

from __future__ import annotations

import json
from dataclasses import dataclass

from palisade.domain.transparency.verify import canonical


@dataclass(frozen=True, slots=True)
class LogEntry:
    kind: str  # "app_access" (more kinds join as the log records them)
    person_id: str | None
    body: dict  # what happened: actor, fields, purpose, outcome, route, at
    seq: int  # 0-based, per person
    prev: str | None  # hex leaf hash of the person's previous entry


def encode(entry: LogEntry) -> bytes:
    doc = {"v": 1, "kind": entry.kind, "person": entry.person_id, "seq": entry.seq,
           "prev": entry.prev, **{f"x_{k}": v for k, v in entry.body.items()}}
    return canonical(doc)


def decode(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))
