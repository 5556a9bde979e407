"""Payment batches through the services: built from approved lines grouped by payee, released by
a second finance officer, the bank file written once by a Celery task, whatever happens.

On PostgreSQL: two builds at once, two releases at once, a release task that crashes midway in a
real worker and is retried; everywhere: four eyes, skipped payees, cancellation, idempotency."""

import csv
import datetime
import hashlib
import io
import os
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from openpyxl import load_workbook

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.models import ClaimLine, Jurisdiction
from due.registry import run_due
from payments.models import BatchLine, BatchStatus, PaymentBatch, Transfer
from payments.services.batches import cancel_batch, release_batch
from payments.services.payees import set_payee_account
from payments.tasks import release_batch_task
from workflow.disbursement import build_batch, request_release

from .api_support import login
from .conftest import DEMO_PASSWORD, redis_unreachable
from .payments_support import approved_claim, living_allowance_claim
from .test_audit_completeness import Ledger
from .test_concurrency import join_all, run_at_once


@pytest.fixture
def wl(db):
    return Jurisdiction.objects.get(code="WL")


def released(batch: PaymentBatch) -> PaymentBatch:
    """What the worker does after commit (the task body), here in this process."""
    return release_batch(batch_id=batch.pk)


def payment_csv(batch: PaymentBatch) -> list[list[str]]:
    content = bytes(batch.files.get(kind="payment_csv").content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def statuses(claim) -> list[str]:
    return list(claim.lines.order_by("line_no").values_list("payment_status", flat=True))


def test_a_batch_pays_each_payee_once_and_the_file_adds_up(demo, wl):
    school = approved_claim(demo, serials=(1, 2))  # provider WL-P001: two lines, one transfer
    other_school = approved_claim(demo, serials=(3,), clerk="provider2_clerk")
    person = living_allowance_claim(demo, serials=(50,))  # S6: to the person's social security card
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.lines.get().trainee,
        account_name="学员50",
        bank_name="温岭农商银行",
        account_number="6230910000000000050",
    )

    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    expected_total = sum((claim.total for claim in (school, other_school, person)), Decimal("0.00"))
    assert (batch.status, batch.line_count, batch.payee_count, batch.total) == ("built", 4, 3, expected_total)
    transfers = {t.account_name: t for t in batch.transfers.all()}
    assert transfers["温岭市某职业技能培训学校"].amount == school.total
    assert transfers["温岭市某职业技能培训学校"].lines.count() == 2
    assert transfers["学员50"].payee_kind == "trainee" and transfers["学员50"].amount == Decimal("1000.00")
    assert transfers["学员50"].account_number_masked == "6230***********0050"
    for claim in (school, other_school, person):
        claim.refresh_from_db()
        assert claim.status == "in_payment" and set(statuses(claim)) == {"in_batch"}

    batch = request_release(actor=demo["finance_officer2"], batch=batch)
    assert batch.status == "releasing" and batch.released_by == demo["finance_officer2"]
    batch = released(batch)
    assert batch.status == "released" and batch.released_at is not None
    rows = payment_csv(batch)
    assert rows[0] == ["批次号", "序号", "收款人类型", "户名", "账号", "开户银行", "金额", "用途"]
    details, trailer = rows[1:-1], rows[-1]
    assert [row[1] for row in details] == ["1", "2", "3"]
    assert "6230910000000000050" in [row[4] for row in details]  # the bank needs the full number
    assert trailer[:2] == ["合计", "3"] and Decimal(trailer[6]) == expected_total == sum(Decimal(row[6]) for row in details)
    digest = hashlib.sha256("\n".join(",".join(row) for row in details).encode()).hexdigest()
    assert trailer[7] == f"SHA256:{digest}"
    xlsx = load_workbook(io.BytesIO(bytes(batch.files.get(kind="payment_xlsx").content)), read_only=True)
    sheet = list(xlsx.active.iter_rows(values_only=True))
    assert [str(row[4]) for row in sheet[1:-1]] == [row[4] for row in details]
    assert Decimal(str(sheet[-1][6])) == expected_total and sheet[-1][7] == trailer[7]
    for file in batch.files.all():
        assert file.sha256 == hashlib.sha256(bytes(file.content)).hexdigest()
    for claim in (school, other_school, person):
        assert set(statuses(claim)) == {"in_payment"}
    assert set(Transfer.objects.filter(batch=batch).values_list("status", flat=True)) == {"sent"}
    assert verify_chain()["ok"] is True


