"""RFC 6962 / RFC 9162 Merkle trees (domain.transparency.rfc6962).

The reference vectors are the ones the Certificate Transparency reference implementation has
tested against since 2013 (leaves, tree heads for sizes 1-8, inclusion and consistency
proofs), as published in transparency-dev/merkle `proof/verify_test.go` (Apache-2.0). The
corruption probes mirror that file's: every single-bit flip, wrong index, wrong size,
missing, extra or reordered hash must fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palisade.domain.transparency.rfc6962 import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    in_memory,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
# (1-based leaf, tree size, audit path)
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
TREE = in_memory([leaf_hash(x) for x in LEAVES])


def test_tree_heads_match_the_reference() -> None:
    assert root(0, TREE) == EMPTY_ROOT == h(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for size in range(1, 9):
        assert root(size, in_memory([leaf_hash(x) for x in LEAVES[:size]])) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(leaf: int, size: int, path: list[str]) -> None:
    tree = in_memory([leaf_hash(x) for x in LEAVES[:size]])
    proof = inclusion_proof(leaf - 1, size, tree)
    assert proof == [h(p) for p in path]
    verify_inclusion(leaf - 1, size, leaf_hash(LEAVES[leaf - 1]), proof, ROOTS[size - 1])
    for probe in corrupted_inclusion(leaf - 1, size, proof, ROOTS[size - 1],
                                     leaf_hash(LEAVES[leaf - 1])):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(size1: int, size2: int, path: list[str]) -> None:
    tree = in_memory([leaf_hash(x) for x in LEAVES[:size2]])
    proof = consistency_proof(size1, size2, tree)
    assert proof == [h(p) for p in path]
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    verify_consistency(size1, size2, proof, r1, r2)
    if proof:
        for probe in corrupted_consistency(size1, size2, proof, r1, r2):
            with pytest.raises(ProofError):
                verify_consistency(*probe)


def corrupted_inclusion(index: int, size: int, proof: list[bytes], rt: bytes, leaf: bytes
                        ) -> list[tuple]:
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [(index - 1, size, leaf, proof, rt), (index + 1, size, leaf, proof, rt),
              (index ^ 2, size, leaf, proof, rt), (index, size * 2, leaf, proof, rt),
              (index, size // 2, leaf, proof, rt), (index, size, leaf_hash(b"x"), proof, rt),
              (index, size, leaf, proof, EMPTY_ROOT), (index, size, leaf, proof, some),
              (index, size, leaf, [*proof, b""], rt), (index, size, leaf, [*proof, rt], rt),
              (index, size, leaf, [b"", *proof], rt), (index, size, leaf, [rt, *proof], rt)]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, flipped, rt))
    if proof:
        probes.append((index, size, leaf, proof[:-1], rt))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], some, *proof[1:]], rt))
    return [p for p in probes if (p[0], p[1]) != (index, size) or p[2:] != (leaf, proof, rt)]


def corrupted_consistency(size1: int, size2: int, proof: list[bytes], r1: bytes, r2: bytes
                          ) -> list[tuple]:
    wrong = b"WrongRoot".ljust(32, b"\x00")
    probes = [(size1 - 1, size2, proof, r1, r2), (size1 + 1, size2, proof, r1, r2),
              (size1 ^ 2, size2, proof, r1, r2), (size1, size2 * 2, proof, r1, r2),
              (size1, size2 // 2, proof, r1, r2), (size1, size2, proof, wrong, r2),
              (size1, size2, proof, r1, wrong), (size1, size2, proof, r2, r1),
              (size1, size2, [], r1, r2), (size1, size2, [*proof, b""], r1, r2),
              (size1, size2, [*proof, r1], r1, r2), (size1, size2, [*proof, r2], r1, r2),
              (size1, size2, [b"", *proof], r1, r2), (size1, size2, [r1, *proof], r1, r2),
              (size1, size2, [r2, *proof], r1, r2), (size1, size2, [proof[0], *proof], r1, r2),
              (size1, size2, proof[:-1], r1, r2)]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((size1, size2, flipped, r1, r2))
    # a probe that lands on a trivially consistent pair (size1 = 0 or equal sizes) is not a
    # corruption of this proof
    return [p for p in probes if not (p[0] == 0 or p[0] == p[1] or p[1] < p[0])]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_every_proof_of_a_random_tree_verifies_and_corruptions_fail(leaves: list[bytes],
                                                                     data: st.DataObject) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    tree = in_memory(hashes)
    size = len(leaves)
    head = root(size, tree)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, tree)
    verify_inclusion(index, size, hashes[index], proof, head)
    assert len(proof) <= (size - 1).bit_length()
    for probe in corrupted_inclusion(index, size, proof, head, hashes[index]):
        if 0 <= probe[0] < probe[1] and probe[1] <= size and probe[2:] == (
                hashes[probe[0]], inclusion_proof(probe[0], probe[1], tree), root(probe[1], tree)):
            continue  # the probe happens to describe another true statement
        with pytest.raises(ProofError):
            verify_inclusion(*probe)
    size1 = data.draw(st.integers(1, size))
    cproof = consistency_proof(size1, size, tree)
    verify_consistency(size1, size, cproof, root(size1, tree), head)
    if cproof:
        for probe in corrupted_consistency(size1, size, cproof, root(size1, tree), head):
            with pytest.raises(ProofError):
                verify_consistency(*probe)


def test_malformed_inputs_are_proof_errors_not_crashes() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(3, 3, TREE)
    with pytest.raises(ProofError):
        consistency_proof(0, 3, TREE)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"short", [], ROOTS[0])
    with pytest.raises(ProofError):
        verify_consistency(2, 1, [], ROOTS[1], ROOTS[0])
    verify_consistency(0, 5, [], EMPTY_ROOT, ROOTS[4])  # the empty tree precedes every tree
