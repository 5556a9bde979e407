"""Signed checkpoints of the ledger, and the verification of the whole ledger against them.

``sign_checkpoint`` reads the ledger once: it checks the hash chain, checks that the tree
still has the root of the latest checkpoint at that checkpoint's size, and signs the root
over all entries as a C2SP tlog-checkpoint. It never signs over a broken ledger.

``verify_ledger`` checks the chain, that every entry's columns are copies of its bytes
(audit.copies: the columns are what is shown and who may read an entry, the signatures cover
only the bytes), and every checkpoint: its signature with the configured verifier key, that
what the stored columns say is what was signed, that its root is the root recomputed from the entries at its tree size, and that checkpoints grow in time order.
Two checkpoints whose roots both equal the roots recomputed from the same entries are
consistent (the smaller tree is a prefix of the larger); a consistency proof between them
(``LedgerTree.consistency_proof``) is what a client without the entries checks instead.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import signing
from .copies import check_copies
from .models import Checkpoint
from .tree import ledger_size, scan_ledger

logger = logging.getLogger(__name__)

CHECKPOINT_LOCK_KEY = 0x41554443  # "AUDC": one checkpoint signer at a time
MAX_FAILURES_LISTED = 100


class LedgerBroken(Exception):
    """The ledger does not check out: no checkpoint is signed over it."""

    def __init__(self, message: str, *, first_bad_seq: int | None = None, checkpoint: Checkpoint | None = None):
        super().__init__(message)
        self.first_bad_seq = first_bad_seq
        self.checkpoint = checkpoint


def origin() -> str:
    return signing.check_key_name(settings.AUDIT_LOG_ORIGIN)


def _lock_signing() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK_KEY])


def sign_checkpoint() -> Checkpoint | None:
    """Sign a checkpoint over every entry if the ledger grew since the latest one; None if not.

    Raises SigningKeyMissing without a key, LedgerBroken if the chain or the latest
    checkpoint does not check out."""
    signer = signing.signer()
    latest = Checkpoint.objects.order_by("-tree_size").first()
    size = ledger_size()
    if size == 0 or (latest is not None and latest.tree_size >= size):
        return None
    # Entries are never changed and seq has no gaps, so entries 1..size are all committed
    # and stay as they are while we read them: no long transaction needed.
    scan = scan_ledger(size=size, root_sizes=[size] + ([latest.tree_size] if latest else []), store_subtrees=True)
    if not scan.ok:
        raise LedgerBroken(f"the hash chain breaks at seq {scan.first_bad_seq}: not signing", first_bad_seq=scan.first_bad_seq)
    if scan.size != size:
        raise LedgerBroken(f"the ledger has {scan.size} entries up to seq {size}: not signing")
    if latest is not None:
        problem = checkpoint_problem(latest, signing.verifier(), scan.roots.get(latest.tree_size))
        if problem:
            raise LedgerBroken(f"checkpoint {latest.tree_size}: {problem}: not signing", checkpoint=latest)
    root = scan.roots[size]
    note = signer.sign_note(signing.checkpoint_text(origin(), size, root))
    with transaction.atomic():
        _lock_signing()
        if Checkpoint.objects.filter(tree_size__gte=size).exists():
            return None  # another signer got here first
        checkpoint = Checkpoint.objects.create(
            tree_size=size,
            root_hash=root.hex(),
            origin=origin(),
            key_name=signer.name,
            key_id=signer.verifier.key_id.hex(),
            note=note,
            created_at=timezone.now(),
        )
    logger.info("audit checkpoint signed: tree size %s, root %s", size, root.hex())
    return checkpoint


# --------------------------------------------------------------------------- verification


def checkpoint_problem(checkpoint: Checkpoint, key: signing.VerifierKey | None, recomputed: bytes | None) -> str:
    """Why ``checkpoint`` fails ('' when it does not): signature, stored columns, root."""
    if key is None:
        return "no verifier key is configured (AUDIT_VERIFIER_KEY or the signing key)"
    try:
        key = signing.verifier_of(checkpoint.key_id, key)  # signed before a key rotation: the retired key
        text = signing.open_note(checkpoint.note, key)
        note_origin, tree_size, root = signing.parse_checkpoint_text(text)
    except signing.NoteError as error:
        return f"signature check failed: {error.reason}"
    if note_origin != origin():
        return f"signed for origin {note_origin!r}, this log is {origin()!r}"
    if tree_size != checkpoint.tree_size or root.hex() != checkpoint.root_hash:
        return f"the stored tree size or root differs from the signed note (signed: {tree_size} {root.hex()})"
    if recomputed is None:
        return f"the ledger has fewer than {tree_size} entries"
    if recomputed != root:
        return f"the root recomputed from entries 1..{tree_size} ({recomputed.hex()}) is not the signed root ({root.hex()})"
    return ""


@dataclass
class CheckpointResult:
    id: int
    tree_size: int
    root_hash: str
    created_at: str
    ok: bool
    error: str


def verify_ledger() -> dict:
    """The chain (as verify_chain reports it), the entries' columns against their bytes, and
    every checkpoint, oldest first."""
    checkpoints = list(Checkpoint.objects.order_by("tree_size", "created_at"))
    size = ledger_size()
    scan = scan_ledger(size=size, root_sizes=[c.tree_size for c in checkpoints])
    copies = check_copies(size)
    key = None
    key_error = ""
    if checkpoints:
        try:
            key = signing.verifier()
        except (signing.SigningKeyMissing, signing.NoteError) as error:
            key_error = str(error)
    results: list[CheckpointResult] = []
    previous = None
    for checkpoint in checkpoints:
        problem = key_error or checkpoint_problem(checkpoint, key, scan.roots.get(checkpoint.tree_size))
        if not problem and previous is not None and previous.created_at > checkpoint.created_at:
            problem = f"signed before checkpoint {previous.tree_size} although its tree is larger"
        results.append(
            CheckpointResult(
                id=checkpoint.pk,
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                created_at=checkpoint.created_at.isoformat(),
                ok=not problem,
                error=problem,
            )
        )
        previous = checkpoint
    failures = [result for result in results if not result.ok]
    latest = results[-1] if results else None
    chain = scan.chain()
    return {
        **chain,
        "ok": chain["ok"] and copies.ok and not failures,
        "chain_ok": chain["ok"],
        "copies_ok": copies.ok,
        "first_bad_copy_seq": copies.first_bad_seq,
        "bad_copy_columns": copies.columns,
        "tree_size": size,
        "checkpoints_checked": len(results),
        "checkpoints_ok": not failures,
        "first_bad_checkpoint": asdict(failures[0]) if failures else None,
        "checkpoints_failed": len(failures),
        "checkpoint_failures": [asdict(result) for result in failures[:MAX_FAILURES_LISTED]],
        "latest_checkpoint": asdict(latest) if latest else None,
        "unsigned_entries": max(size - (latest.tree_size if latest else 0), 0),
        "verifier_key": key.text if key else None,
    }
