"""The ledger as a Merkle tree, read from the database.

Leaf ``i`` (0-based) is the stored payload bytes of the entry with seq ``i + 1``.
``scan_ledger`` streams the entries once, in seq order and in keyset pages (never the
whole table in memory), checking the hash chain and computing the RFC 6962 root at any
tree sizes asked for. ``LedgerTree`` answers subtree hashes for proofs: perfect, aligned
subtrees of at least 2**CACHE_LEVEL entries come from the ``SubtreeHash`` cache (filled
while scanning, or on first use), smaller ones are hashed from the entries, so a proof
in a tree of a million entries reads a few thousand rows at most.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection

from . import merkle
from .models import AuditEvent, SubtreeHash
from .services import GENESIS_HASH

CACHE_LEVEL = 8  # subtrees of 256 entries and more are cached
PAGE = 5000


def ledger_size() -> int:
    """The highest seq written (the tree size of the whole ledger when it is intact)."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def iter_entries(first_seq: int, last_seq: int, columns: str = "seq, payload") -> Iterator[tuple]:
    """Rows of entries first_seq..last_seq in seq order, fetched in keyset pages."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    after = first_seq - 1
    while after < last_seq:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
                [after, last_seq, PAGE],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


class SubtreeCollector:
    """Collects the perfect subtrees a CompactRange completes and saves them in batches."""

    def __init__(self, batch: int = 2000):
        self.pending: list[SubtreeHash] = []
        self.batch = batch
        self.enabled = True

    def __call__(self, level: int, index: int, digest: bytes) -> None:
        if not self.enabled:
            return
        self.pending.append(SubtreeHash(level=level, index=index, hash=digest.hex()))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            SubtreeHash.objects.bulk_create(self.pending, ignore_conflicts=True)
            self.pending = []


@dataclass
class ScanResult:
    """The chain check (as verify_chain reports it) and the roots asked for."""

    size: int = 0  # entries read
    events: int = 0  # entries before the first bad one
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None
    roots: dict[int, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    def chain(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head_hash": self.head_hash, "first_bad_seq": self.first_bad_seq}


def scan_ledger(*, size: int | None = None, root_sizes: Iterable[int] = (), store_subtrees: bool = False) -> ScanResult:
    """Check the hash chain of entries 1..size (default: all) and compute the Merkle root
    at each of ``root_sizes`` (sizes beyond the entries read get no root).

    The chain is judged from the stored bytes alone: each entry's seq follows the previous
    one, its payload says the same seq and the previous entry's hash, and SHA-256 of the
    payload is the stored hash. Without ``root_sizes`` the scan stops at the first bad entry."""
    last = ledger_size() if size is None else size
    wanted = sorted(set(root_sizes))
    result = ScanResult()
    if 0 in wanted:
        result.roots[0] = merkle.EMPTY_ROOT
    pending_sizes = [n for n in wanted if 0 < n <= last]
    collector = SubtreeCollector() if store_subtrees else None
    build_tree = bool(pending_sizes) or collector is not None
    tree = merkle.CompactRange(on_node=collector, min_level=CACHE_LEVEL)
    append, loads, sha256, leaf_prefix = tree.append, json.loads, hashlib.sha256, merkle.LEAF_PREFIX
    upcoming = iter(pending_sizes)
    next_root_at = next(upcoming, -1)
    prev_hash, events, count, bad = GENESIS_HASH, 0, 0, None
    # One tight loop: this is what verifying a million entries spends its time in.
    for seq, payload, stored_prev, stored_hash in iter_entries(1, last, "seq, payload, prev_hash, hash"):
        data = payload.encode("utf-8")
        if bad is None:
            try:
                body = loads(payload)
                body_seq, body_prev = body["seq"], body["prev_hash"]
            except (ValueError, TypeError, KeyError):
                body_seq = body_prev = None
            if (
                seq == events + 1 == body_seq
                and stored_prev == prev_hash == body_prev
                and sha256(data).hexdigest() == stored_hash
            ):
                events += 1
                prev_hash = stored_hash
            else:
                bad = seq
                if collector is not None:
                    collector.enabled = False  # only subtrees of entries that check out are cached
                if not build_tree or next_root_at < 0:
                    break
        if build_tree:
            append(sha256(leaf_prefix + data).digest())
        count += 1
        if count == next_root_at:
            result.roots[count] = tree.root()
            next_root_at = next(upcoming, -1)
            if next_root_at < 0 and bad is not None:
                break
    if collector is not None:
        collector.flush()
    result.size, result.events, result.head_hash, result.first_bad_seq = count, events, prev_hash, bad
    return result


def compute_root(size: int) -> bytes:
    """MTH of entries 1..size, straight from the entries (no cache)."""
    return merkle.root_of_data(payload.encode("utf-8") for _seq, payload in iter_entries(1, size))


def _leaf_hashes(first_seq: int, last_seq: int) -> list[bytes]:
    """Leaf hashes of entries first_seq..last_seq, stopping at the first missing sequence number:
    a deleted entry must not shift later entries into its place."""
    leaves = []
    for expected, (seq, payload) in enumerate(iter_entries(first_seq, last_seq), start=first_seq):
        if seq != expected:
            raise LookupError(f"the ledger has no entry {expected}")
        leaves.append(merkle.leaf_hash(payload.encode("utf-8")))
    return leaves


class LedgerTree:
    """Subtree hashes of the ledger for proofs, with the SubtreeHash cache."""

    def __init__(self):
        self._memo: dict[tuple[int, int], bytes] = {}
        self._blocks: dict[int, list[bytes]] = {}

    def _cached(self, level: int, index: int) -> bytes | None:
        value = SubtreeHash.objects.filter(level=level, index=index).values_list("hash", flat=True).first()
        return bytes.fromhex(value) if value else None

    def _from_entries(self, start: int, end: int) -> bytes:
        block = start >> CACHE_LEVEL
        if (end - 1) >> CACHE_LEVEL == block:
            # Within one aligned block: its leaves are read once for all the small subtrees of a proof.
            if block not in self._blocks:
                first = block << CACHE_LEVEL
                self._blocks[block] = _leaf_hashes(first + 1, first + (1 << CACHE_LEVEL))
            offset = block << CACHE_LEVEL
            leaves = self._blocks[block][start - offset : end - offset]
        else:
            leaves = _leaf_hashes(start + 1, end)
        if len(leaves) != end - start:
            raise LookupError(f"the ledger has no entries {start + 1}..{end}")
        return merkle.root_of_leaf_hashes(leaves)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        key = (start, end)
        if key in self._memo:
            return self._memo[key]
        size = end - start
        if size <= 0:
            raise ValueError("empty subtree")
        perfect = size & (size - 1) == 0 and start % size == 0
        level = size.bit_length() - 1
        if perfect and level >= CACHE_LEVEL:
            digest = self._cached(level, start >> level)
            if digest is None:
                if level == CACHE_LEVEL:
                    digest = self._from_entries(start, end)
                else:
                    half = size // 2
                    digest = merkle.node_hash(self.subtree(start, start + half), self.subtree(start + half, end))
                SubtreeHash.objects.bulk_create(
                    [SubtreeHash(level=level, index=start >> level, hash=digest.hex())], ignore_conflicts=True
                )
        elif size <= 1 << CACHE_LEVEL:
            digest = self._from_entries(start, end)
        else:
            k = merkle.largest_power_of_two_below(size)
            digest = merkle.node_hash(self.subtree(start, start + k), self.subtree(start + k, end))
        self._memo[key] = digest
        return digest

    def root(self, size: int) -> bytes:
        return merkle.EMPTY_ROOT if size == 0 else self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self.subtree)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(first, second, self.subtree)
