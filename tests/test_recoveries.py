"""追回: HR opens a recovery order on a paid line; finance records receipts; each receipt gives its
amount back to the allocation; the line is recovered once all of it came back."""

import datetime
from decimal import Decimal
from functools import partial

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine
from payments.models import Allocation, RecoveryOrder, RecoveryReceipt
from payments.services.recoveries import open_recovery, record_recovery_receipt
from tests.test_audit_completeness import Ledger

from .payments_support import approved_claim
from .test_payment_results import csv_file, released_batch, result_rows

TODAY = datetime.date.today()


@pytest.fixture
def paid_claim(demo, django_capture_on_commit_callbacks, celery_eager, apply_result) -> Claim:
    claim = approved_claim(demo, serials=(1, 2))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    claim.refresh_from_db()
    assert claim.status == "paid"
    return claim


def test_recovery_open_partial_and_full_receipts(demo, paid_claim):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    allocation = Allocation.objects.get(pk=line.allocation_id)
    committed = allocation.committed
    ledger = Ledger()
    with ledger.nothing(), pytest.raises(ActionForbidden):
        open_recovery(
            actor=demo["finance_officer"],
            line=line,
            amount_due=line.amount,
            payer_kind="provider",
            payer_name="温岭市某职业技能培训学校",
            reason_code="fraud",
            reason="x",
        )
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        open_recovery(
            actor=demo["hr_reviewer"],
            line=line,
            amount_due=line.amount + 1,
            payer_kind="bank",
            payer_name="",
            reason_code="nope",
            reason="",
        )
    assert set(refused.value.fields) == {"amount_due", "payer_kind", "payer_name", "reason_code", "reason"}
    with ledger.expect("recovery.opened"):
        order = open_recovery(
            actor=demo["hr_reviewer"],
            line=line,
            amount_due=line.amount,
            payer_kind="provider",
            payer_name="温岭市某职业技能培训学校",
            reason_code="revoked",
            reason="证书被发证机关撤销",
        )
    assert (order.status, order.amount_recovered) == ("open", Decimal("0.00"))
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:  # the whole amount is already claimed
        open_recovery(
            actor=demo["hr_head"],
            line=line,
            amount_due="1.00",
            payer_kind="provider",
            payer_name="x",
            reason_code="other",
            reason="again",
        )
    assert "amount_due" in refused.value.fields

    with ledger.nothing(), pytest.raises(ActionForbidden):
        record_recovery_receipt(actor=demo["hr_reviewer"], order=order, amount="100.00", received_on=TODAY, reference="R1")
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        record_recovery_receipt(
            actor=demo["finance_officer"], order=order, amount="-1", received_on=TODAY + datetime.timedelta(days=1), reference=""
        )
    assert set(refused.value.fields) == {"amount", "received_on", "reference"}
    with ledger.expect("recovery.receipt_recorded", "allocation.restored"):
        record_recovery_receipt(
            actor=demo["finance_officer"], order=order, amount="100.00", received_on=TODAY, reference="缴-001"
        )
    order.refresh_from_db()
    line.refresh_from_db()
    allocation.refresh_from_db()
    assert (order.status, order.amount_recovered) == ("open", Decimal("100.00"))
    assert line.payment_status == "paid"
    assert allocation.committed == committed - Decimal("100.00")

    outstanding = line.amount - Decimal("100.00")
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        record_recovery_receipt(
            actor=demo["finance_officer2"],
            order=order,
            amount=outstanding + Decimal("0.01"),
            received_on=TODAY,
            reference="缴-002",
        )
    assert "amount" in refused.value.fields
    with ledger.expect("recovery.receipt_recorded", "allocation.restored", "claim.line_recovered"):
        record_recovery_receipt(
            actor=demo["finance_officer2"], order=order, amount=outstanding, received_on=TODAY.isoformat(), reference="缴-002"
        )
    order.refresh_from_db()
    line.refresh_from_db()
    allocation.refresh_from_db()
    assert (order.status, order.amount_recovered) == ("recovered", line.amount)
    assert line.payment_status == "recovered"
    assert allocation.committed == committed - line.amount
    assert RecoveryReceipt.objects.filter(order=order).count() == 2
    with ledger.nothing(), pytest.raises(StepAlreadyTaken):
        record_recovery_receipt(actor=demo["finance_officer"], order=order, amount="1.00", received_on=TODAY, reference="缴-003")
    with ledger.nothing(), pytest.raises(StepAlreadyTaken):  # no longer paid
        open_recovery(
            actor=demo["hr_reviewer"],
            line=line,
            amount_due="1.00",
            payer_kind="provider",
            payer_name="x",
            reason_code="other",
            reason="again",
        )
    paid_claim.refresh_from_db()
    assert paid_claim.status == "paid"


