"""Merkle hash trees as specified by RFC 6962 §2.1 and RFC 9162 §2.1 (Certificate
Transparency): tree heads, inclusion proofs and consistency proofs, and their verification.

Standard library only, so an exported log can be checked with this file alone. The tree is
SHA-256 with domain separation: leaves hash as H(0x00 || data), interior nodes as
H(0x01 || left || right), and the empty tree as H(""). `subtree` gives the hash of any
leaf range; it is what lets a store answer proofs for a large log from stored interior
hashes instead of recomputing from every leaf.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify, or a request outside the tree."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d0}) = HASH(0x00 || d0)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


SubtreeHash = Callable[[int, int], bytes]  # (start, end) -> MTH(D[start:end])


def in_memory(leaves: Sequence[bytes]) -> SubtreeHash:
    """Subtree hashes of a list of leaf hashes, computed on demand (for tests and exports)."""

    def subtree(start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return leaves[start]
        k = split_point(n)
        return node_hash(subtree(start, start + k), subtree(start + k, end))

    return subtree


def root(size: int, subtree: SubtreeHash) -> bytes:
    """The tree head hash MTH(D[0:size])."""
    return subtree(0, size) if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]): the audit path for leaf `index`, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError("leaf index outside the tree")
    path: list[bytes] = []

    def walk(m: int, start: int, end: int) -> None:
        n = end - start
        if n == 1:
            return
        k = split_point(n)
        if m < k:
            walk(m, start, start + k)
            path.append(subtree(start + k, end))
        else:
            walk(m - k, start + k, end)
            path.append(subtree(start, start + k))

    walk(index, 0, size)
    return path


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) between tree heads of sizes size1 <= size2."""
    if not 0 < size1 <= size2:
        raise ProofError("consistency needs 0 < size1 <= size2")
    proof: list[bytes] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree(start, end))
            return
        k = split_point(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            proof.append(subtree(start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            proof.append(subtree(start, start + k))

    subproof(size1, 0, size2, True)
    return proof


def _check_hashes(*hashes: bytes) -> None:
    if any(not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a hash is not 32 bytes")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1-6: the root implied by a leaf hash and its audit path."""
    if not 0 <= index < size:
        raise ProofError("leaf index outside the tree")
    _check_hashes(leaf, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     expected_root: bytes) -> None:
    """Raise ProofError unless `leaf` is at `index` in the tree of `size` with this root."""
    _check_hashes(expected_root)
    if not hmac.compare_digest(root_from_inclusion(index, size, leaf, proof), expected_root):
        raise ProofError("the inclusion proof does not lead to the expected root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless the tree of size2 with root2 extends the
    tree of size1 with root1 (append-only)."""
    if size1 < 0 or size2 < size1:
        raise ProofError("size2 must not be smaller than size1")
    if size1 == size2:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        _check_hashes(root1, root2)
        if not hmac.compare_digest(root1, root2):
            raise ProofError("equal sizes with different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes(root1, root2, *proof)
    nodes = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 a power of two: prepend root1
        nodes.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if not (hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)):
        raise ProofError("the consistency proof does not lead to both roots")
