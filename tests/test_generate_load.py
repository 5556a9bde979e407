"""generate_load (demo/load.py) writes claims as the services would have left them: a benchmark on
its rows measures the product, not a shape nobody makes. Small here; bench/inbox.py runs it big."""

import copy
import datetime
import hashlib
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from viewflow.workflow.models import Task

from audit import services as audit_services
from audit.checkpoints import verify_ledger
from audit.models import AuditEvent
from audit.services import _entry, canonical_json
from claims.models import Claim, ClaimGroupObjectPermission, ClaimStatus, LineDecision, Trainee
from claims.payment_stage import payment_stage_status
from claims.personal_data import decrypt_id_number, id_number_digest, mask_id_number
from demo import load
from demo.load import generate, write_batch
from workflow import selectors
from workflow.inbox import inbox_drift, rebuild_inbox
from workflow.models import ClaimDuty, InboxItem
from workflow.services import decide_task
from workflow.steps import END_STATUS, HUMAN_STEPS, STEPS

from .api_support import login, ok
from .conftest import FAST_PASSWORD_HASHERS, module_world, require_postgresql
from .test_inbox_read_model import duties, rows

pytestmark = pytest.mark.postgres

CLAIMS = 300
OPEN = ("NEW", "ASSIGNED", "STARTED")


@pytest.fixture(scope="module")
def generated_ids(django_db_setup, django_db_blocker) -> set[int]:
    """The generated claims' ids: generated once for the module (each test in a savepoint)."""
    require_postgresql()
    with module_world(django_db_blocker), override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        before = set(Claim.objects.values_list("pk", flat=True))
        # Three batches over two worker processes: the writer chains their entries in batch order.
        generate(claims=CLAIMS, seed=7, password="load-pass", batch_size=120, check_foreign_keys=True, workers=2)
        with connection.cursor() as cursor:
            # The module's transaction never commits: check every deferred foreign key of the rows now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        yield set(Claim.objects.exclude(pk__in=before).values_list("pk", flat=True))


@pytest.fixture
def generated(generated_ids, demo, fast_password_hashing):
    return Claim.objects.filter(pk__in=generated_ids)


def open_task(claim):
    return Task.objects.filter(
        process_id=claim.process_id, status__in=OPEN, flow_task__in=[selectors.node(n) for n in HUMAN_STEPS]
    ).first()


def test_every_claim_stands_where_its_process_does(generated):
    assert generated.count() == CLAIMS
    seen = set()
    for claim in generated.select_related("process"):
        seen.add(claim.status)
        if claim.process_id is None:
            assert claim.status in (ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN)
            continue
        task = open_task(claim)
        if task is not None:
            expected = STEPS[task.flow_task.name].claim_status
            if task.flow_task.name == "disbursement":
                expected = payment_stage_status(claim)
            assert claim.status == expected, claim.number
            assert claim.process.status == "NEW"
        elif claim.process.status == "CANCELED":
            assert claim.status == ClaimStatus.WITHDRAWN
        else:
            end = Task.objects.get(process_id=claim.process_id, flow_task__in=[selectors.node(n) for n in END_STATUS])
            assert claim.status == END_STATUS[end.flow_task.name], claim.number
        # Each step of the path links back to the one before it, as viewflow chains them.
        tasks = Task.objects.filter(process_id=claim.process_id).order_by("pk")
        assert all(task.previous.exists() for task in tasks[1:])
        assert claim.lines.count() >= 1
        # The department's reviewers were granted the submitted claim, the provider's clerks always.
        groups = set(ClaimGroupObjectPermission.objects.filter(content_object=claim).values_list("group_id", flat=True))
        assert groups == {claim.provider.staff_group_id, claim.department.staff_group_id}
    assert seen >= {ClaimStatus.PAID, ClaimStatus.REJECTED, ClaimStatus.DEPARTMENT_REVIEW, ClaimStatus.DRAFT}


def test_the_ledger_goes_on_verifying_and_its_entries_are_the_services_own(generated):
    result = verify_ledger()
    assert result["chain_ok"], result
    assert result["ok"], result
    entry = AuditEvent.objects.filter(claim_id__in=generated.values("pk"), action="claim.created").select_related("actor").first()
    claim = Claim.objects.get(pk=entry.claim_id)
    again = _entry(
        seq=entry.seq,
        prev_hash=entry.prev_hash,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        obj=claim,
        claim=claim,
        from_state=entry.from_state,
        to_state=entry.to_state,
        reason=entry.reason,
        detail=entry.detail,
    )
    assert (again.payload, again.hash, again.jurisdiction_id) == (entry.payload, entry.hash, claim.jurisdiction_id)
    assert entry.detail["lines"][0]["trainee"] == claim.lines.order_by("line_no")[0].trainee.id_number_masked


