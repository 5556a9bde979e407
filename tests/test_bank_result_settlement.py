"""A bank result's claims are ended by the worker, not by the upload's request.

The file moves transfers and lines in the upload's transaction; the claims' workflow (each claim
with nothing left to pay ends as paid, the providers of returned lines are told) follows in the
worker, in chunks: at ~45 ms a claim, a batch of thousands would outlast the request and roll
back with it. Nothing is lost and nothing done twice: a lost task is found by the due-job sweep,
a worker that dies midway leaves what it committed and the rest to its retry, and two workers
never settle one batch at once (its lease)."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from claims.models import Claim
from notifications.models import Kind, Notification
from payments.models import PaymentBatch
from payments.services import results
from workflow import disbursement
from workflow.tasks import settle_batch_task

from .payments_support import approved_claim
from .test_payment_results import csv_file, released_batch, result_rows, seq_of, two_payees  # noqa: F401 - a fixture

SETTLED = r"workflow\.tasks\.settle_batch_task\[[0-9a-f-]+\] succeeded"


def status_of(claim: Claim) -> str:
    claim.refresh_from_db()
    return claim.status


def settling_since(batch: PaymentBatch):
    return PaymentBatch.objects.values_list("settle_requested_at", flat=True).get(pk=batch.pk)


def run_due(moment: datetime.datetime) -> str:
    out = io.StringIO()
    call_command("run_due", "--now", moment.isoformat(), "--only", "workflow.settle_forgotten_batches", stdout=out)
    return out.getvalue()


def test_finance_uploads_the_result_and_the_worker_ends_the_claims(demo, two_payees, client):
    """STORIES: 财政局 uploads the bank's 回单 on the batch page. The page answers at once; the
    reconciliation says the claims are being ended; once the worker has run, claim A (paid) is
    paid and claim B's provider (returned) has been told."""
    claim_a, claim_b, batch = two_payees
    content = csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): ("失败", "户名不符")}))
    upload = io.BytesIO(content)
    upload.name = "回单.csv"
    client.force_login(demo["finance_officer"])
    page = client.post(reverse("payments:result_upload", args=[batch.pk]), {"file": upload}, follow=True)
    assert page.status_code == 200
    text = page.content.decode()
    assert "入账 1 笔，退票 1 笔；涉及 2 笔申领，由后台逐笔办结" in text
    # The request's transaction is the test's: its after-commit task has not run.
    # Claim A has nothing left to pay: the worker is to end it; claim B waits for its payee's account.
    assert 'id="settling"' in text and "正由后台逐笔办结" in text and "还有 1 笔待办结" in text
    assert status_of(claim_a) == "in_payment" and status_of(claim_b) == "in_payment"
    assert not Notification.objects.filter(kind=Kind.PAYMENT_RETURNED).exists()
    reconciliation = APIClient()
    reconciliation.force_authenticate(demo["finance_officer"])
    report = reconciliation.get(f"/api/v1/payment-batches/{batch.pk}/reconciliation/").json()
    assert report["settling_since"] is not None and report["claims_left_to_settle"] == 1

    assert settle_batch_task.apply(args=[batch.pk]).get() == 1  # what the worker runs
    assert status_of(claim_a) == "paid" and status_of(claim_b) == "in_payment"
    [told] = Notification.objects.filter(kind=Kind.PAYMENT_RETURNED, claim=claim_b)
    assert told.recipient == demo["provider2_clerk"] and f"第 1 行的拨付被银行退回（批次 {batch.number}）" in told.message
    [paid] = AuditEvent.objects.filter(action="claim.paid", claim_id=claim_a.pk)
    assert paid.actor_id == demo["finance_officer"].pk and paid.detail["batch"] == batch.number
    assert settling_since(batch) is None
    page = client.get(reverse("payments:reconciliation", args=[batch.pk]))
    assert 'id="settling"' not in page.content.decode()
    report = reconciliation.get(f"/api/v1/payment-batches/{batch.pk}/reconciliation/").json()
    assert (report["settling_since"], report["claims_left_to_settle"]) == (None, 0)

    # The task again (a redelivered message): nothing more.
    events = AuditEvent.objects.count()
    assert settle_batch_task.apply(args=[batch.pk]).get() == 0
    assert AuditEvent.objects.count() == events
    assert Notification.objects.filter(kind=Kind.PAYMENT_RETURNED).count() == 1


def test_the_api_answers_before_the_claims_end(demo, two_payees):
    claim_a, claim_b, batch = two_payees
    api = APIClient()
    api.force_authenticate(demo["finance_officer"])
    upload = io.BytesIO(csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): "成功"})))
    upload.name = "回单.csv"
    answer = api.post(f"/api/v1/payment-batches/{batch.pk}/results/", {"file": upload}, format="multipart")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["paid"], body["claims"], body["claims_to_settle"], body["reconciled"]) == (2, 2, 2, True)
    assert "claims_paid" not in body  # not known when the request ends
    assert disbursement.settle_batch(batch.pk) == 2
    assert status_of(claim_a) == "paid" and status_of(claim_b) == "paid"


