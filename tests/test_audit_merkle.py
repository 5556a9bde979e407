"""RFC 6962 Merkle tree: the published test vectors (Certificate Transparency /
transparency-dev), a recursive reference implementation of the RFC's definitions, and
property tests that every generated proof verifies and every tampered one fails."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import merkle

# The leaves and roots of the Certificate Transparency test vectors (RFC 6962 trees).
LEAVES = [
    bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # the empty tree: SHA-256()
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (first size, second size, consistency proof)
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
]  # fmt: skip

TREE = merkle.MemoryTree.of_data(LEAVES)
H = bytes.fromhex


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1, word for word (recursive; leaves are the data, not hashes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def test_roots_of_the_published_vectors():
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    for size in range(len(LEAVES) + 1):
        assert merkle.root_of_data(LEAVES[:size]).hex() == ROOTS[size], size
        assert TREE.root(size).hex() == ROOTS[size], size
        assert reference_mth(LEAVES[:size]).hex() == ROOTS[size], size


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_of_the_published_vectors(index, size, path):
    assert [node.hex() for node in merkle.inclusion_proof(index, size, TREE.subtree)] == path
    leaf = merkle.leaf_hash(LEAVES[index])
    assert merkle.verify_inclusion(index, size, leaf, [H(p) for p in path], H(ROOTS[size]))
    assert not merkle.verify_inclusion(index, size, leaf, [H(p) for p in path], H(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_of_the_published_vectors(first, second, proof):
    assert [node.hex() for node in merkle.consistency_proof(first, second, TREE.subtree)] == proof
    assert merkle.verify_consistency(first, second, H(ROOTS[first]), H(ROOTS[second]), [H(p) for p in proof])


def test_consistency_edge_cases_of_the_verifier():
    """The table of transparency-dev's TestVerifyConsistencyProof."""
    root1, root2, empty = b"1" * 32, b"2" * 32, merkle.EMPTY_ROOT
    assert not merkle.verify_consistency(0, 0, root1, root2, [])  # equal sizes, different roots
    assert not merkle.verify_consistency(1, 1, root1, root2, [])
    assert merkle.verify_consistency(0, 0, root1, root1, [])
    assert merkle.verify_consistency(0, 1, root1, root2, [])  # everything extends the empty tree
    assert merkle.verify_consistency(1, 1, root2, root2, [])
    assert not merkle.verify_consistency(1, 0, root1, root2, [])  # time travel
    assert not merkle.verify_consistency(2, 1, root1, root2, [])
    assert not merkle.verify_consistency(1, 2, root1, root2, [])  # an empty proof for a real extension
    assert not merkle.verify_consistency(0, 0, empty, empty, [empty])  # equal roots but a non-empty proof
    assert not merkle.verify_consistency(0, 1, empty, empty, [empty])
    assert not merkle.verify_consistency(1, 1, empty, empty, [empty])


def test_inclusion_edge_cases_of_the_verifier():
    leaf = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(0, 1, leaf, [], leaf)  # a one-leaf tree: the root is the leaf
    for index, size in [(0, 0), (1, 0), (2, 1), (1, 1)]:
        assert not merkle.verify_inclusion(index, size, leaf, [], leaf)
    assert not merkle.verify_inclusion(0, 1, leaf, [], b"")
    assert not merkle.verify_inclusion(0, 2, leaf, [b"short"], leaf)


def test_compact_range_reports_every_perfect_subtree_it_completes():
    seen = {}
    tree = merkle.CompactRange(on_node=lambda level, index, digest: seen.__setitem__((level, index), digest), min_level=1)
    data = [bytes([i]) for i in range(13)]
    for item in data:
        tree.append_data(item)
    expected = {(level, index) for level in (1, 2, 3) for index in range(13 >> level)}
    assert set(seen) == expected
    for (level, index), digest in seen.items():
        assert digest == reference_mth(data[index << level : (index + 1) << level])
    assert tree.root() == reference_mth(data)


def flip(node: bytes, bit: int = 3) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


def inclusion_forgeries(index, size, leaf, proof, root):
    """Wrong index, size, leaf, root; extra, missing and altered nodes (the probes of transparency-dev)."""
    some = hashlib.sha256(b"some hash").digest()
    yield index - 1, size, leaf, proof, root
    yield index + 1, size, leaf, proof, root
    yield index ^ 2, size, leaf, proof, root
    yield index, size * 2, leaf, proof, root
    yield index, size // 2, leaf, proof, root
    yield index, size, merkle.leaf_hash(b"WrongLeaf"), proof, root
    yield index, size, leaf, proof, merkle.EMPTY_ROOT
    yield index, size, leaf, proof, some
    yield index, size, leaf, [*proof, b""], root
    yield index, size, leaf, [*proof, root], root
    yield index, size, leaf, [b"", *proof], root
    yield index, size, leaf, [root, *proof], root
    for i in range(len(proof)):
        yield index, size, leaf, proof[:i] + [flip(proof[i])] + proof[i + 1 :], root
    if proof:
        yield index, size, leaf, proof[:-1], root
    if len(proof) > 1:
        yield index, size, leaf, [proof[0], some, *proof[1:]], root


