"""Writing to the ledger. Every write happens inside the caller's transaction."""

import datetime
import hashlib
import json
import re
from decimal import Decimal
from typing import Any

import rfc8785
from django.db import connection, transaction
from django.utils import timezone

from . import actions, references
from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Any constant works: all ledger appends take this one advisory lock.
LEDGER_LOCK_KEY = 0x41554449  # "AUDI"


def to_canonical_value(value: Any) -> Any:
    """Money as strings, dates as ISO 8601: JSON with no floats."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): to_canonical_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_canonical_value(item) for item in value]
    if isinstance(value, float):
        raise TypeError("floats are not allowed in the ledger; use Decimal")
    return value


def canonical_json(body: dict) -> bytes:
    """RFC 8785 (JCS) bytes of an entry's body. For JSON made of ASCII keys, strings, integers,
    booleans and null (all our entries: money is a string, floats are refused) JCS is exactly
    Python's sorted, compact, non-ASCII-preserving encoding, which is C-fast; anything else goes
    through the rfc8785 package. tests/test_audit_canonical.py holds the two equal."""
    if _simple(body):
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return rfc8785.dumps(body)


_SURROGATE = re.compile("[\ud800-\udfff]")
_SAFE_INTEGER = 2**53 - 1  # JCS numbers are IEEE doubles: larger integers are refused by rfc8785


def _simple(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and key.isascii() and _simple(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_simple(item) for item in value)
    if isinstance(value, str):
        return value.isascii() or not _SURROGATE.search(value)  # a lone surrogate has no UTF-8 form
    if isinstance(value, bool) or value is None:
        return True
    return isinstance(value, int) and -_SAFE_INTEGER <= value <= _SAFE_INTEGER


def _lock_ledger_and_read_head() -> tuple[int, str]:
    """Serialise appends so chain order is commit order (SQLite serialises writers itself), and
    read the chain's head (seq, hash) once the lock is held. On our PostgreSQL backend the
    transaction then commits without waiting for the disk, and the backend waits for it right
    after, with the lock already free (audit/postgresql/base.py)."""
    if connection.vendor != "postgresql":
        return _head()
    flushes_after = getattr(connection, "flushes_after_async_commit", False)
    asynchronous = ", set_config('synchronous_commit', 'off', true)" if flushes_after else ""
    with connection.cursor() as cursor:
        # One round trip, two statements: under READ COMMITTED the second takes its own snapshot,
        # after the first has the lock, so it sees the entry of whoever held it before.
        cursor.execute(f"SELECT pg_advisory_xact_lock({int(LEDGER_LOCK_KEY)}){asynchronous}; {_HEAD_QUERY}")
        cursor.nextset()
        last = cursor.fetchone()
    if flushes_after:
        connection.wal_flush_owed = True
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _claim_reference(claim, claim_number: str | None) -> tuple[int | None, str | None]:
    """(id, number) of the claim an entry belongs to. ``claim`` is a claim (anything with ``pk``
    and ``number``: the ledger imports no claims model) or its id, which then needs
    ``claim_number``: the entry's bytes name the claim by its number."""
    if claim is None:
        if claim_number:
            raise ValueError("claim_number without claim: pass the claim (or its id) too")
        return None, None
    if isinstance(claim, bool) or not isinstance(claim, int):
        if claim_number is not None and claim_number != claim.number:
            raise ValueError(f"claim_number {claim_number!r} is not the number of the claim given ({claim.number!r})")
        claim_id, number = claim.pk, claim.number
    else:
        claim_id, number = claim, claim_number
    if claim_id is None:
        raise ValueError("the claim of an audit event must be saved (it has no id)")
    if not number:
        raise ValueError(f"claim id {claim_id} without claim_number: the entry's bytes name the claim by its number")
    return int(claim_id), str(number)


def _jurisdiction_reference(jurisdiction, claim, obj) -> int | None:
    """The id of the jurisdiction an entry belongs to (who may read it), from what record_event is
    given, first found: ``jurisdiction`` (a jurisdiction or its id), else the claim's, else the
    object's. Claims, objects and jurisdictions say theirs duck-typed (the ledger imports no app of
    ours): ``ledger_jurisdiction_id`` where it is a hop away (a batch through its fund account, a
    jurisdiction is its own), else a ``jurisdiction_id`` field. None: an entry of the bureau
    itself (accounts, roles, sign-ins)."""
    if jurisdiction is not None:
        found = jurisdiction if isinstance(jurisdiction, int) and not isinstance(jurisdiction, bool) else jurisdiction.pk
        return int(found)
    for source in (claim, obj):
        if source is None or isinstance(source, int):
            continue
        found = getattr(source, "ledger_jurisdiction_id", None)
        if found is None:
            found = getattr(source, "jurisdiction_id", None)
        if found is not None:
            return int(found)
    return None