def test_a_lost_task_is_found_by_the_sweep(demo, two_payees):
    """Redis was down when the upload committed: the task never ran. The due-job sweep settles
    the batch once it has waited longer than a task would."""
    claim_a, claim_b, batch = two_payees
    disbursement.apply_bank_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): "成功"})),
    )  # its after-commit task is never run here
    asked = settling_since(batch)
    assert asked is not None
    assert "workflow.settle_forgotten_batches: 0" in run_due(asked + datetime.timedelta(minutes=1))
    assert status_of(claim_a) == "in_payment"
    assert "workflow.settle_forgotten_batches: 1" in run_due(
        asked + disbursement.SETTLE_SWEEP_AFTER + datetime.timedelta(seconds=1)
    )
    assert status_of(claim_a) == "paid" and status_of(claim_b) == "paid"
    assert settling_since(batch) is None
    assert "workflow.settle_forgotten_batches: 0" in run_due(asked + datetime.timedelta(hours=1))


def test_a_batch_the_sweep_cannot_settle_does_not_hold_back_the_others(
    demo, django_capture_on_commit_callbacks, celery_eager, monkeypatch
):
    """Two batches' tasks were lost; settling the first fails. The sweep still settles the second,
    then reports the failure; the first is free for the next run."""
    first_claim, second_claim = approved_claim(demo, serials=(31,)), approved_claim(demo, serials=(32,))
    batches = [released_batch(demo, django_capture_on_commit_callbacks, claims=[claim]) for claim in (first_claim, second_claim)]
    for batch in batches:
        disbursement.apply_bank_result(
            actor=demo["finance_officer"],
            batch=batch,
            filename="回单.csv",
            content=csv_file(result_rows(batch, {transfer.seq: "成功" for transfer in batch.transfers.all()})),
        )
    real_settle = disbursement.settle_claims

    def fails_for_the_first(**kwargs):
        if first_claim.pk in kwargs["claim_ids"]:
            raise RuntimeError("database hiccup")
        return real_settle(**kwargs)

    monkeypatch.setattr(disbursement, "settle_claims", fails_for_the_first)
    later = settling_since(batches[1]) + disbursement.SETTLE_SWEEP_AFTER + datetime.timedelta(seconds=1)
    with pytest.raises(RuntimeError, match="database hiccup"):
        disbursement.settle_forgotten_batches(later)
    assert status_of(first_claim) == "in_payment" and status_of(second_claim) == "paid"
    assert settling_since(batches[0]) is not None and settling_since(batches[1]) is None
    monkeypatch.setattr(disbursement, "settle_claims", real_settle)
    assert disbursement.settle_forgotten_batches(later) == 1
    assert status_of(first_claim) == "paid"


def test_a_worker_that_dies_midway_leaves_its_work_and_the_rest_to_the_retry(
    demo, django_capture_on_commit_callbacks, celery_eager, monkeypatch
):
    """Four claims, settled one per transaction; the worker fails on the third. The first two
    stay paid; the lease is given back, so the retry goes on at once and ends the others, each
    claim once."""
    claims = [approved_claim(demo, serials=(serial,)) for serial in (11, 12, 13, 14)]
    batch = released_batch(demo, django_capture_on_commit_callbacks, claims=claims)
    disbursement.apply_bank_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {transfer.seq: "成功" for transfer in batch.transfers.all()})),
    )
    monkeypatch.setattr(disbursement, "SETTLE_CHUNK", 1)
    real_settle = disbursement.settle_claims
    calls = []

    def dies_on_the_third(**kwargs):
        calls.append(kwargs["claim_ids"])
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_settle(**kwargs)

    monkeypatch.setattr(disbursement, "settle_claims", dies_on_the_third)
    with pytest.raises(RuntimeError, match="worker lost"):
        disbursement.settle_batch(batch.pk)
    assert [status_of(claim) for claim in claims] == ["paid", "paid", "in_payment", "in_payment"]
    assert PaymentBatch.objects.get(pk=batch.pk).settle_lease_until is None  # given back
    assert settling_since(batch) is not None

    assert disbursement.settle_batch(batch.pk) == 2
    assert [status_of(claim) for claim in claims] == ["paid"] * 4
    assert AuditEvent.objects.filter(action="claim.paid", claim_id__in=[c.pk for c in claims]).count() == 4
    assert settling_since(batch) is None


def test_one_worker_at_a_time_until_its_lease_passes(demo, two_payees, monkeypatch):
    claim_a, claim_b, batch = two_payees
    monkeypatch.setattr(results, "SETTLE_LEASE", datetime.timedelta(minutes=10))
    disbursement.apply_bank_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): "成功"})),
    )
    now = timezone.now()
    asked = results.take_settlement(batch.pk, now=now)  # a worker holds it, then is killed
    assert asked == settling_since(batch)
    assert disbursement.settle_batch(batch.pk) == 0  # a second worker leaves it alone
    assert status_of(claim_a) == "in_payment"
    later = now + disbursement.SETTLE_SWEEP_AFTER + datetime.timedelta(seconds=1)
    assert "workflow.settle_forgotten_batches: 0" in run_due(later)  # the lease has not passed
    after_the_lease = now + results.SETTLE_LEASE + datetime.timedelta(seconds=1)
    assert "workflow.settle_forgotten_batches: 1" in run_due(after_the_lease)
    assert status_of(claim_a) == "paid" and status_of(claim_b) == "paid"


