"""The ledger's protection and its verification from the database: the append-only
triggers on PostgreSQL, the verifier naming a changed or missing entry, the Merkle tree
read from the database, and writers appending while checkpoints are signed."""

import io
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from audit import merkle
from audit import tree as ledger_tree
from audit.checkpoints import sign_checkpoint, verify_ledger
from audit.models import AuditEvent, Checkpoint, SubtreeHash
from audit.selectors import verify_chain
from audit.services import record_event

from .api_support import login, ok
from .audit_support import audit_key, ledger_test_actions, tamper, triggers_disabled  # noqa: F401 - fixtures
from .test_concurrency import join_all, run_at_once

pytestmark = pytest.mark.usefixtures("ledger_test_actions")  # entries of the tests' own actions (audit_support)


def append_events(count: int, **detail) -> list[AuditEvent]:
    subject, _created = Group.objects.get_or_create(name="ledger-test")
    with transaction.atomic():
        return [record_event(actor=None, action="test.event", obj=subject, detail={**detail, "n": n}) for n in range(count)]


def verify_command() -> tuple[str, str | None]:
    """(output, error message or None) of `manage.py audit_verify`."""
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def one_byte_changed(text: str, at: int) -> str:
    return text[:at] + chr(ord(text[at]) ^ 0x01) + text[at + 1 :]


# --------------------------------------------------------------------------- protection


REFUSED = [
    ("UPDATE audit_auditevent SET payload = payload || ' ' WHERE seq = 2", "UPDATE"),
    ("UPDATE audit_auditevent SET reason = 'rewritten'", "UPDATE"),
    ("DELETE FROM audit_auditevent WHERE seq = 3", "DELETE"),
    ("DELETE FROM audit_auditevent", "DELETE"),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("sql", "operation"), REFUSED)