def test_a_long_batch_number_still_gives_a_workbook_excel_opens(demo, wl):
    """A jurisdiction code of 20 characters (the field allows it) makes a batch number of 33; Excel
    allows a sheet title of 31 at most and would "repair" the bank file."""
    approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    PaymentBatch.objects.filter(pk=batch.pk).update(number=f"PB-{'W' * 20}-2026-0001")
    batch = released(request_release(actor=demo["finance_officer2"], batch=batch))
    xlsx = load_workbook(io.BytesIO(bytes(batch.files.get(kind="payment_xlsx").content)), read_only=True)
    assert all(len(title) <= 31 for title in xlsx.sheetnames)
    assert [row[0] for row in xlsx.active.iter_rows(min_row=2, max_row=2, values_only=True)] == [batch.number]


def test_lines_without_a_payee_account_or_reviewed_by_the_builder_wait_for_a_later_batch(demo, wl):
    from django.contrib.auth.models import Group

    payable = approved_claim(demo, serials=(1,))
    person = living_allowance_claim(demo, serials=(51,))  # no social security card account yet
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert batch.line_count == 1
    assert [(item["claim"], item["line"], item["reason"]) for item in batch.skipped] == [
        (person.number, 1, "收款人没有社会保障卡账户。")
    ]
    assert statuses(person) == ["reserved"]

    # Asking for that claim by name is an error naming it; nothing is built.
    with pytest.raises(InvalidInput) as refused:
        build_batch(actor=demo["finance_officer"], jurisdiction=wl, claim_ids=[person.pk])
    assert refused.value.fields == {"claims[0]": ["第 1 行：收款人没有社会保障卡账户。"]}
    with pytest.raises(InvalidInput) as refused:
        build_batch(actor=demo["finance_officer"], jurisdiction=wl, claim_ids=[payable.pk, 999999])
    assert set(refused.value.fields) == {"claims[0]", "claims[1]"}
    assert PaymentBatch.objects.count() == 1

    # A finance officer who reviewed a claim cannot put it in a batch (N4).
    hr = demo["hr_reviewer"]
    hr.groups.add(Group.objects.get(name="finance_officer"))
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.lines.get().trainee,
        account_name="学员51",
        bank_name="温岭农商银行",
        account_number="6230910000000000051",
    )
    with pytest.raises(InvalidInput) as refused:
        build_batch(actor=hr, jurisdiction=wl)
    assert "职责分离" in str(refused.value.fields)
    assert build_batch(actor=demo["finance_officer"], jurisdiction=wl).line_count == 1


def test_four_eyes_the_builder_cannot_release_and_nobody_releases_twice(
    demo, wl, django_capture_on_commit_callbacks, celery_eager
):
    approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    with pytest.raises(ActionForbidden) as refused:
        request_release(actor=demo["finance_officer"], batch=batch)
    assert refused.value.code == "four_eyes"
    with pytest.raises(ActionForbidden):
        request_release(actor=demo["hr_reviewer"], batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.released_by) == ("built", None)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        request_release(actor=demo["finance_officer2"], batch=batch)
    assert len(callbacks) == 1
    batch.refresh_from_db()
    assert batch.status == "released" and batch.files.count() == 2
    events = AuditEvent.objects.filter(object_type="payments.paymentbatch", object_id=str(batch.pk))
    assert list(events.values_list("action", flat=True)) == [
        "payment_batch.built",
        "payment_batch.release_requested",
        "payment_batch.released",
    ]

    with pytest.raises(StepAlreadyTaken):
        request_release(actor=demo["finance_officer2"], batch=batch)
    # The task delivered again (a retry, a redelivered message): nothing happens.
    before = AuditEvent.objects.count()
    assert release_batch_task.apply(args=[batch.pk]).get() == "released"
    assert batch.files.count() == 2 and AuditEvent.objects.count() == before
    assert BatchLine.objects.filter(batch=batch, status="in_payment").count() == 2


