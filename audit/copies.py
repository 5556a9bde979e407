"""An entry's columns checked against its bytes.

Only ``payload`` is hashed; the other columns are copies of its keys, and they are what is
queried and shown: the timelines, the API's history, who may read an entry (claim_id,
jurisdiction_id). A copy rewritten behind the application's back leaves the hash chain and the
signed roots intact, so the verification also checks each copy against the key it was made
from (audit.services.body_of):

    actor_username, action, object_type, object_id, from_state, to_state, reason: the key's text
    detail: the key's JSON value;  at: the key's text, to_canonical_value's form of the column
    claim_id: the id of the claim whose number the bytes name (none named: null)
    jurisdiction_id: the id of the jurisdiction whose code the bytes name; entries written before
        the bytes named one: the jurisdiction of the claim they name (audit/backfill.py gave them
        that), unchecked when they name no claim

On PostgreSQL one statement compares the columns with the payload read as jsonb; elsewhere (and
for a payload PostgreSQL cannot read as JSON) Python does, page by page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import DataError, connection, transaction

from . import references
from .models import AuditEvent
from .services import to_canonical_value
from .tree import PAGE

# Each checked column and the key of the body it is a copy of (claim and jurisdiction by name).
# Pairs, not a dict literal: the registry's scan reads a dict's "action" key as an action recorded.
COPIED_FROM = dict(
    (
        ("actor_username", "actor"),
        ("action", "action"),
        ("object_type", "object_type"),
        ("object_id", "object_id"),
        ("claim_id", "claim"),
        ("jurisdiction_id", "jurisdiction"),
        ("from_state", "from_state"),
        ("to_state", "to_state"),
        ("reason", "reason"),
        ("detail", "detail"),
        ("at", "at"),
    )
)
TEXT_COLUMNS = ("actor_username", "action", "object_type", "object_id", "from_state", "to_state", "reason")


@dataclass
class CopiesResult:
    first_bad_seq: int | None = None  # the first entry whose columns disagree with its bytes
    columns: list[str] = field(default_factory=list)  # which of its columns disagree

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def check_copies(size: int) -> CopiesResult:
    """The first of entries 1..size whose columns disagree with its bytes, and which do."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                return _first_disagreement_in_sql(size)
        except DataError:
            pass  # a payload that is not JSON to PostgreSQL: Python names it
    return _first_disagreement_in_python(size)


# --------------------------------------------------------------------------- PostgreSQL


def _canonical_at_sql(column: str) -> str:
    """to_canonical_value's text of a time, in SQL: UTC, microseconds only when there are any, "Z"."""
    return f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"


def _disagreements_sql(claims_id: str, claims_jurisdiction: str) -> dict[str, str]:
    """Per column, the SQL that is true when it disagrees with the body ``e.body``, given the
    claim and the jurisdiction it names (``named_claim``, ``named_jurisdiction``)."""
    disagree = {column: f"e.body->>'{COPIED_FROM[column]}' IS DISTINCT FROM e.{column}" for column in TEXT_COLUMNS}
    disagree["detail"] = "e.body->'detail' IS DISTINCT FROM e.detail"
    disagree["at"] = f"e.body->>'at' IS DISTINCT FROM {_canonical_at_sql('e.at')}"
    disagree["claim_id"] = f"e.claim_id IS DISTINCT FROM named_claim.{claims_id}"
    disagree["jurisdiction_id"] = (
        "e.jurisdiction_id IS DISTINCT FROM CASE WHEN e.body ? 'jurisdiction' THEN named_jurisdiction.id "  # its pk
        f"WHEN e.body->>'claim' IS NOT NULL THEN named_claim.{claims_jurisdiction} ELSE e.jurisdiction_id END"
    )
    return {column: disagree[column] for column in COPIED_FROM}


def _first_disagreement_in_sql(size: int) -> CopiesResult:
    quote = connection.ops.quote_name
    claims, jurisdictions = references.claims(), references.jurisdictions()
    disagree = _disagreements_sql(claims.column(claims.model._meta.pk.name), claims.column(claims.jurisdiction_field))
    columns = ", ".join(quote(AuditEvent._meta.get_field(name).column) for name in ["seq", *COPIED_FROM])
    # OFFSET 0 keeps the subquery whole: each payload is read as jsonb once, not once per key.
    sql = (
        f"SELECT e.seq, {', '.join(disagree.values())} "
        f"FROM (SELECT {columns}, payload::jsonb AS body FROM {quote(AuditEvent._meta.db_table)} "
        f"WHERE seq <= %s OFFSET 0) e "
        f"LEFT JOIN {claims.table} named_claim ON named_claim.{claims.column(claims.name_field)} = e.body->>'claim' "
        f"LEFT JOIN {jurisdictions.table} named_jurisdiction "
        f"ON named_jurisdiction.{jurisdictions.column(jurisdictions.name_field)} = e.body->>'jurisdiction' "
        f"WHERE {' OR '.join(disagree.values())} ORDER BY e.seq LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [size])
        row = cursor.fetchone()
    if row is None:
        return CopiesResult()
    return CopiesResult(first_bad_seq=row[0], columns=[column for column, bad in zip(disagree, row[1:], strict=True) if bad])


# --------------------------------------------------------------------------- Python


def _json_text(value) -> str:
    """JSON values compared by their text: true is not 1, key order does not matter."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _disagreeing_columns(entry: dict, body, claims_named: dict, jurisdictions_named: dict) -> list[str]:
    if not isinstance(body, dict):
        return list(COPIED_FROM)
    bad = [column for column in TEXT_COLUMNS if body.get(COPIED_FROM[column]) != entry[column]]
    if _json_text(body.get("detail")) != _json_text(entry["detail"]):
        bad.append("detail")
    if body.get("at") != to_canonical_value(entry["at"]):
        bad.append("at")
    named_claim = claims_named.get(body.get("claim"), (None, None))
    if entry["claim_id"] != named_claim[0]:
        bad.append("claim_id")
    if "jurisdiction" in body:
        expected = jurisdictions_named.get(body["jurisdiction"], (None, None))[0]
    elif body.get("claim") is not None:
        expected = named_claim[1]
    else:
        expected = entry["jurisdiction_id"]
    if entry["jurisdiction_id"] != expected:
        bad.append("jurisdiction_id")
    return [column for column in COPIED_FROM if column in bad]


def _loads(payload: str):
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _first_disagreement_in_python(size: int) -> CopiesResult:
    claims, jurisdictions = references.claims(), references.jurisdictions()
    after = 0
    while after < size:
        page = list(
            AuditEvent.objects.filter(seq__gt=after, seq__lte=size).order_by("seq").values("seq", "payload", *COPIED_FROM)[:PAGE]
        )
        if not page:
            break
        bodies = [_loads(entry["payload"]) for entry in page]
        named = [body if isinstance(body, dict) else {} for body in bodies]
        claims_named = claims.named(body["claim"] for body in named if isinstance(body.get("claim"), str))
        jurisdictions_named = jurisdictions.named(
            body["jurisdiction"] for body in named if isinstance(body.get("jurisdiction"), str)
        )
        for entry, body in zip(page, bodies, strict=True):
            bad = _disagreeing_columns(entry, body, claims_named, jurisdictions_named)
            if bad:
                return CopiesResult(first_bad_seq=entry["seq"], columns=bad)
        after = page[-1]["seq"]
    return CopiesResult()
