import hashlib
import json

from .models import AuditEvent
from .services import GENESIS_HASH


def claim_history(*, claim):
    return AuditEvent.objects.filter(claim=claim).order_by("seq")


def verify_chain() -> dict:
    """Recompute every hash from the stored bytes; name the first entry that does not match."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for seq, payload, stored_prev, stored_hash in AuditEvent.objects.order_by("seq").values_list(
        "seq", "payload", "prev_hash", "hash"
    ).iterator(chunk_size=5000):
        body = json.loads(payload)
        ok = (
            seq == expected_seq == body.get("seq")
            and stored_prev == prev_hash == body.get("prev_hash")
            and hashlib.sha256(payload.encode("utf-8")).hexdigest() == stored_hash
        )
        if not ok:
            return {"ok": False, "events": count, "head_hash": prev_hash, "first_bad_seq": seq}
        prev_hash = stored_hash
        expected_seq += 1
        count += 1
    return {"ok": True, "events": count, "head_hash": prev_hash, "first_bad_seq": None}