def _draft(
    *,
    actor,
    action: str,
    obj,
    claim,
    from_state: str,
    to_state: str,
    reason: str,
    detail: dict | None,
    claim_number: str | None = None,
    jurisdiction=None,
    jurisdiction_codes: dict | None = None,
) -> dict:
    """What an entry holds but its place in the chain (seq, prev_hash) and its time: worked out
    before the ledger's lock is taken, so that appends hold it as briefly as they can.
    ``jurisdiction_codes``: codes already read, by jurisdiction id (many entries at once)."""
    claim_id, claim_number = _claim_reference(claim, claim_number)
    jurisdiction_id = _jurisdiction_reference(jurisdiction, claim, obj)
    codes = {} if jurisdiction_codes is None else jurisdiction_codes
    if jurisdiction_id not in codes:
        codes[jurisdiction_id] = references.code_already_read(
            jurisdiction_id, jurisdiction, claim, obj
        ) or references.jurisdiction_code(jurisdiction_id)
    return {
        "actor": actor,
        "actor_username": actor.get_username() if actor is not None else "",
        "action": action,
        "object_type": obj._meta.label_lower,
        "object_id": str(obj.pk),
        "claim_id": claim_id,
        "claim_number": claim_number,
        "jurisdiction_id": jurisdiction_id,
        "jurisdiction_code": codes[jurisdiction_id],
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "detail": to_canonical_value(detail or {}),
    }


def body_of(draft: dict, *, seq, at, prev_hash) -> dict:
    """The JSON an entry's hash is over: the draft at its place in the chain (``at`` canonical).
    Every column of the entry but its hashes is a copy of a key here, which the verification
    checks (audit.copies): the claim and the jurisdiction by number and code. Entries written
    before "jurisdiction" was added have no such key; their bytes stay as they were hashed."""
    return {
        "seq": seq,
        "at": at,
        "actor": draft["actor_username"],
        "action": draft["action"],
        "object_type": draft["object_type"],
        "object_id": draft["object_id"],
        "claim": draft["claim_number"],
        "jurisdiction": draft["jurisdiction_code"],
        "from_state": draft["from_state"],
        "to_state": draft["to_state"],
        "reason": draft["reason"],
        "detail": draft["detail"],
        "prev_hash": prev_hash,
    }


def _chained(draft: dict, *, seq: int, prev_hash: str, at) -> AuditEvent:
    """The entry of a draft at its place in the chain, and its hash: SHA-256 over the RFC 8785
    bytes of its body, stored exactly as hashed."""
    payload = canonical_json(body_of(draft, seq=seq, at=to_canonical_value(at), prev_hash=prev_hash))
    return AuditEvent(
        seq=seq,
        at=at,
        actor=draft["actor"],
        actor_username=draft["actor_username"],
        action=draft["action"],
        object_type=draft["object_type"],
        object_id=draft["object_id"],
        claim_id=draft["claim_id"],
        jurisdiction_id=draft["jurisdiction_id"],
        from_state=draft["from_state"],
        to_state=draft["to_state"],
        reason=draft["reason"],
        detail=draft["detail"],
        payload=payload.decode("utf-8"),
        prev_hash=prev_hash,
        hash=hashlib.sha256(payload).hexdigest(),
    )


def _entry(*, seq: int, prev_hash: str, at, **draft) -> AuditEvent:
    """The entry and its hash (_draft's arguments, placed in the chain)."""
    return _chained(_draft(**draft), seq=seq, prev_hash=prev_hash, at=at)


_HEAD_QUERY = f"SELECT seq, hash FROM {AuditEvent._meta.db_table} ORDER BY seq DESC LIMIT 1"


