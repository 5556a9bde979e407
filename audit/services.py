"""Writing to the ledger. Every write happens inside the caller's transaction."""

import datetime
import hashlib
from decimal import Decimal
from typing import Any

import rfc8785
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Any constant works: all ledger appends take this one advisory lock.
LEDGER_LOCK_KEY = 0x41554449  # "AUDI"


def to_canonical_value(value: Any) -> Any:
    """Money as strings, dates as ISO 8601: JSON with no floats."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): to_canonical_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_canonical_value(item) for item in value]
    if isinstance(value, float):
        raise TypeError("floats are not allowed in the ledger; use Decimal")
    return value


def _lock_ledger() -> None:
    """Serialise appends so chain order is commit order (SQLite serialises writers itself)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])


def _entry(*, seq: int, prev_hash: str, at, actor, action: str, obj, claim, from_state: str, to_state: str, reason: str,
           detail: dict | None) -> AuditEvent:
    """The entry and its hash: SHA-256 over the RFC 8785 bytes of its body, stored exactly as hashed."""
    actor_username = actor.get_username() if actor is not None else ""
    canonical_detail = to_canonical_value(detail or {})
    body = {
        "seq": seq,
        "at": to_canonical_value(at),
        "actor": actor_username,
        "action": action,
        "object_type": obj._meta.label_lower,
        "object_id": str(obj.pk),
        "claim": claim.number if claim is not None else None,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "detail": canonical_detail,
        "prev_hash": prev_hash,
    }
    payload = rfc8785.dumps(body)
    return AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        actor_username=actor_username,
        action=action,
        object_type=body["object_type"],
        object_id=body["object_id"],
        claim=claim,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=canonical_detail,
        payload=payload.decode("utf-8"),
        prev_hash=prev_hash,
        hash=hashlib.sha256(payload).hexdigest(),
    )


def _head() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    return (last["seq"], last["hash"]) if last else (0, GENESIS_HASH)


def record_event(
    *,
    actor,
    action: str,
    obj,
    claim=None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Append one entry to the hash chain; the caller's transaction commits it with the change."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written in the transaction of the change they record")
    with transaction.atomic():
        _lock_ledger()
        last_seq, prev_hash = _head()
        entry = _entry(seq=last_seq + 1, prev_hash=prev_hash, at=timezone.now(), actor=actor, action=action, obj=obj,
                       claim=claim, from_state=from_state, to_state=to_state, reason=reason, detail=detail)
        entry.save(force_insert=True)
        return entry


def record_events(events: list[dict], *, batch_size: int = 2000) -> list[AuditEvent]:
    """Append many entries at once (a payment batch's entry for each of its claims): one lock and
    bulk inserts, chained in list order. Each dict holds record_event's keyword arguments."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written in the transaction of the change they record")
    if not events:
        return []
    with transaction.atomic():
        _lock_ledger()
        last_seq, prev_hash = _head()
        at = timezone.now()
        entries = []
        for offset, event in enumerate(events, start=1):
            entry = _entry(seq=last_seq + offset, prev_hash=prev_hash, at=at, **{
                "claim": None, "from_state": "", "to_state": "", "reason": "", "detail": None, **event})
            prev_hash = entry.hash
            entries.append(entry)
        AuditEvent.objects.bulk_create(entries, batch_size=batch_size)
        return entries