def test_a_second_result_while_the_worker_settles_is_settled_too(demo, two_payees, monkeypatch):
    """The bank's answer came in two files; the second is applied while the worker is on the
    first's claims. The worker does not clear what it was not asked: it goes over the batch again."""
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    first = csv_file(result_rows(batch, {seq_a: "成功"}))
    second = csv_file(result_rows(batch, {seq_b: "成功"}))
    disbursement.apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="1.csv", content=first)
    real = disbursement._settle_answered
    passes = []

    def second_file_arrives(batch_id, answered):
        passes.append(answered.with_paid_line)
        if len(passes) == 1:
            disbursement.apply_bank_result(actor=demo["finance_officer2"], batch=batch, filename="2.csv", content=second)
        return real(batch_id, answered)

    monkeypatch.setattr(disbursement, "_settle_answered", second_file_arrives)
    assert disbursement.settle_batch(batch.pk) == 2
    assert passes == [[claim_a.pk], [claim_b.pk]]  # the second pass: what still awaits payment
    assert status_of(claim_a) == "paid" and status_of(claim_b) == "paid"
    assert settling_since(batch) is None
    # Each claim's event is by whoever uploaded the file that stated its payment.
    assert dict(AuditEvent.objects.filter(action="claim.paid").values_list("claim_id", "actor_id")) == {
        claim_a.pk: demo["finance_officer"].pk,
        claim_b.pk: demo["finance_officer2"].pk,
    }


def test_two_files_settled_together_name_each_claims_payment_by_its_own_files_uploader(demo, two_payees):
    """Both files are applied before the worker runs (one pass settles both): claim A's payment
    is still recorded as done by the officer whose file stated it, not by the later uploader."""
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    first = csv_file(result_rows(batch, {seq_a: "成功"}))
    second = csv_file(result_rows(batch, {seq_b: "成功"}))
    disbursement.apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="1.csv", content=first)
    disbursement.apply_bank_result(actor=demo["finance_officer2"], batch=batch, filename="2.csv", content=second)
    assert disbursement.settle_batch(batch.pk) == 2
    paid_by = dict(AuditEvent.objects.filter(action="claim.paid").values_list("claim_id", "actor_id"))
    stated_by = dict(AuditEvent.objects.filter(action="claim.payment_result").values_list("claim_id", "actor_id"))
    assert paid_by == stated_by == {claim_a.pk: demo["finance_officer"].pk, claim_b.pk: demo["finance_officer2"].pk}


def test_the_worker_ends_claims_in_claim_order_whoever_uploaded_their_files(demo, two_payees, monkeypatch):
    """The worker takes the claims' locks in claim order, as an upload does: however the files'
    uploaders alternate, the worker and a later file's upload never wait on each other in a ring."""
    _claim_a, _claim_b, batch = two_payees
    calls = []
    monkeypatch.setattr(disbursement, "settle_claims", lambda *, actor, claim_ids, detail: calls.append((actor, claim_ids)) or 0)
    first, second = demo["finance_officer"], demo["finance_officer2"]
    answered = results.AnsweredClaims(
        number=batch.number, with_paid_line=[11, 12, 13], returned_lines={}, actors={11: first, 12: second, 13: first}
    )
    disbursement._settle_answered(batch.pk, answered)
    assert calls == [(first, [11]), (second, [12]), (first, [13])]


@pytest.mark.celery_worker
def test_a_real_worker_ends_the_claims_of_an_uploaded_result(celery_worker, demo):
    """PostgreSQL, Redis and a Celery worker: release, upload through the API, and the claims end."""
    claims = [approved_claim(demo, serials=(serial,)) for serial in (21, 22, 23)]
    offset = celery_worker.log_offset()
    batch = disbursement.build_batch(
        actor=demo["finance_officer"], jurisdiction=claims[0].jurisdiction, claim_ids=[c.pk for c in claims]
    )
    disbursement.request_release(actor=demo["finance_officer2"], batch=batch)
    celery_worker.wait_for_log(r"payments\.tasks\.release_batch_task\[[0-9a-f-]+\] succeeded", after=offset)
    batch.refresh_from_db()
    assert batch.status == "released"
    api = APIClient()
    api.force_authenticate(demo["finance_officer"])
    upload = io.BytesIO(csv_file(result_rows(batch, {transfer.seq: "成功" for transfer in batch.transfers.all()})))
    upload.name = "回单.csv"
    answer = api.post(f"/api/v1/payment-batches/{batch.pk}/results/", {"file": upload}, format="multipart")
    assert answer.status_code == 200, answer.content
    assert answer.json()["claims_to_settle"] == 3
    celery_worker.wait_for_log(SETTLED, after=offset)
    assert [status_of(claim) for claim in claims] == ["paid"] * 3
    assert AuditEvent.objects.filter(action="claim.paid", claim_id__in=[c.pk for c in claims]).count() == 3
    assert settling_since(batch) is None