def test_a_release_that_crashes_midway_leaves_nothing_and_the_retry_pays_once(demo, wl, monkeypatch):
    claim = approved_claim(demo, serials=(1, 2))
    batch = request_release(actor=demo["finance_officer2"], batch=build_batch(actor=demo["finance_officer"], jurisdiction=wl))
    from payments.services import batches

    def crash(*args, **kwargs):
        raise OSError("worker lost its connection")

    # Fails after the files were written and the lines moved, before the ledger entries.
    monkeypatch.setattr(batches, "_record_claim_events", crash)
    with pytest.raises(OSError):
        released(batch)
    batch.refresh_from_db()
    assert batch.status == "releasing" and batch.files.count() == 0
    assert statuses(claim) == ["in_batch", "in_batch"]
    monkeypatch.undo()
    assert released(batch).status == "released"
    assert released(batch).status == "released"
    assert batch.files.count() == 2 and statuses(claim) == ["in_payment", "in_payment"]
    assert AuditEvent.objects.filter(action="payment_batch.released").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_release_asked_while_redis_is_down_is_answered_as_usual_and_the_due_jobs_release_it(demo, wl, celery_eager):
    """finance_officer2 releases a batch while Redis is down. The release is recorded, so she is
    answered as with Redis up (202, "releasing"), not with an error for what was committed. The
    bank files wait for the due jobs (beat's every minute, or `make due`): once the release has
    waited two minutes, they hand it to the worker (here, eager Celery: in this process)."""
    approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    client = login("finance_officer2")
    client.raise_request_exception = False
    with redis_unreachable():
        response = client.post(f"/api/v1/payment-batches/{batch.pk}/release/", format="json")
    assert response.status_code == 202, response.content[:500]
    assert response.json()["status"] == "releasing"
    batch.refresh_from_db()
    assert (batch.status, batch.files.count()) == ("releasing", 0)

    asked = batch.release_requested_at
    # A minute on, a task may still be on it: left alone.
    assert run_due(asked + datetime.timedelta(minutes=1))["payments.requeue_stuck_releases"] == 0
    assert run_due(asked + datetime.timedelta(minutes=3))["payments.requeue_stuck_releases"] == 1
    batch.refresh_from_db()
    assert (batch.status, batch.files.count()) == ("released", 2)
    assert run_due(asked + datetime.timedelta(minutes=4))["payments.requeue_stuck_releases"] == 0
    assert AuditEvent.objects.filter(action="payment_batch.released", object_id=str(batch.pk)).count() == 1


def test_a_cancelled_batch_gives_its_lines_back_to_the_next_batch(demo, wl):
    claim = approved_claim(demo, serials=(1, 2))
    first = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    with pytest.raises(InvalidInput):
        cancel_batch(actor=demo["finance_officer"], batch=first, reason=" ")
    cancel_batch(actor=demo["finance_officer"], batch=first, reason="金额需复核")
    claim.refresh_from_db()
    assert claim.status == "approved" and statuses(claim) == ["reserved", "reserved"]
    with pytest.raises(StepAlreadyTaken):
        request_release(actor=demo["finance_officer2"], batch=first)
    second = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert second.line_count == 2 and second.number.endswith("-0002")
    assert set(BatchLine.objects.filter(batch=first).values_list("status", flat=True)) == {"cancelled"}


def test_whoever_set_a_payees_account_cannot_release_the_batch_that_pays_it(demo, wl):
    """The person who says where money goes does not also send it there: a finance officer who
    set a payee's account (entered it, or corrected it after a return) cannot release the batch
    paying that account, even when a colleague built it; a third officer releases it (N4)."""
    from claims import roles
    from workflow.staffing import ensure_staff_user

    approved_claim(demo, serials=(1,))  # the school, whose account the seed entered
    person = living_allowance_claim(demo, serials=(52,))  # S6: 20 days × 50 to the person's card
    set_payee_account(
        actor=demo["finance_officer2"],
        trainee=person.lines.get().trainee,
        account_name="学员52",
        bank_name="温岭农商银行",
        account_number="6230910000000000052",
    )
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    seq = batch.transfers.get(payee_kind="trainee").seq
    with pytest.raises(ActionForbidden) as refused:
        request_release(actor=demo["finance_officer2"], batch=batch)
    assert refused.value.code == "four_eyes"
    assert f"第 {seq} 笔" in str(refused.value)
    batch.refresh_from_db()
    assert (batch.status, batch.released_by) == ("built", None)

    # A correction after the build changes nothing of this batch: it pays the account it was built with.
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.lines.get().trainee,
        account_name="学员52",
        bank_name="温岭农商银行",
        account_number="6230910000000000099",
    )
    with pytest.raises(ActionForbidden):
        request_release(actor=demo["finance_officer2"], batch=batch)

    third = ensure_staff_user(
        username="finance_officer3",
        password=DEMO_PASSWORD,
        role=roles.FINANCE_OFFICER,
        scope_group=wl.staff_group,
    )
    assert request_release(actor=third, batch=batch).status == "releasing"


