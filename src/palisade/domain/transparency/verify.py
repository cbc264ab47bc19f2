"""Check an exported access log offline: `palisade verify FILE`, or import this module alone
(it needs only the standard library and pyca `cryptography` for Ed25519 — nothing of the
server). It checks the signed tree head, that every entry hashes to its leaf and is included
under that head (RFC 9162 §2.1.3), that the person's entries form an unbroken chain, and, when
the export carries an earlier head, that the log only grew since (RFC 9162 §2.1.4).

The export is the JSON of `GET /v1/me/access-log` (optionally with `?earlier_size=N`)."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field

from palisade.domain.transparency import rfc6962

HEAD_DOMAIN = b"palisade-log-tree-head/v1\n"


def head_message(size: int, timestamp_ms: int, root: bytes) -> bytes:
    """What a tree head signature covers: a domain tag, the tree size and the timestamp as
    64-bit big-endian integers, and the root hash (in the spirit of RFC 6962 §3.5)."""
    return HEAD_DOMAIN + struct.pack(">QQ", size, timestamp_ms) + root


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entry: dict) -> bytes:
    """The exact bytes a leaf hashes (domain.transparency.entries.encode): JSON with sorted
    keys, no spaces, UTF-8."""
    return _CANONICAL.encode(entry).encode("utf-8")


def signature_ok(public_key: bytes, size: int, timestamp_ms: int, root: bytes,
                 signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, head_message(size, timestamp_ms, root))
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass
class Report:
    size: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _b(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def verify_export(doc: dict, trusted_public_key: bytes | None = None) -> Report:
    report = Report()
    try:
        head = doc["head"]
        public = trusted_public_key or _b(head["public_key"])
        size, root, ts = int(head["size"]), _b(head["root"]), int(head["timestamp_ms"])
        report.size = size
        if size and not signature_ok(public, size, ts, root, _b(head["signature"])):
            report.problems.append("the tree head's signature does not verify")
        else:
            report.checked.append(f"signed tree head of size {size}")
        entries = sorted(doc.get("entries", []), key=lambda e: e["index"])
        report.entries = len(entries)
        prev, seq = None, None
        for e in entries:
            leaf = rfc6962.leaf_hash(canonical(e["entry"]))
            if leaf != _b(e["leaf_hash"]):
                report.problems.append(f"entry {e['index']} does not hash to its leaf")
                continue
            try:
                rfc6962.verify_inclusion(int(e["index"]), size, leaf,
                                         [_b(x) for x in e["inclusion_proof"]], root)
            except rfc6962.ProofError as exc:
                report.problems.append(f"entry {e['index']} is not proven in the log: {exc}")
            entry = e["entry"]
            if seq is None:
                if entry.get("seq") != 0 or entry.get("prev") is not None:
                    report.problems.append("the first entry is not the start of the chain")
            elif entry.get("seq") != seq + 1 or entry.get("prev") != prev:
                report.problems.append(f"the chain breaks before entry {e['index']}")
            seq, prev = entry.get("seq"), leaf.hex()
        if entries and not report.problems:
            report.checked.append(f"{len(entries)} entries included and chained")
        earlier = doc.get("earlier")
        if earlier:
            eh = earlier["head"]
            esize, eroot = int(eh["size"]), _b(eh["root"])
            if not signature_ok(public, esize, int(eh["timestamp_ms"]), eroot,
                                _b(eh["signature"])):
                report.problems.append("the earlier head's signature does not verify")
            try:
                rfc6962.verify_consistency(esize, size,
                                           [_b(x) for x in earlier["consistency_proof"]],
                                           eroot, root)
                report.checked.append(f"the log of size {size} extends the one of size {esize}")
            except rfc6962.ProofError as exc:
                report.problems.append(f"the log was not only appended to: {exc}")
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"the export is malformed: {type(exc).__name__}: {exc}")
    return report


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m palisade.domain.transparency.verify EXPORT.json")
        return 2
    import zipfile

    if zipfile.is_zipfile(args[0]):  # a whole personal-data export: its access_log.json
        with zipfile.ZipFile(args[0]) as z:
            report = verify_export(json.loads(z.read("access_log.json")))
    else:
        with open(args[0], encoding="utf-8") as f:
            report = verify_export(json.load(f))
    for line in report.checked:
        print("ok  ", line)
    for line in report.problems:
        print("FAIL", line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
