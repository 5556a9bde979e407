"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure Python (hashlib only), no Django: the tree of the ledger is built over the stored
payload bytes of its entries in ``seq`` order (leaf index = seq - 1).

- leaf hash  = SHA-256(0x00 || leaf bytes)
- node hash  = SHA-256(0x01 || left || right)
- MTH({})    = SHA-256() (the empty tree)
- MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Roots are computed in one streamed pass with a compact range (a stack of at most
log2(n) perfect subtree hashes): O(n) hashing, O(log n) memory. Proofs are generated
from a ``subtree(start, end)`` callable that returns MTH(D[start:end]) however it likes
(from a list in memory, or from the database with cached subtree hashes, see
``audit.tree``): a proof needs only the O(log n) subtrees the RFC names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962 §2.1: the largest power of two smaller than n (n > 1)."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """Appends leaf hashes one by one and gives the root of the tree so far at any moment.

    ``nodes`` holds the perfect subtrees covering the leaves appended so far, largest
    (leftmost) first: one per set bit of ``size``. ``on_node(level, index, hash)`` is called
    for every perfect subtree completed at ``level >= min_level`` (index = its position
    among the subtrees of that level), for callers that cache them.
    """

    __slots__ = ("size", "nodes", "_on_node", "_min_level")

    def __init__(self, on_node: Callable[[int, int, bytes], None] | None = None, min_level: int = 0):
        self.size = 0
        self.nodes: list[bytes] = []
        self._on_node = on_node
        self._min_level = min_level

    def append(self, leaf: bytes) -> None:
        """Append one leaf *hash* (not the leaf bytes)."""
        nodes = self.nodes
        nodes.append(leaf)
        self.size += 1
        size = self.size
        if size & 1 and (self._on_node is None or self._min_level):  # half of all appends: nothing to merge or report
            return
        level = 0
        # Each trailing zero bit of the new size merges the two rightmost subtrees.
        while not size & 1:
            right = nodes.pop()
            nodes[-1] = node_hash(nodes[-1], right)
            level += 1
            size >>= 1
            if self._on_node is not None and level >= self._min_level:
                self._on_node(level, (self.size >> level) - 1, nodes[-1])
        if self._on_node is not None and self._min_level == 0:
            self._on_node(0, self.size - 1, leaf)

    def append_data(self, data: bytes) -> None:
        self.append(leaf_hash(data))

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded right to left."""
        if not self.nodes:
            return EMPTY_ROOT
        nodes = self.nodes
        result = nodes[-1]
        for node in reversed(nodes[:-1]):
            result = node_hash(node, result)
        return result


def root_of_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    tree = CompactRange()
    for leaf in leaf_hashes:
        tree.append(leaf)
    return tree.root()


def root_of_data(leaves: Iterable[bytes]) -> bytes:
    return root_of_leaf_hashes(leaf_hash(data) for data in leaves)


class MemoryTree:
    """A tree whose leaf hashes are all in memory: for tests and small exports."""

    def __init__(self, leaf_hashes: Sequence[bytes]):
        self.leaves = list(leaf_hashes)

    @classmethod
    def of_data(cls, leaves: Iterable[bytes]) -> MemoryTree:
        return cls([leaf_hash(data) for data in leaves])

    def subtree(self, start: int, end: int) -> bytes:
        return root_of_leaf_hashes(self.leaves[start:end])

    def root(self, size: int | None = None) -> bytes:
        return self.subtree(0, len(self.leaves) if size is None else size)


# --------------------------------------------------------------------------- proof generation


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 §2.1.1, the leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root; the sibling of each step is appended, so reverse at the end.
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 6962 §2.1.2 (empty when first is 0 or equals second)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == 0 or first == second:
        return []
    proof: list[bytes] = []
    m, start, end, complete = first, 0, second, True
    # SUBPROOF(m, D[start:end], complete), iteratively; the RFC appends on the way back up.
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


# --------------------------------------------------------------------------- proof verification (RFC 9162 §2.1.3.2, §2.1.4.2)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` gives for ``leaf`` (a leaf hash) at ``index``, or None if malformed."""
    if not 0 <= index < size or any(len(node) != HASH_SIZE for node in proof) or len(leaf) != HASH_SIZE:
        return None
    fn, sn, result = index, size - 1, leaf
    for node in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(node, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, node)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of size ``second`` extends the tree of size ``first``."""
    if not 0 <= first <= second:
        return False
    if any(len(node) != HASH_SIZE for node in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first root is itself a node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