def test_the_migration_names_who_set_the_accounts_of_batches_not_yet_released(demo, wl):
    """payments 0008: a batch built before it and not released takes, for each transfer, who set
    the payee's account, where that is still the very account the transfer pays."""
    from importlib import import_module

    from django.apps import apps

    approved_claim(demo, serials=(1,))
    first, second = living_allowance_claim(demo, serials=(53,)), living_allowance_claim(demo, serials=(54,))
    for claim, number in ((first, "6230910000000000053"), (second, "6230910000000000054")):
        set_payee_account(
            actor=demo["finance_officer2"],
            trainee=claim.lines.get().trainee,
            account_name=claim.lines.get().name,
            bank_name="温岭农商银行",
            account_number=number,
        )
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    Transfer.objects.filter(batch=batch).update(account_set_by=None)  # as built before the migration
    set_payee_account(  # changed since: the batch does not pay this one
        actor=demo["finance_officer"],
        trainee=second.lines.get().trainee,
        account_name=second.lines.get().name,
        bank_name="温岭农商银行",
        account_number="6230910000000000055",
    )
    import_module("payments.migrations.0008_transfer_account_set_by").fill(apps, None)
    set_by = dict(Transfer.objects.filter(batch=batch).values_list("trainee", "account_set_by"))
    assert set_by[first.lines.get().trainee_id] == demo["finance_officer2"].pk
    assert set_by[second.lines.get().trainee_id] is None
    assert set_by[None] is None  # the school's account, entered by the seed


def test_the_database_refuses_a_second_live_payment_of_a_line(demo, wl):
    approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    live = batch.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchLine.objects.create(batch=batch, transfer=live.transfer, claim_line=live.claim_line, amount=live.amount)


def test_building_with_nothing_to_pay_is_a_clear_error(demo, wl):
    with pytest.raises(InvalidInput) as refused:
        build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert "没有可编入批次" in refused.value.message
    with pytest.raises(ActionForbidden):
        build_batch(actor=demo["provider_clerk"], jurisdiction=wl)


def test_batch_services_record_every_change(demo, wl):
    ledger = Ledger()
    claim = approved_claim(demo, serials=(1, 2))
    with ledger.expect("payment_batch.built", "claim.payment_batched") as call:
        batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert [e.claim_id for e in call["entries"] if e.action == "claim.payment_batched"] == [claim.pk]
    with ledger.expect("payment_batch.cancelled", "claim.payment_unbatched"):
        cancel_batch(actor=demo["finance_officer"], batch=batch, reason="重建")
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    with ledger.expect("payment_batch.release_requested"):
        request_release(actor=demo["finance_officer2"], batch=batch)
    with ledger.expect("payment_batch.released", "claim.in_payment") as call:
        released(batch)
    claim_entry = [e for e in call["entries"] if e.action == "claim.in_payment"][0]
    assert [change["after"] for change in claim_entry.detail["line_changes"]] == [{"payment_status": "in_payment"}] * 2
    with ledger.nothing(), pytest.raises(StepAlreadyTaken):
        request_release(actor=demo["finance_officer2"], batch=batch)


