"""PostgreSQL transaction-level advisory locks on names: what claims lock that has no row of its
own (a certificate number, an enterprise's grant under a standard, a standard's items).

A lock is two keys: the class (what kind of name, a constant per caller) and a signed 32-bit id
of the name. Held until the transaction ends; taken in a fixed order (by id) so two transactions
wanting overlapping names never deadlock. SQLite serialises writers already: nothing to take.
The ledger's locks take the one-key form, so they never meet these.
"""

import hashlib
from collections.abc import Iterable

from django.db import connection


def lock_id(name: str) -> int:
    """A signed 32-bit id of the name (the second key of the advisory lock)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


def hold_advisory_locks(lock_class: int, names: Iterable[str]) -> None:
    """Wait for, then hold until the transaction ends, a lock on each name of ``lock_class``."""
    if connection.vendor != "postgresql":
        return
    ids = sorted({lock_id(name) for name in names if name})
    if not ids:
        return
    with connection.cursor() as cursor:
        # One statement for a roster's thousands of names, taken in the sorted subquery's order.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, id)) FROM (SELECT unnest(%s::integer[]) AS id ORDER BY id) AS ids",
            [lock_class, ids],
        )
