"""The ledger keyed by claim id, not by a foreign key to claims.Claim.

audit/migrations/0005 turned ``AuditEvent.claim`` (a foreign key) into ``claim_id`` (a plain
indexed integer) without rewriting any entry: a ledger written before it (chain and signed
checkpoint) verifies after it, on SQLite and, with the append-only triggers in place, on
PostgreSQL. And record_event takes a claim or a claim id."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit import services
from audit.checkpoints import sign_checkpoint, verify_ledger
from audit.models import AuditEvent
from audit.selectors import claim_history, verify_chain
from audit.services import record_event
from claims.services import create_claim

from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import claim_data

BEFORE = ("audit", "0004_append_only_triggers")
TABLE = AuditEvent._meta.db_table
COMPOSITE_INDEX = "audit_audit_claim_i_b26f7d_idx"


def migrate(target: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def constraints() -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, TABLE)


def claim_foreign_keys() -> list[str]:
    return [name for name, info in constraints().items() if info["foreign_key"] and info["columns"] == ["claim_id"]]


def append_only_triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'", [TABLE]
        )
        return {name for (name,) in cursor.fetchall()}


def write_entries_with_the_old_model(old_apps, *, claim, count: int) -> None:
    """Entries as record_event wrote them before 0005: the same bytes, inserted through the
    historical model (claim a foreign key), chained on the current head."""
    old_event = old_apps.get_model("audit", "AuditEvent")
    subject, _created = Group.objects.get_or_create(name="before-0005")
    old_columns = {field.attname for field in old_event._meta.concrete_fields}
    fields = [
        field.attname for field in AuditEvent._meta.concrete_fields if not field.primary_key and field.attname in old_columns
    ]
    with transaction.atomic():
        seq, prev_hash = services._head()
        for n in range(count):
            on_claim = n % 2 == 0
            entry = services._entry(
                seq=seq + 1, prev_hash=prev_hash, at=timezone.now(), actor=None, action="claim.edited",
                obj=claim if on_claim else subject, claim=claim if on_claim else None, from_state="", to_state="",
                reason="before the migration", detail={"n": n},
            )  # fmt: skip
            old_event.objects.create(**{name: getattr(entry, name) for name in fields})
            seq, prev_hash = entry.seq, entry.hash


def ledger_rows() -> list[tuple]:
    return list(AuditEvent.objects.order_by("seq").values_list("seq", "claim_id", "payload", "prev_hash", "hash"))


def migrate_back_write_and_forward(demo, *, on_each_state) -> dict:
    """A claim and a checkpoint, then audit back to 0004 (the ledger's rows as they were, the
    foreign key back), entries written with the old model, and forward again. Returns what was
    there before the forward migration."""
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())  # claim.created, keyed by id
    of_claim = [event.action for event in claim_history(claim=claim)]
    assert of_claim[0] == "claim.created"
    target = latest()
    rows_before_reversal = ledger_rows()
    try:
        old_apps = migrate([BEFORE]).loader.project_state([BEFORE]).apps
        # Reversed while the entries' ids name claims: the foreign key is back, no row rewritten.
        assert claim_foreign_keys(), "0004's schema has the foreign key"
        assert ledger_rows() == rows_before_reversal
        on_each_state("before")
        write_entries_with_the_old_model(old_apps, claim=claim, count=6)
        checkpoint = sign_checkpoint()
        rows = ledger_rows()
        # The chain only: the check of the columns against the bytes reads today's columns
        # (jurisdiction_id), which 0004's table has not; after the migration verify_ledger runs whole.
        assert verify_chain()["ok"] is True
    finally:
        migrate(target)  # whatever happened, the next tests get the current schema
    on_each_state("after")
    return {"claim": claim, "of_claim": of_claim, "rows": rows, "checkpoint": checkpoint}


def assert_the_ledger_is_intact(before: dict) -> None:
    assert ledger_rows() == before["rows"]  # no entry rewritten: the same bytes, hashes and claim ids
    result = verify_ledger()
    assert result["ok"] is True and result["chain_ok"] is True and result["checkpoints_ok"] is True, result
    assert result["latest_checkpoint"]["tree_size"] == before["checkpoint"].tree_size == len(before["rows"])
    assert not claim_foreign_keys()
    info = constraints()
    assert info[COMPOSITE_INDEX]["index"] and info[COMPOSITE_INDEX]["columns"] == ["claim_id", "seq"]
    # claim_id alone is not indexed (audit/0007): the composite serves every lookup by claim.
    assert not any(item["index"] and item["columns"] == ["claim_id"] for item in info.values())
    claim = before["claim"]
    events = list(claim_history(claim=claim))
    assert [event.action for event in events] == before["of_claim"] + ["claim.edited"] * 3
    assert all(f'"claim":"{claim.number}"' in event.payload for event in events)
    # Entries written before entries carried a jurisdiction got their claim's (claims/0010), and
    # the group's, of no jurisdiction, none.
    assert {event.jurisdiction_id for event in events} == {claim.jurisdiction_id}
    assert not AuditEvent.objects.filter(object_type="auth.group", jurisdiction_id__isnull=False).exists()
    # The ledger grows on the migrated table: a new entry by id, and a checkpoint over everything.
    with transaction.atomic():
        record_event(actor=None, action="claim.edited", obj=claim, claim=claim.pk, claim_number=claim.number)
    assert sign_checkpoint().tree_size == len(before["rows"]) + 1
    assert verify_ledger()["ok"] is True
    assert claim_history(claim=claim.pk).count() == len(events) + 1


# One round trip through the migration for all that is asked of it: each costs tens of seconds
# (the migration executor renders every app's models at each step).
@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_a_ledger_written_before_it_verifies_after_it(demo, audit_key):
    def triggers_are_on(stage):
        # The migration runs under the append-only triggers (PostgreSQL's; SQLite has none).
        if connection.vendor == "postgresql":
            assert append_only_triggers() == {f"{TABLE}_append_only"}, stage

    before = migrate_back_write_and_forward(demo, on_each_state=triggers_are_on)
    assert_the_ledger_is_intact(before)
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(seq=1).update(claim_id=None)


# --------------------------------------------------------------------------- record_event's claim


def test_record_event_takes_a_claim_or_its_id_with_its_number(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with transaction.atomic():
        by_object = record_event(actor=None, action="claim.edited", obj=claim, claim=claim)
        by_id = record_event(actor=None, action="claim.edited", obj=claim, claim=claim.pk, claim_number=claim.number)
        unrelated = record_event(actor=None, action="claim.edited", obj=claim)
    assert by_object.claim_id == by_id.claim_id == claim.pk and unrelated.claim_id is None
    assert f'"claim":"{claim.number}"' in by_object.payload and f'"claim":"{claim.number}"' in by_id.payload
    assert '"claim":null' in unrelated.payload
    with pytest.raises(ValueError, match="claim_number"), transaction.atomic():
        record_event(actor=None, action="claim.edited", obj=claim, claim=claim.pk)
    with pytest.raises(ValueError, match="not the number"), transaction.atomic():
        record_event(actor=None, action="claim.edited", obj=claim, claim=claim, claim_number="WRONG")
    assert list(claim_history(claim=claim).filter(seq__gte=by_object.seq)) == [by_object, by_id]