def test_every_entry_is_in_audits_canonical_form_and_its_detail_is_the_payloads(generated):
    """The load writes each entry's canonical bytes key by key (demo/load.py's ledger_parts), not
    through canonical_json: they must be exactly what canonical_json makes of them."""
    entries = AuditEvent.objects.filter(claim_id__in=generated.values("pk")).values_list("payload", "detail", "seq", "hash")
    assert len(entries) > CLAIMS * 3
    for payload, detail, seq, digest in entries:
        body = json.loads(payload)
        assert canonical_json(body).decode() == payload
        assert (body["detail"], body["seq"]) == (detail, seq)
        assert hashlib.sha256(payload.encode()).hexdigest() == digest


def test_a_load_stops_before_writing_if_audits_entry_body_changed(demo, monkeypatch):
    """The load writes the body key by key for speed; audit.services.body_of stays its definition."""
    load.check_ledger_body()

    def with_a_new_key(draft, **kwargs):
        return audit_services.body_of(draft, **kwargs) | {"channel": "web"}

    monkeypatch.setattr(load, "body_of", with_a_new_key)
    with pytest.raises(RuntimeError, match="body changed"):
        load.check_ledger_body()


def test_a_batch_is_the_same_whichever_process_makes_it(demo, fast_password_hashing):
    """Each batch has its own random numbers, so two workers make what the writer alone would
    (but the trainees' encrypted ID numbers: a Fernet token has a random IV); and a worker makes
    its rows without the database (it would refuse)."""
    org = load.ensure_organisation(providers=4, password="load-pass")
    generator = load.Generator(org, seed=11)
    generator.warm()
    with connection.cursor() as cursor:
        jobs = [generator.plan(index, 40, cursor) for index in range(3)]

    def made_by(workers):
        pool = load.Workers(generator, workers)
        try:
            for job in jobs:
                pool.submit(copy.deepcopy(job))
            return [pool.result(job.index, generator) for job in jobs]
        finally:
            pool.close()

    def without_tokens(results):
        kept = []
        for index, tables, parts, _seconds in results:
            texts = {table: data for table, _columns, data in tables}
            trainees = texts.pop(Trainee._meta.db_table).decode().splitlines()
            kept.append((index, texts, [line.rsplit("\t", 1)[0] for line in trainees], parts))
        return kept

    assert without_tokens(made_by(2)) == without_tokens(made_by(0))


def test_the_tables_written_by_position_read_as_copy_text_writes_them(demo, fast_password_hashing):
    """The lines, tasks and rows of integers are formatted by their columns' positions (the
    generic copy_text's lookup per value was a third of the text's time): the same bytes."""
    org = load.ensure_organisation(providers=4, password="load-pass")
    generator = load.Generator(org, seed=12)
    generator.warm()
    with connection.cursor() as cursor:
        batch = generator.rows(generator.plan(0, 200, cursor))
    for formatted, table in (
        (load.line_text, batch.lines),
        (load.task_text, batch.tasks),
        (load.int_text, batch.links),
        (load.int_text, batch.perms),
        (load.int_text, batch.duties),
    ):
        assert table and formatted(table) == load.copy_text(table)
    odd = list(batch.lines[0])
    odd[5], odd[20] = "tab\there", "C:\\temp"  # escaped like any text
    assert load.line_text([tuple(odd)]) == load.copy_text([tuple(odd)])


def test_trainees_id_numbers_are_encrypted_digested_and_masked_as_personal_data_does(generated):
    for trainee in Trainee.objects.filter(claim_lines__claim__in=generated).distinct()[:50]:
        number = decrypt_id_number(trainee.id_number_encrypted)
        assert trainee.id_number_digest == id_number_digest(number)
        assert trainee.id_number_masked == mask_id_number(number)


def test_lines_certificate_keys_are_their_numbers_as_certificate_key_normalises_them(generated):
    """A number typed in later must find the generated line naming it (CERT_DUP, the registry)."""
    from claims.certificates import certificate_key
    from claims.models import ClaimLine

    lines = ClaimLine.objects.filter(claim__in=generated).values_list("certificate_number", "certificate_key")[:200]
    assert lines and all(key == certificate_key(number) for number, key in lines)


def test_the_inbox_has_no_drift_and_a_rebuild_writes_the_same_rows(generated):
    assert inbox_drift() == []
    kept_rows, kept_duties = rows(), duties()
    assert kept_rows and kept_duties
    rebuild_inbox()
    assert rows() == kept_rows
    assert duties() == kept_duties


def test_a_reviewer_inbox_lists_the_open_tasks_of_their_scope_without_their_other_duties(generated, demo):
    hr = demo["hr_reviewer"]
    wenling = hr.groups.exclude(jurisdiction=None).get().jurisdiction
    other_duty = set(ClaimDuty.objects.filter(user=hr).exclude(duty="hr_review").values_list("claim_id", flat=True))
    expected = sorted(
        task.pk
        for task in Task.objects.filter(
            flow_task=selectors.node("hr_review"), status__in=("NEW", "ASSIGNED"), process__claim__jurisdiction=wenling
        ).select_related("process__claim")
        if task.process.claim.pk not in other_duty and task.owner_id in (None, hr.pk)
    )
    listed = sorted(selectors.actionable_items(hr).values_list("task_id", flat=True))
    assert listed == expected
    page = ok(login("hr_reviewer").get("/api/v1/tasks/"))
    assert page["count"] == len(expected)
    assert [item["id"] for item in page["results"]] == [item.task_id for item in selectors.actionable_items(hr)[:50]]