def test_a_partial_order_recovers_its_amount_and_leaves_the_line_paid(demo, paid_claim):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=2)
    order = open_recovery(
        actor=demo["hr_head"],
        line=line,
        amount_due="50.00",
        payer_kind="provider",
        payer_name="机构",
        reason_code="overpaid",
        reason="多付 50 元",
    )
    second = open_recovery(
        actor=demo["hr_head"],
        line=line,
        amount_due=line.amount - Decimal("50.00"),
        payer_kind="provider",
        payer_name="机构",
        reason_code="fraud",
        reason="其余部分",
    )
    record_recovery_receipt(actor=demo["finance_officer"], order=order, amount="50.00", received_on=TODAY, reference="R")
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.status == "recovered" and line.payment_status == "paid"
    record_recovery_receipt(
        actor=demo["finance_officer"], order=second, amount=second.amount_due, received_on=TODAY, reference="R2"
    )
    line.refresh_from_db()
    assert line.payment_status == "recovered"


def test_recovery_not_on_an_unpaid_line(demo):
    claim = approved_claim(demo, serials=(1,))
    line = ClaimLine.objects.get(claim=claim)
    with pytest.raises(StepAlreadyTaken):
        open_recovery(
            actor=demo["hr_reviewer"],
            line=line,
            amount_due="1.00",
            payer_kind="provider",
            payer_name="x",
            reason_code="fraud",
            reason="x",
        )


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_recovery_api_and_scope(demo, paid_claim):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    body = {
        "claim": paid_claim.pk,
        "line": 1,
        "amount_due": str(line.amount),
        "payer_kind": "provider",
        "payer_name": "温岭市某职业技能培训学校",
        "reason_code": "fraud",
        "reason": "虚假培训",
    }
    assert api(demo["finance_officer"]).post("/api/v1/recoveries/", body, format="json").status_code == 403
    assert api(demo["dept_reviewer"]).post("/api/v1/recoveries/", body, format="json").status_code == 404  # out of scope
    assert api(demo["hr_reviewer"]).post("/api/v1/recoveries/", {**body, "line": 9}, format="json").status_code == 404
    response = api(demo["hr_reviewer"]).post("/api/v1/recoveries/", body, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["status"], order["amount_due"], order["claim_number"], order["line"]) == (
        "open",
        str(line.amount),
        paid_claim.number,
        1,
    )

    listing = api(demo["auditor"]).get("/api/v1/recoveries/").json()
    assert [item["id"] for item in listing["results"]] == [order["id"]]
    response = api(demo["provider_clerk"]).get("/api/v1/recoveries/")  # a list: nothing in scope, not an error
    assert response.status_code == 200 and response.json()["count"] == 0
    receipts = f"/api/v1/recoveries/{order['id']}/receipts/"
    assert (
        api(demo["hr_reviewer"])
        .post(receipts, {"amount": "10.00", "received_on": TODAY.isoformat(), "reference": "R"}, format="json")
        .status_code
        == 403
    )
    assert (
        api(demo["dept_reviewer"])
        .post(receipts, {"amount": "10.00", "received_on": TODAY.isoformat(), "reference": "R"}, format="json")
        .status_code
        == 404
    )
    response = api(demo["finance_officer"]).post(
        receipts, {"amount": str(line.amount + 1), "received_on": TODAY.isoformat(), "reference": "R"}, format="json"
    )
    assert response.status_code == 400 and "amount" in response.json()["error"]["fields"]
    response = api(demo["finance_officer"]).post(
        receipts, {"amount": str(line.amount), "received_on": TODAY.isoformat(), "reference": "R"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["amount_recovered"]) == ("recovered", str(line.amount))
    lines = api(demo["hr_reviewer"]).get(f"/api/v1/claims/{paid_claim.pk}/").json()["lines"]
    assert lines[0]["payment_status"] == "recovered"


def test_recovery_pages(demo, paid_claim, client):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    client.force_login(demo["hr_reviewer"])
    url = reverse("payments:recovery_open", args=[paid_claim.pk, 1])
    assert client.get(url).status_code == 200
    page = client.post(
        url, {"amount_due": "0", "payer_kind": "provider", "payer_name": "x", "reason_code": "fraud", "reason": "x"}
    )
    assert page.status_code == 400
    page = client.post(
        url,
        {
            "amount_due": str(line.amount),
            "payer_kind": "provider",
            "payer_name": "温岭市某职业技能培训学校",
            "reason_code": "fraud",
            "reason": "虚假培训",
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    order = RecoveryOrder.objects.get(claim_line=line)
    assert client.get(reverse("payments:recoveries")).status_code == 200
    page = client.get(reverse("payments:recovery", args=[order.pk]))
    assert page.status_code == 200 and paid_claim.number in page.content.decode()
    assert (
        client.post(
            reverse("payments:recovery_receipt", args=[order.pk]),
            {"amount": "1.00", "received_on": TODAY.isoformat(), "reference": "R"},
        ).status_code
        == 403
    )
    client.force_login(demo["finance_officer"])
    page = client.post(
        reverse("payments:recovery_receipt", args=[order.pk]),  # an invalid form: 400, nothing recorded
        {"amount": str(line.amount), "received_on": TODAY.isoformat(), "reference": "R" * 61},
    )
    assert page.status_code == 400 and "reference" in page.context["form"].errors
    page = client.post(
        reverse("payments:recovery_receipt", args=[order.pk]),
        {"amount": str(line.amount), "received_on": TODAY.isoformat(), "reference": "缴-1"},
    )
    assert page.status_code == 302
    order.refresh_from_db()
    assert order.status == "recovered"
    # The claim's page shows the recovery.
    page = client.get(reverse("approvals:claim", args=[paid_claim.pk]))
    assert "已追回" in page.content.decode()
    client.force_login(demo["dept_reviewer"])
    assert client.get(reverse("payments:recovery", args=[order.pk])).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_receipts_at_once_never_recover_more_than_due(demo, celery_eager, apply_result):
    """Two finance officers record the whole amount at the same moment: one receipt is taken, the
    other is refused; the allocation is restored once."""
    from workflow.disbursement import build_batch, request_release

    from .test_concurrency import join_all, run_at_once

    claim = approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=claim.jurisdiction)
    request_release(actor=demo["finance_officer2"], batch=batch)  # committed: the eager task ran on commit
    batch.refresh_from_db()
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    line = ClaimLine.objects.get(claim=claim)
    committed = Allocation.objects.get(pk=line.allocation_id).committed
    order = open_recovery(
        actor=demo["hr_reviewer"],
        line=line,
        amount_due=line.amount,
        payer_kind="provider",
        payer_name="机构",
        reason_code="fraud",
        reason="虚假培训",
    )
    threads, outcomes = run_at_once(
        *(
            partial(record_recovery_receipt, actor=demo[name], order=order, amount=line.amount, received_on=TODAY, reference=name)
            for name in ("finance_officer", "finance_officer2")
        )
    )
    join_all(threads)
    results = sorted("ok" if error is None else type(error).__name__ for _receipt, error in outcomes)
    assert results == ["StepAlreadyTaken", "ok"], outcomes  # the loser sees the order closed: 409
    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.status, order.amount_recovered, line.payment_status) == ("recovered", line.amount, "recovered")
    assert RecoveryReceipt.objects.filter(order=order).count() == 1
    assert Allocation.objects.get(pk=line.allocation_id).committed == committed - line.amount


# --------------------------------------------------------------------------- one bank voucher, one receipt


def open_order(demo, line, amount_due=None) -> RecoveryOrder:
    return open_recovery(
        actor=demo["hr_reviewer"],
        line=line,
        amount_due=line.amount if amount_due is None else amount_due,
        payer_kind="provider",
        payer_name="温岭市某职业技能培训学校",
        reason_code="revoked",
        reason="证书被撤销",
    )


def test_the_same_bank_voucher_recorded_again_is_refused_not_counted_twice(demo, paid_claim):
    """One voucher (缴款凭证号) of 100 is entered, then entered again: a double click, a retried
    POST, a second officer working from the same bank statement, or typed another way (full
    width, spaces, dashes, lower case). The second time is refused with nothing written: the
    order shows 100 recovered and the allocation is freed by 100, not 200. The voucher is one
    payment into the treasury: recorded on another order of the jurisdiction, it is refused too."""
    first_line, second_line = ClaimLine.objects.filter(claim=paid_claim).order_by("line_no")
    committed = Allocation.objects.get(pk=first_line.allocation_id).committed
    order, other_order = open_order(demo, first_line), open_order(demo, second_line)
    record_recovery_receipt(
        actor=demo["finance_officer"], order=order, amount="100.00", received_on=TODAY, reference="JK-2026-0001"
    )

    ledger = Ledger()
    for actor, on, spelling in (
        (demo["finance_officer"], order, "JK-2026-0001"),  # the double click
        (demo["finance_officer2"], order, " ｊｋ－２０２６－０００１ "),  # typed again, full width
        (demo["finance_officer2"], order, "JK 2026 0001"),
        (demo["finance_officer2"], other_order, "jk20260001"),  # the same payment, on another order
    ):
        with ledger.nothing(), pytest.raises(StepAlreadyTaken) as refused:
            record_recovery_receipt(actor=actor, order=on, amount="100.00", received_on=TODAY, reference=spelling)
        assert list(refused.value.fields) == ["reference"]
        assert str(order.pk) in refused.value.fields["reference"][0]  # where it was recorded

    order.refresh_from_db()
    freed = committed - Allocation.objects.get(pk=first_line.allocation_id).committed
    assert (RecoveryReceipt.objects.count(), order.amount_recovered, freed) == (1, Decimal("100.00"), Decimal("100.00"))
    # Another voucher is another payment.
    record_recovery_receipt(
        actor=demo["finance_officer"], order=order, amount="50.00", received_on=TODAY, reference="JK-2026-0002"
    )
    order.refresh_from_db()
    assert order.amount_recovered == Decimal("150.00")


def test_a_voucher_recorded_again_through_the_api_is_a_409_naming_the_reference(demo, paid_claim):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    order = open_order(demo, line)
    receipts = f"/api/v1/recoveries/{order.pk}/receipts/"
    body = {"amount": "100.00", "received_on": TODAY.isoformat(), "reference": "缴-2026-0001"}
    assert api(demo["finance_officer"]).post(receipts, body, format="json").status_code == 201
    response = api(demo["finance_officer"]).post(receipts, body, format="json")  # the client's retry
    assert response.status_code == 409, response.content
    assert list(response.json()["error"]["fields"]) == ["reference"]
    order.refresh_from_db()
    assert (order.amount_recovered, order.receipts.count()) == (Decimal("100.00"), 1)


def test_a_voucher_recorded_again_on_the_page_is_a_form_error(demo, paid_claim, client):
    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    order = open_order(demo, line)
    client.force_login(demo["finance_officer"])
    url = reverse("payments:recovery_receipt", args=[order.pk])
    form = {"amount": "100.00", "received_on": TODAY.isoformat(), "reference": "缴-2026-0001"}
    assert client.post(url, form).status_code == 302
    page = client.post(url, form)  # the browser's second submit
    assert page.status_code == 409
    assert "该凭证号已登记" in page.context["form"].errors["reference"][0]
    order.refresh_from_db()
    assert (order.amount_recovered, order.receipts.count()) == (Decimal("100.00"), 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_voucher_recorded_on_two_orders_at_once_is_counted_once(demo, celery_eager, apply_result):
    """Two finance officers record one voucher at the same moment, each on an order of another
    line (their line locks do not order them): both are past the check for a voucher recorded
    before when either writes. The database's unique constraint takes one; the other is refused
    whole: its order counts nothing and the allocation is freed once."""
    from workflow.disbursement import build_batch, request_release

    from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters

    claim = approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=claim.jurisdiction)
    request_release(actor=demo["finance_officer2"], batch=batch)  # committed: the eager task ran on commit
    batch.refresh_from_db()
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {1: "成功"})),  # one transfer to the provider: both lines
    )
    lines = list(ClaimLine.objects.filter(claim=claim).order_by("line_no"))
    assert [line.payment_status for line in lines] == ["paid", "paid"]
    committed = Allocation.objects.get(pk=lines[0].allocation_id).committed
    orders = [open_order(demo, line) for line in lines]

    def hold_both_lines():
        list(ClaimLine.objects.select_for_update().filter(pk__in=[line.pk for line in lines]))

    with Gate(hold_both_lines) as gate:
        threads, outcomes = run_at_once(
            *(
                partial(
                    record_recovery_receipt,
                    actor=demo[name],
                    order=order,
                    amount="100.00",
                    received_on=TODAY,
                    reference="缴-0001",
                )
                for name, order in zip(("finance_officer", "finance_officer2"), orders, strict=True)
            )
        )
        # Both have checked the voucher and wait for their line: neither has written yet.
        assert wait_for_postgres_lock_waiters(2, threads) == 2
        gate.open()
        join_all(threads)
    results = sorted("ok" if error is None else type(error).__name__ for _receipt, error in outcomes)
    assert results == ["StepAlreadyTaken", "ok"], outcomes
    (refused,) = [error for _receipt, error in outcomes if error is not None]
    assert list(refused.fields) == ["reference"]
    recovered = sorted(RecoveryOrder.objects.filter(pk__in=[o.pk for o in orders]).values_list("amount_recovered", flat=True))
    assert recovered == [Decimal("0.00"), Decimal("100.00")]
    assert RecoveryReceipt.objects.count() == 1
    assert Allocation.objects.get(pk=lines[0].allocation_id).committed == committed - Decimal("100.00")


