"""Reading the ledger: a claim's entries (by claim id) and the verification of the chain.
The auditor's workspace, which also reads claims, is in auditor/selectors.py."""

from .models import AuditEvent
from .tree import scan_ledger


def claim_id_of(claim) -> int:
    """A claim's id, from a claim (duck-typed: its ``pk``; the ledger imports no claims model) or the id itself."""
    return claim if isinstance(claim, int) and not isinstance(claim, bool) else claim.pk


def claim_history(*, claim):
    """The entries of a claim (a claim or its id), oldest first."""
    return AuditEvent.objects.filter(claim_id=claim_id_of(claim)).order_by("seq")


def verify_chain() -> dict:
    """Recompute every hash from the stored bytes; name the first entry that does not match.

    The whole ledger with its checkpoints is checked by ``audit.checkpoints.verify_ledger``."""
    return scan_ledger().chain()


def verify_ledger() -> dict:
    """The chain and every checkpoint (audit.checkpoints.verify_ledger)."""
    from .checkpoints import verify_ledger as _verify_ledger

    return _verify_ledger()