def _head() -> tuple[int, str]:
    """(seq, hash) of the last entry; read under the ledger's lock (one plain statement: the lock is held meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_QUERY)
        last = cursor.fetchone()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def record_event(
    *,
    actor,
    action: str,
    obj,
    claim=None,
    claim_number: str | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    detail: dict | None = None,
    jurisdiction=None,
) -> AuditEvent:
    """Append one entry to the hash chain; the caller's transaction commits it with the change.

    ``claim``: the claim the entry belongs to (its timeline shows it), a claim or a claim id
    with ``claim_number``. ``jurisdiction`` (a jurisdiction or its id): whose entry it is, when
    neither the claim nor ``obj`` says (_jurisdiction_reference). ``action`` must be registered
    in audit/actions.py (ValueError otherwise); one of actions.REASON_REQUIRED, with ``reason``
    when ``actor`` is a person (ValueError otherwise)."""
    actions.check(action)
    actions.check_reason(action, actor=actor, reason=reason)
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written in the transaction of the change they record")
    # No savepoint: its two round trips would be spent holding the ledger's lock, and an entry that
    # fails fails the change it records anyway.
    draft = _draft(
        actor=actor,
        action=action,
        obj=obj,
        claim=claim,
        claim_number=claim_number,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=detail,
        jurisdiction=jurisdiction,
    )
    with transaction.atomic(savepoint=False):
        last_seq, prev_hash = _lock_ledger_and_read_head()
        entry = _chained(draft, seq=last_seq + 1, prev_hash=prev_hash, at=timezone.now())
        _insert_entry(entry)
        return entry


def record_events(events: list[dict], *, batch_size: int = 2000) -> list[AuditEvent]:
    """Append many entries at once (a payment batch's entry for each of its claims): one lock and
    bulk inserts, chained in list order. Each dict holds record_event's keyword arguments; an
    unregistered action, or one of actions.REASON_REQUIRED a person records without its reason,
    refuses the whole list (ValueError) before anything is written."""
    for event in events:
        actions.check(event.get("action"))
        actions.check_reason(event.get("action"), actor=event.get("actor"), reason=event.get("reason", ""))
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written in the transaction of the change they record")
    if not events:
        return []
    # Drafted before the lock, as record_event's: the jurisdictions' codes are read once each.
    jurisdiction_codes = {}
    drafts = [
        _draft(
            jurisdiction_codes=jurisdiction_codes,
            **{"claim": None, "from_state": "", "to_state": "", "reason": "", "detail": None, **event},
        )
        for event in events
    ]
    with transaction.atomic():
        last_seq, prev_hash = _lock_ledger_and_read_head()
        at = timezone.now()
        entries = []
        for offset, draft in enumerate(drafts, start=1):
            entry = _chained(draft, seq=last_seq + offset, prev_hash=prev_hash, at=at)
            prev_hash = entry.hash
            entries.append(entry)
        if connection.vendor == "postgresql":
            _copy_entries(entries)
        else:
            AuditEvent.objects.bulk_create(entries, batch_size=batch_size)
        return entries


_COPY_COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "claim_id",
    "jurisdiction_id",
    "from_state",
    "to_state",
    "reason",
    "detail",
    "payload",
    "prev_hash",
    "hash",
)


def _fields_and_columns() -> tuple[list, str]:
    fields = [AuditEvent._meta.get_field(name) for name in _COPY_COLUMNS]
    return fields, ", ".join(connection.ops.quote_name(field.column) for field in fields)


def _row_of(entry: AuditEvent, fields: list) -> list:
    return [json.dumps(entry.detail) if field.name == "detail" else getattr(entry, field.attname) for field in fields]


def _copy_entries(entries: list[AuditEvent]) -> None:
    """PostgreSQL's COPY: several times faster than a bulk INSERT for the thousands of entries of a batch."""
    fields, columns = _fields_and_columns()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {AuditEvent._meta.db_table} ({columns}) FROM STDIN") as copy:
        for entry in entries:
            copy.write_row(_row_of(entry, fields))


def _insert_entry(entry: AuditEvent) -> None:
    """One entry by a plain INSERT on PostgreSQL: Model.save's own work (about a third of a
    millisecond) would be spent holding the ledger's lock."""
    if connection.vendor != "postgresql":
        entry.save(force_insert=True)
        return
    fields, columns = _fields_and_columns()
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEvent._meta.db_table} ({columns}) VALUES ({placeholders}) RETURNING id",
            _row_of(entry, fields),
        )
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False
    entry._state.db = connection.alias