def test_the_migration_keys_the_receipts_recorded_before_and_keeps_an_old_repeat_unkeyed(demo, paid_claim):
    """payments 0006 gives each receipt its jurisdiction and its voucher's key; of one voucher
    recorded twice before the constraint, the first takes the key, the repeat stays as counted
    with none, so the constraint (0007) can be added whatever was recorded."""
    from importlib import import_module

    from django.apps import apps

    line = ClaimLine.objects.get(claim=paid_claim, line_no=1)
    order = open_order(demo, line)

    def recorded_before(reference):
        return RecoveryReceipt.objects.create(
            order=order, jurisdiction=paid_claim.jurisdiction, amount=Decimal("10.00"), received_on=TODAY,
            reference=reference, recorded_by=demo["finance_officer"],
        )  # fmt: skip

    first, repeat, other = recorded_before("缴-7"), recorded_before("缴 7"), recorded_before("缴-8")
    import_module("payments.migrations.0006_receipt_voucher_keys").fill(apps, None)
    keys = dict(RecoveryReceipt.objects.values_list("pk", "reference_key"))
    assert (keys[first.pk], keys[repeat.pk], keys[other.pk]) == ("缴7", None, "缴8")
    assert set(RecoveryReceipt.objects.values_list("jurisdiction", flat=True)) == {paid_claim.jurisdiction_id}