def consistency_forgeries(first, second, root1, root2, proof):
    yield first - 1, second, root1, root2, proof
    yield first + 1, second, root1, root2, proof
    yield first ^ 2, second, root1, root2, proof
    yield first, second * 2, root1, root2, proof
    yield first, second // 2, root1, root2, proof
    yield first, second, hashlib.sha256(b"WrongRoot").digest(), root2, proof
    yield first, second, root1, hashlib.sha256(b"WrongRoot").digest(), proof
    yield first, second, root2, root1, proof
    yield first, second, root1, root2, []
    yield first, second, root1, root2, [*proof, b""]
    yield first, second, root1, root2, [*proof, root1]
    yield first, second, root1, root2, [*proof, root2]
    yield first, second, root1, root2, [b"", *proof]
    yield first, second, root1, root2, [root1, *proof]
    yield first, second, root1, root2, [root2, *proof]
    yield first, second, root1, root2, [proof[0], *proof]
    yield first, second, root1, root2, proof[:-1]
    for i in range(len(proof)):
        yield first, second, root1, root2, proof[:i] + [flip(proof[i], 4)] + proof[i + 1 :]


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=140)


@given(leaves=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_no_forgery_does(leaves, data):
    tree = merkle.MemoryTree.of_data(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = tree.root(size)
    assert root == reference_mth(leaves[:size])
    leaf = merkle.leaf_hash(leaves[index])
    proof = merkle.inclusion_proof(index, size, tree.subtree)
    assert merkle.verify_inclusion(index, size, leaf, proof, root)
    for forged in inclusion_forgeries(index, size, leaf, proof, root):
        f_index, f_size, f_leaf, f_proof, f_root = forged
        # With repeated leaves a "forgery" may be the true proof of another position: not a forgery.
        genuine = (
            0 <= f_index < f_size <= len(leaves)
            and f_leaf == merkle.leaf_hash(leaves[f_index])
            and f_root == tree.root(f_size)
            and f_proof == merkle.inclusion_proof(f_index, f_size, tree.subtree)
        )
        assert genuine or not merkle.verify_inclusion(*forged), (f_index, f_size)


@given(leaves=leaf_lists, data=st.data())
def test_every_consistency_proof_verifies_and_no_forgery_does(leaves, data):
    tree = merkle.MemoryTree.of_data(leaves)
    second = data.draw(st.integers(1, len(leaves)), label="second")
    first = data.draw(st.integers(0, second), label="first")
    root1, root2 = tree.root(first), tree.root(second)
    proof = merkle.consistency_proof(first, second, tree.subtree)
    assert merkle.verify_consistency(first, second, root1, root2, proof)
    if not proof:  # first == 0 or first == second: nothing to forge but the roots
        if first == second:
            assert not merkle.verify_consistency(first, second, root1, hashlib.sha256(b"x").digest(), [])
        return
    for forged in consistency_forgeries(first, second, root1, root2, proof):
        f_first, f_second, f_root1, f_root2, f_proof = forged
        genuine = (
            0 <= f_first <= f_second <= len(leaves)
            and (f_root1, f_root2) == (tree.root(f_first), tree.root(f_second))
            and f_proof == merkle.consistency_proof(f_first, f_second, tree.subtree)
        )
        assert genuine or not merkle.verify_consistency(*forged), (f_first, f_second)


@given(leaves=leaf_lists, data=st.data())
def test_a_changed_leaf_breaks_inclusion_and_consistency_with_what_was_published(leaves, data):
    """A leaf changed after a root was published: its inclusion proof no longer leads to the
    published root, and the rewritten tree is not an extension of an earlier published root
    covering that leaf."""
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    published = merkle.root_of_data(leaves)
    changed = list(leaves)
    changed[index] = changed[index] + b"!"
    tree = merkle.MemoryTree.of_data(changed)
    assert not merkle.verify_inclusion(
        index, size, merkle.leaf_hash(changed[index]), merkle.inclusion_proof(index, size, tree.subtree), published
    )
    first = data.draw(st.integers(index + 1, size), label="first")
    earlier_published = merkle.root_of_data(leaves[:first])
    rewritten = tree.root(size)
    assert not merkle.verify_consistency(
        first, size, earlier_published, rewritten, merkle.consistency_proof(first, size, tree.subtree)
    )
