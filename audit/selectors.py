from .models import AuditEvent
from .tree import scan_ledger


def claim_history(*, claim):
    return AuditEvent.objects.filter(claim=claim).order_by("seq")


def verify_chain() -> dict:
    """Recompute every hash from the stored bytes; name the first entry that does not match.

    The whole ledger with its checkpoints is checked by ``audit.checkpoints.verify_ledger``."""
    return scan_ledger().chain()