def test_a_generated_claim_moves_on_through_the_services(generated):
    item = InboxItem.objects.filter(claim__in=generated, step="department_review", owner=None).select_related("claim").first()
    reviewer = next(
        user
        for user in get_user_model().objects.filter(groups=item.claim.department.staff_group)
        if selectors.actionable_items(user).filter(task_id=item.task_id).exists()
    )
    decide_task(user=reviewer, task_id=item.task_id, decision="approve", comment="同意")
    claim = Claim.objects.get(pk=item.claim_id)
    assert claim.status == ClaimStatus.HR_REVIEW
    assert InboxItem.objects.get(claim=claim).step == "hr_review"
    assert inbox_drift() == []
    assert verify_ledger()["ok"]


def test_an_hr_approval_of_a_generated_claim_reserves_its_lines_in_the_departments_allocation(generated):
    """Every generated department has this year's allocation (seed_demo's figures), so the HR
    reviewers of a neighbouring city approve generated claims as Wenling's approve the demo's."""
    item = (
        InboxItem.objects.filter(claim__in=generated, step="hr_review", owner=None, flagged_lines=0)
        .exclude(claim__jurisdiction__code="WL")
        .select_related("claim")
        .first()
    )
    assert item is not None, "the load has clean claims at HR review outside Wenling"
    reviewer = next(
        user
        for user in get_user_model().objects.filter(username__startswith="load_hr_reviewer_")
        if selectors.actionable_items(user).filter(task_id=item.task_id).exists()
    )
    decide_task(user=reviewer, task_id=item.task_id, decision="approve", comment="同意")
    claim = Claim.objects.get(pk=item.claim_id)
    assert claim.status in (ClaimStatus.HR_HEAD_APPROVAL, ClaimStatus.PUBLIC_NOTICE, ClaimStatus.APPROVED)
    if claim.status != ClaimStatus.HR_HEAD_APPROVAL:  # the final approval reserves the money
        assert set(claim.lines.filter(decision=LineDecision.APPROVE).values_list("allocation__department", flat=True)) == {
            claim.department_id
        }


def index_definitions() -> set[str]:
    """The indexes of the tables a load fills, and their constraints (the unique ones are dropped too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ANY(%s::regclass[])"
            " UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%s::regclass[])",
            [load.bulk_tables()] * 2,
        )
        return {definition for (definition,) in cursor.fetchall()}


def test_a_big_load_builds_the_indexes_it_dropped_even_when_it_fails_midway(demo, fast_password_hashing, monkeypatch):
    """A load of many claims drops the secondary indexes and builds them after; one that fails
    midway builds them too, and one killed outright leaves their definitions for the next run."""
    before = index_definitions()
    generate(claims=40, seed=3, password="load-pass", batch_size=20, defer_indexes_over=1)
    assert index_definitions() == before

    outcomes = iter([False, True])

    def fail_on_the_second_batch(*args, **kwargs):
        if next(outcomes):
            raise RuntimeError("worker killed")
        return write_batch(*args, **kwargs)

    monkeypatch.setattr(load, "write_batch", fail_on_the_second_batch)
    with pytest.raises(RuntimeError):
        generate(claims=40, seed=4, password="load-pass", batch_size=20, defer_indexes_over=1)
    assert index_definitions() == before
    monkeypatch.undo()

    with connection.cursor() as cursor:  # killed: nothing rebuilt them
        load.defer_indexes(cursor)
    assert index_definitions() < before
    generate(claims=1, seed=5, password="load-pass")
    assert index_definitions() == before


def test_the_copy_text_it_writes_reads_back_as_the_values_it_was_made_of(demo):
    """generate_load formats COPY's text itself (the writer thread only sends bytes): tabs, line
    breaks, backslashes, NULLs, times with their offset and amounts come back as they went in."""
    when = datetime.datetime(2026, 10, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    rows = [
        (1, "tab\there, line\nbreak, CR\r and \\N", None, True, when, datetime.date(2026, 10, 8), Decimal("950.00")),
        (2, "{}", "张三", False, when, datetime.date(2027, 1, 1), Decimal("0.10")),
        # each escaped character alone in its value, as most values hold none
        (3, "C:\\temp", "tab\tonly", None, when, None, None),
        (4, "line\nonly", "CR\ronly", None, when, None, None),
    ]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_check (n int, a text, b text, c boolean, d timestamptz, e date, f numeric)")
        load.copy_rows(cursor.cursor, "copy_check", ("n", "a", "b", "c", "d", "e", "f"), load.copy_text(rows))
        cursor.execute("SELECT n, a, b, c, d, e, f FROM copy_check ORDER BY n")
        assert cursor.fetchall() == rows
    with pytest.raises(TypeError):
        load.copy_text([(object(),)])


def test_it_refuses_anything_but_postgresql(settings, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("generate_load", claims=10)