# --------------------------------------------------------------------------- PostgreSQL, at once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_building_at_once_never_put_a_line_in_two_batches(demo):
    from claims import roles
    from claims.organisation import ensure_staff_user

    third = ensure_staff_user(
        username="finance_officer3",
        password=DEMO_PASSWORD,
        role=roles.FINANCE_OFFICER,
        scope_group=Jurisdiction.objects.get(code="WL").staff_group,
    )
    claims = [approved_claim(demo, serials=(2 * n + 1, 2 * n + 2)) for n in range(4)]
    wl = Jurisdiction.objects.get(code="WL")
    threads, outcomes = run_at_once(
        lambda: build_batch(actor=demo["finance_officer"], jurisdiction=wl), lambda: build_batch(actor=third, jurisdiction=wl)
    )
    join_all(threads)
    built = [batch for batch, error in outcomes if error is None]
    errors = [error for batch, error in outcomes if error is not None]
    assert all(isinstance(error, InvalidInput) for error in errors), errors
    assert sum(batch.line_count for batch in built) == 8
    assert BatchLine.objects.count() == 8 and BatchLine.objects.values("claim_line").distinct().count() == 8
    assert set(ClaimLine.objects.filter(claim__in=claims).values_list("payment_status", flat=True)) == {"in_batch"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_releasing_at_once_release_once(demo, celery_eager):
    from claims import roles
    from claims.organisation import ensure_staff_user

    third = ensure_staff_user(
        username="finance_officer3",
        password=DEMO_PASSWORD,
        role=roles.FINANCE_OFFICER,
        scope_group=Jurisdiction.objects.get(code="WL").staff_group,
    )
    approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    threads, outcomes = run_at_once(
        lambda: request_release(actor=demo["finance_officer2"], batch=batch), lambda: request_release(actor=third, batch=batch)
    )
    join_all(threads)
    errors = [error for _result, error in outcomes if error is not None]
    assert len(errors) == 1 and isinstance(errors[0], StepAlreadyTaken), outcomes
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RELEASED and batch.files.count() == 2
    assert AuditEvent.objects.filter(action="payment_batch.released").count() == 1


# The first release attempt fails inside its transaction; a sequence remembers that it did
# (sequences are not rolled back), so the retry goes through.
CRASH_ONCE = """
CREATE SEQUENCE test_crash_seq;
CREATE FUNCTION test_crash_once() RETURNS trigger AS $$
BEGIN
  IF nextval('test_crash_seq') = 1 THEN
    RAISE EXCEPTION 'simulated crash while releasing';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_crash_once BEFORE UPDATE ON payments_batchline FOR EACH ROW EXECUTE FUNCTION test_crash_once();
"""
DROP_CRASH_ONCE = (
    "DROP TRIGGER test_crash_once ON payments_batchline; DROP FUNCTION test_crash_once(); DROP SEQUENCE test_crash_seq;"
)


@pytest.mark.postgres
@pytest.mark.celery_worker
def test_the_worker_retries_a_release_that_crashed_midway_and_pays_once(celery_worker, demo):
    """A real worker process: the first attempt fails after writing the files and marking the
    transfers sent, inside its transaction; the task retries; the batch is released once."""
    claim = approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    with connection.cursor() as cursor:
        cursor.execute(CRASH_ONCE)
    try:
        offset = celery_worker.log_offset()
        request_release(actor=demo["finance_officer2"], batch=batch)
        celery_worker.wait_for_log(r"release of batch \d+ failed \(attempt 1\): simulated crash", after=offset)
        celery_worker.wait_for_log(r"payments\.tasks\.release_batch_task\[[0-9a-f-]+\] succeeded", after=offset, timeout=60)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_CRASH_ONCE)
    batch.refresh_from_db()
    assert batch.status == "released" and batch.files.count() == 2
    assert statuses(claim) == ["in_payment", "in_payment"]
    assert AuditEvent.objects.filter(action="payment_batch.released", object_id=str(batch.pk)).count() == 1


def test_make_runs_demo_claims_give_every_desk_work_and_finance_a_batch_to_build(demo, wl):
    from django.core.management import call_command

    from claims.models import Claim

    call_command("seed_demo", password=DEMO_PASSWORD, with_claims=True, stdout=open(os.devnull, "w"))
    assert sorted(Claim.objects.values_list("status", flat=True)) == [
        "approved",
        "approved",
        "department_review",
        "draft",
        "hr_review",
    ]
    call_command("seed_demo", password=DEMO_PASSWORD, with_claims=True, stdout=open(os.devnull, "w"))
    assert Claim.objects.count() == 5  # only into a database without claims
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert (batch.line_count, batch.payee_count, batch.skipped) == (5, 2, [])


@pytest.mark.postgres
def test_building_and_cancelling_a_batch_lock_the_claims_before_their_lines(demo):
    """The order of every payment service (claims.payment_stage.lock_claims): claim, line,
    ledger. A line's payment cancelled by HR locks its claim, then the line; a build that locked
    the lines first, then the claims, deadlocked with it (seen once in four tries)."""
    from django.test.utils import CaptureQueriesContext

    approved_claim(demo, serials=(1, 2))
    wl = Jurisdiction.objects.get(code="WL")

    def first_lock_of(queries) -> list[str]:
        tables = []
        for query in queries.captured_queries:
            sql = query["sql"]
            for table in ("claims_claimline", "claims_claim"):
                locks = "FOR UPDATE" in sql and sql.split(" FROM ")[1].lstrip().startswith(f'"{table}"')
                writes = sql.startswith(f'UPDATE "{table}"')
                if (locks or writes) and table not in tables:
                    tables.append(table)
        return tables

    with CaptureQueriesContext(connection) as built:
        batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert first_lock_of(built)[:2] == ["claims_claim", "claims_claimline"], first_lock_of(built)
    with CaptureQueriesContext(connection) as cancelled:
        cancel_batch(actor=demo["finance_officer"], batch=batch, reason="重建")
    assert first_lock_of(cancelled)[:2] == ["claims_claim", "claims_claimline"], first_lock_of(cancelled)