def test_update_and_delete_through_sql_are_refused_by_the_trigger(db, sql, operation):
    append_events(3)
    before = list(AuditEvent.objects.order_by("seq").values_list("seq", "payload", "hash"))
    with pytest.raises(IntegrityError, match=rf"the audit ledger is append-only: {operation} on audit_auditevent is refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "payload", "hash")) == before
    assert verify_chain()["ok"] is True


@pytest.mark.postgres
def test_the_orm_cannot_change_or_delete_entries_or_checkpoints_either(db, audit_key):
    append_events(2)
    checkpoint = sign_checkpoint()
    for attempt in (
        lambda: AuditEvent.objects.filter(seq=1).update(reason="rewritten"),
        lambda: AuditEvent.objects.get(seq=2).delete(),
        lambda: Checkpoint.objects.filter(pk=checkpoint.pk).update(root_hash="0" * 64),
        lambda: Checkpoint.objects.filter(pk=checkpoint.pk).delete(),
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            attempt()
    assert verify_ledger()["ok"] is True


@pytest.mark.postgres
def test_the_triggers_are_back_after_a_test_disabled_them(db):
    append_events(1)
    with triggers_disabled():
        AuditEvent.objects.filter(seq=1).update(reason="allowed while disabled")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(reason="refused again")


# --------------------------------------------------------------------------- the verifier names the entry


def test_one_changed_byte_is_named_by_the_verifier_command_and_api(audit_key, demo):
    checkpoint = sign_checkpoint()
    output, failure = verify_command()
    assert failure is None and "VERDICT: OK" in output
    assert ok(login("auditor").get("/api/v1/audit/verify/"))["ok"] is True

    victim = AuditEvent.objects.order_by("seq")[10]
    changed = one_byte_changed(victim.payload, victim.payload.index('"action":"') + len('"action":"'))
    assert len(changed.encode()) == len(victim.payload.encode()) and changed != victim.payload
    tamper(AuditEvent, victim.pk, payload=changed)

    output, failure = verify_command()
    assert failure is not None, output
    assert f"first bad seq {victim.seq};" in failure
    assert f"checkpoint {checkpoint.tree_size} fails: the root recomputed from entries 1..{checkpoint.tree_size}" in failure
    assert f"hash chain: BROKEN at seq {victim.seq}" in output

    result = ok(login("auditor").get("/api/v1/audit/verify/"))
    assert (result["ok"], result["chain_ok"], result["first_bad_seq"], result["events"]) == (
        False,
        False,
        victim.seq,
        victim.seq - 1,
    )
    assert result["first_bad_checkpoint"]["tree_size"] == checkpoint.tree_size
    assert "is not the signed root" in result["first_bad_checkpoint"]["error"]


def test_a_change_that_keeps_the_stored_hash_in_step_is_still_named(audit_key, demo):
    """Whoever rewrites an entry and its hash column breaks the next entry's link, and the root."""
    import hashlib

    checkpoint = sign_checkpoint()
    victim = AuditEvent.objects.order_by("seq")[20]
    changed = victim.payload.replace('"reason":"', '"reason":"x', 1)
    tamper(AuditEvent, victim.pk, payload=changed, hash=hashlib.sha256(changed.encode()).hexdigest())
    result = verify_ledger()
    assert result["first_bad_seq"] == victim.seq + 1  # its successor's prev_hash no longer matches
    assert result["first_bad_checkpoint"]["tree_size"] == checkpoint.tree_size


def test_a_deleted_entry_is_named(demo):
    victim = AuditEvent.objects.order_by("seq")[5]
    with triggers_disabled():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    output, failure = verify_command()
    assert failure is not None and f"first bad seq {victim.seq + 1}" in failure  # found where seq {victim.seq} was expected
    assert verify_chain()["first_bad_seq"] == victim.seq + 1


def test_verify_chain_keeps_its_shape(demo):
    last = AuditEvent.objects.order_by("-seq").first()
    assert verify_chain() == {"ok": True, "events": last.seq, "head_hash": last.hash, "first_bad_seq": None}


# --------------------------------------------------------------------------- the Merkle tree from the database


SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 32, 33, 45]


def test_proofs_from_the_database_are_the_rfc_proofs(db, monkeypatch):
    """With a cache level of 2 (subtrees of 4 entries and more cached) and 45 entries, every
    shape is exercised: cached nodes, uncached ones, blocks read from the entries."""
    monkeypatch.setattr(ledger_tree, "CACHE_LEVEL", 2)
    append_events(45)
    payloads = [p.encode() for p in AuditEvent.objects.order_by("seq").values_list("payload", flat=True)]
    memory = merkle.MemoryTree.of_data(payloads)

    scan = ledger_tree.scan_ledger(root_sizes=SIZES, store_subtrees=True)
    assert scan.ok and scan.size == 45
    assert {size: root for size, root in scan.roots.items()} == {size: memory.root(size) for size in SIZES}
    cached = {
        (level, index): bytes.fromhex(digest)
        for level, index, digest in SubtreeHash.objects.values_list("level", "index", "hash")
    }
    assert set(cached) == {(level, index) for level in (2, 3, 4, 5) for index in range(45 >> level)}
    for (level, index), digest in cached.items():
        assert digest == memory.subtree(index << level, (index + 1) << level)

    for fill_cache_lazily in (False, True):
        if fill_cache_lazily:
            SubtreeHash.objects.all().delete()
        tree = ledger_tree.LedgerTree()
        for size in SIZES:
            assert tree.root(size) == memory.root(size)
            for index in range(size):
                assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(index, size, memory.subtree), (index, size)
            for first in [s for s in SIZES if s <= size] + [0]:
                assert tree.consistency_proof(first, size) == merkle.consistency_proof(first, size, memory.subtree), (first, size)
    assert SubtreeHash.objects.count() == len(cached)  # the lazy fill found the same nodes


def test_a_proof_reads_few_entries(db, monkeypatch, django_assert_max_num_queries):
    """Once the cache is filled, a proof in a tree of 300 entries with a cache level of 3
    takes a handful of queries, not one per entry."""
    monkeypatch.setattr(ledger_tree, "CACHE_LEVEL", 3)
    append_events(300)
    ledger_tree.scan_ledger(store_subtrees=True)
    with django_assert_max_num_queries(12):
        proof = ledger_tree.LedgerTree().inclusion_proof(150, 300)
    payloads = [p.encode() for p in AuditEvent.objects.order_by("seq").values_list("payload", flat=True)]
    assert merkle.verify_inclusion(150, 300, merkle.leaf_hash(payloads[150]), proof, merkle.root_of_data(payloads))


# --------------------------------------------------------------------------- parallel writers and the signer


WRITERS = 8
EACH = 25


@pytest.mark.postgres
def test_eight_writers_and_a_checkpoint_signer_at_once_leave_one_chain_and_consistent_checkpoints(transactional_db, audit_key):
    """What tests/test_concurrency.py's eight-writer test does not cover: entries appended
    straight through record_event, one transaction each, while checkpoints are signed in
    the middle of it. Every checkpoint signed mid-flight must be a prefix of the final tree
    (its root recomputes), and each writer's entries keep the order it committed them in."""
    subject = Group.objects.create(name="ledger-writers")
    signed_mid_flight = threading.Event()
    writers_done = threading.Event()
    finished = []

    def write(writer: int):
        for n in range(EACH):
            with transaction.atomic():
                record_event(actor=None, action="test.parallel", obj=subject, detail={"writer": writer, "n": n})
            if n == EACH // 2:
                # Half-way, wait until the signer has signed over a ledger still being written.
                signed_mid_flight.wait(30)
        finished.append(writer)
        if len(finished) == WRITERS:
            writers_done.set()

    def sign_while_writing():
        signed = []
        while not writers_done.is_set():
            checkpoint = sign_checkpoint()
            if checkpoint is not None:
                signed.append(checkpoint.tree_size)
                signed_mid_flight.set()
        return signed

    threads, outcomes = run_at_once(*[lambda w=w: write(w) for w in range(WRITERS)], sign_while_writing)
    join_all(threads)
    assert [error for _result, error in outcomes] == [None] * (WRITERS + 1)
    mid_flight = outcomes[-1][0]
    assert mid_flight and min(mid_flight) < WRITERS * EACH, mid_flight
    final = sign_checkpoint()  # None if the signer's last round already covered everything
    assert Checkpoint.objects.order_by("-tree_size").first().tree_size == WRITERS * EACH

    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EACH + 1))
    order = {}
    for detail in AuditEvent.objects.order_by("seq").values_list("detail", flat=True):
        order.setdefault(detail["writer"], []).append(detail["n"])
    assert order == {writer: list(range(EACH)) for writer in range(WRITERS)}

    result = verify_ledger()
    assert result["ok"] is True, result
    assert result["checkpoints_checked"] == len(mid_flight) + (final is not None)
    assert result["unsigned_entries"] == 0
    for checkpoint in Checkpoint.objects.all():
        assert ledger_tree.compute_root(checkpoint.tree_size).hex() == checkpoint.root_hash


def _flushed_to(lsn: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [lsn])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_an_append_commits_without_waiting_for_the_disk_yet_is_on_disk_before_anyone_is_told(transactional_db):
    """Appends queue on the ledger's lock; the lock is free once the commit is in the WAL, and the
    backend waits for the disk right after (audit/postgresql/base.py): before the transaction's
    on_commit hooks run (the Celery tasks it enqueues) and before the caller goes on."""
    subject = Group.objects.create(name="durable-append")
    seen = {}
    with transaction.atomic():
        record_event(actor=None, action="test.event", obj=subject)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit'), pg_current_wal_insert_lsn()::text")
            seen["commit_mode"], seen["lsn_before_commit"] = cursor.fetchone()
        transaction.on_commit(lambda: seen.update(flushed_when_hooks_run=_flushed_to(seen["lsn_before_commit"])))
    assert seen["commit_mode"] == "off"
    assert seen["flushed_when_hooks_run"] is True
    assert connection.wal_flush_owed is False
    with connection.cursor() as cursor:  # only the appending transaction committed that way
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone()[0] == "on"

    with pytest.raises(RuntimeError), transaction.atomic():  # an append rolled back owes no flush
        record_event(actor=None, action="test.event", obj=subject)
        raise RuntimeError("the change it recorded failed")
    assert connection.wal_flush_owed is False
