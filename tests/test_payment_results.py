"""Bank results: transfers paid or returned (退票), re-payment after a corrected account, the final
cancellation of a line's payment, reconciliation and its anomalies, the pages and the API.

Batches are built and released through the real services (build_batch, request_release and the
release task run eagerly on commit)."""

import csv
import io
from decimal import Decimal
from email.message import Message
from functools import partial

import pytest
from django.db import connection
from django.urls import reverse
from openpyxl import Workbook
from rest_framework.test import APIClient
from viewflow.workflow.models import Task

from audit.models import AuditEvent
from claims.amounts import amount_text
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine, Jurisdiction
from payments.models import (
    LIVE_BATCH_LINE_STATUSES,
    Allocation,
    BankFile,
    BatchLine,
    PaymentBatch,
    Transfer,
)
from payments.selectors.results import reconciliation, returned_transfers_visible_to
from payments.services.payees import account_number_of
from payments.services.results import correct_payee_after_return
from tests.test_audit_completeness import Ledger
from workflow.disbursement import apply_bank_result, build_batch, cancel_line_payment, request_release

from .payments_support import approved_claim, open_task_id

HEADER = ["批次号", "序号", "账号", "金额", "结果", "银行流水号", "失败原因"]


def released_batch(demo, django_capture_on_commit_callbacks, claims=None) -> PaymentBatch:
    jurisdiction = Jurisdiction.objects.get(code="WL")
    batch = build_batch(
        actor=demo["finance_officer"], jurisdiction=jurisdiction, claim_ids=[claim.pk for claim in claims] if claims else None
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_release(actor=demo["finance_officer2"], batch=batch)
    batch.refresh_from_db()
    assert batch.status == "released", batch.status
    return batch


def result_rows(batch: PaymentBatch, outcomes: dict) -> list[list]:
    """outcomes: {seq: "成功" | ("失败", reason)}; the rows as a bank would send them."""
    rows = []
    transfers = {transfer.seq: transfer for transfer in Transfer.objects.filter(batch=batch, seq__in=list(outcomes))}
    for seq, outcome in outcomes.items():  # in the order given
        transfer = transfers[seq]
        result, reason = (outcome, "") if isinstance(outcome, str) else outcome
        rows.append(
            [
                batch.number,
                transfer.seq,
                account_number_of(transfer),
                f"{transfer.amount:.2f}",
                result,
                f"BANK-{batch.pk}-{transfer.seq}",
                reason,
            ]
        )
    return rows


def csv_file(rows: list[list], header=HEADER, trailer=True) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    if trailer:
        writer.writerow(["合计", len(rows), "", "", "", "", ""])
    return "\ufeff".join(["", text.getvalue()]).encode("utf-8")


def xlsx_file(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def seq_of(batch: PaymentBatch, claim: Claim) -> int:
    return BatchLine.objects.filter(batch=batch, claim_line__claim=claim).values_list("transfer__seq", flat=True).first()


def states(claim: Claim) -> list[tuple]:
    return [(line.line_no, line.payment_status) for line in ClaimLine.objects.filter(claim=claim).order_by("line_no")]


def has_open_task(claim: Claim) -> bool:
    try:
        open_task_id(claim)
    except Task.DoesNotExist:
        return False
    return True


@pytest.fixture
def two_payees(demo, django_capture_on_commit_callbacks, celery_eager):
    """Claim A (WL-P001, two lines) and claim B (WL-P002, one line) in one released batch."""
    claim_a = approved_claim(demo, serials=(1, 2))
    claim_b = approved_claim(demo, serials=(3,), clerk="provider2_clerk")
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    return claim_a, claim_b, batch


# --------------------------------------------------------------------------- results


def test_mixed_result_pays_one_claim_and_returns_the_other(demo, two_payees, apply_result):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    ledger = Ledger()
    content = csv_file(result_rows(batch, {seq_a: "成功", seq_b: ("失败", "户名与账号不符")}))
    with ledger.expect("payment_batch.result_applied", "claim.payment_result", "claim.paid") as call:
        summary = apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=content)
    assert (summary.paid, summary.returned, summary.lines_paid, summary.lines_returned, summary.claims_to_settle) == (
        1,
        1,
        2,
        1,
        [claim_a.pk],
    )
    assert summary.reconciled

    batch.refresh_from_db()
    assert batch.status == "reconciled"
    transfers = {t.seq: t for t in Transfer.objects.filter(batch=batch)}
    assert (transfers[seq_a].status, transfers[seq_a].bank_reference) == ("paid", f"BANK-{batch.pk}-{seq_a}")
    assert (transfers[seq_b].status, transfers[seq_b].return_reason) == ("returned", "户名与账号不符")
    assert sorted(BatchLine.objects.filter(batch=batch).values_list("status", flat=True)) == ["paid", "paid", "returned"]
    claim_a.refresh_from_db()
    claim_b.refresh_from_db()
    assert states(claim_a) == [(1, "paid"), (2, "paid")]
    assert claim_a.status == "paid" and not has_open_task(claim_a)
    assert states(claim_b) == [(1, "returned")]
    assert claim_b.status == "in_payment" and has_open_task(claim_b)

    stored = BankFile.objects.get(batch=batch, kind="result")
    assert stored.sha256 == summary.sha256 and bytes(stored.content) == content
    applied = [entry for entry in call["entries"] if entry.action == "payment_batch.result_applied"][0]
    assert (applied.detail["paid"], applied.detail["returned"], applied.detail["sha256"]) == (1, 1, summary.sha256)
    per_claim = {entry.claim_id: entry.detail for entry in call["entries"] if entry.action == "claim.payment_result"}
    assert per_claim[claim_b.pk]["line_changes"] == [
        {
            "line": 1,
            "amount": str(ClaimLine.objects.get(claim=claim_b).amount),
            "transfer": seq_b,
            "reason": "户名与账号不符",
            "before": {"payment_status": "in_payment"},
            "after": {"payment_status": "returned"},
        }
    ]

    # The same file again changes nothing and records nothing.
    with ledger.nothing():
        again = apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=content)
    assert not again.changed and again.unchanged == 2

    # A result contradicting the recorded one is refused, naming the row.
    contradicting = csv_file(result_rows(batch, {seq_a: ("失败", "账户冻结")}))
    with ledger.nothing(), pytest.raises(StepAlreadyTaken) as refused:
        apply_result(actor=demo["finance_officer"], batch=batch, filename="回单2.csv", content=contradicting)
    assert list(refused.value.fields) == ["rows[2].结果"]


def test_partial_results_in_two_files_xlsx_then_csv(demo, two_payees, apply_result):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    first = apply_result(
        actor=demo["finance_officer"], batch=batch, filename="part1.xlsx", content=xlsx_file(result_rows(batch, {seq_b: "成功"}))
    )
    assert (first.paid, first.reconciled) == (1, False)
    batch.refresh_from_db()
    assert batch.status == "released"
    claim_b.refresh_from_db()
    assert claim_b.status == "paid"
    second = apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="part2.csv",
        content=csv_file(result_rows(batch, {seq_a: "paid", seq_b: "paid"}), trailer=False),
    )
    assert (second.paid, second.unchanged, second.reconciled) == (1, 1, True)
    assert BankFile.objects.filter(batch=batch, kind="result").count() == 2


def test_bad_result_files_name_the_row_and_field_and_save_nothing(demo, two_payees, apply_result):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    rows = result_rows(batch, {seq_a: "成功", seq_b: ("失败", "户名不符")})
    wrong_amount = [row[:] for row in rows]
    wrong_amount[1][3] = "12345.60"
    cases = [
        (wrong_amount, {"rows[3].金额"}),
        ([rows[0], [batch.number, 99, *rows[1][2:]]], {"rows[3].序号"}),
        ([[*rows[0][:2], "6222000000000000", *rows[0][3:]], rows[1]], {"rows[2].账号"}),
        ([[*rows[0][:4], "maybe", *rows[0][5:]], rows[1]], {"rows[2].结果"}),
        ([["PB-OTHER-1", *rows[0][1:]], rows[1]], {"rows[2].批次号"}),
        ([rows[0], [*rows[1][:6], ""]], {"rows[3].失败原因"}),
        ([rows[0], rows[0]], {"rows[3].序号"}),
    ]
    ledger = Ledger()
    for content_rows, fields in cases:
        with ledger.nothing(), pytest.raises(InvalidInput) as refused:
            apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(content_rows))
        assert set(refused.value.fields) == fields, refused.value.fields
        assert all(message for messages in refused.value.fields.values() for message in messages)
        if content_rows is wrong_amount:  # both amounts as the pages write them (claims.amounts)
            [message] = refused.value.fields["rows[3].金额"]
            assert "12,345.60" in message and amount_text(Transfer.objects.get(batch=batch, seq=seq_b).amount) in message
    for filename, content in (("回单.pdf", b"%PDF-1.4"), ("回单.xlsx", b"not a workbook"), ("回单.csv", b"")):
        with ledger.nothing(), pytest.raises(InvalidInput) as refused:
            apply_result(actor=demo["finance_officer"], batch=batch, filename=filename, content=content)
        assert list(refused.value.fields) == ["file"]
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        apply_result(
            actor=demo["finance_officer"],
            batch=batch,
            filename="回单.csv",
            content=csv_file(rows, header=["批次号", "序号", "金额", "结果"]),
        )
    assert "账号" in refused.value.fields["file"][0]
    # Only finance of the jurisdiction.
    with ledger.nothing(), pytest.raises(ActionForbidden):
        apply_result(actor=demo["hr_reviewer"], batch=batch, filename="回单.csv", content=csv_file(rows))
    assert Transfer.objects.filter(batch=batch, status="sent").count() == 2


def test_unreadable_csv_and_nul_bytes_are_400_not_500(demo, two_payees, apply_result):
    claim_a, claim_b, batch = two_payees
    rows = result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): ("失败", "户名不符")})
    ledger = Ledger()
    # A field over the csv module's limit (131072 characters): csv.Error, the file named.
    huge = [rows[0], [*rows[1][:6], "x" * 200_000]]
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(huge))
    assert list(refused.value.fields) == ["file"]
    # A NUL byte in a cell: the row and the column named.
    nul = [rows[0], [*rows[1][:5], "BANK\x00REF", rows[1][6]]]
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(nul))
    assert list(refused.value.fields) == ["rows[3].银行流水号"]
    assert Transfer.objects.filter(batch=batch, status="sent").count() == 2


def test_result_for_a_batch_not_released_is_refused(demo, django_capture_on_commit_callbacks, apply_result):
    claim = approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=claim.jurisdiction)
    with pytest.raises(StepAlreadyTaken):
        apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file([]))


# --------------------------------------------------------------------------- re-payment after a return


def test_return_corrected_then_paid_in_a_later_batch(demo, two_payees, django_capture_on_commit_callbacks, apply_result):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {seq_a: "成功", seq_b: ("失败", "账号不存在")})),
    )
    returned = Transfer.objects.get(batch=batch, seq=seq_b)
    line_b = ClaimLine.objects.get(claim=claim_b)
    ledger = Ledger()
    with ledger.nothing(), pytest.raises(InvalidInput):
        correct_payee_after_return(
            actor=demo["finance_officer"],
            transfer=returned,
            account_name="温岭市某技工学校",
            bank_name="农业银行温岭支行",
            account_number="123",
            reason="更正",
        )
    with ledger.expect("payee_account.set", "claim.payment_requeued"):
        lines = correct_payee_after_return(
            actor=demo["finance_officer"],
            line=line_b,
            account_name="温岭市某技工学校",
            bank_name="农业银行温岭支行",
            account_number="6228480000001234567",
            reason="银行退票：账号不存在，机构提供新账号",
        )
    assert [line.pk for line in lines] == [line_b.pk]
    assert states(claim_b) == [(1, "reserved")]
    with pytest.raises(StepAlreadyTaken):  # already corrected
        correct_payee_after_return(
            actor=demo["finance_officer"],
            transfer=returned,
            account_name="x",
            bank_name="y",
            account_number="6228480000001234567",
            reason="again",
        )

    second = released_batch(demo, django_capture_on_commit_callbacks)
    assert second.pk != batch.pk and second.line_count == 1
    new_transfer = Transfer.objects.get(batch=second)
    assert account_number_of(new_transfer) == "6228480000001234567"
    assert BatchLine.objects.filter(claim_line=line_b, status__in=LIVE_BATCH_LINE_STATUSES).count() == 1
    apply_result(
        actor=demo["finance_officer"],
        batch=second,
        filename="回单.csv",
        content=csv_file(result_rows(second, {new_transfer.seq: "成功"})),
    )
    claim_b.refresh_from_db()
    assert states(claim_b) == [(1, "paid")] and claim_b.status == "paid"
    assert list(BatchLine.objects.filter(claim_line=line_b).order_by("pk").values_list("status", flat=True)) == [
        "returned",
        "paid",
    ]
    assert reconciliation(batch)["anomalies"] == [] and reconciliation(second)["anomalies"] == []


def test_a_line_returned_twice_is_listed_on_its_latest_transfer_only(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    claim = approved_claim(demo, serials=(1,))
    line = ClaimLine.objects.get(claim=claim)
    first = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"],
        batch=first,
        filename="回单.csv",
        content=csv_file(result_rows(first, {1: ("失败", "账号不存在")})),
    )
    line.refresh_from_db()
    correct_payee_after_return(
        actor=demo["finance_officer"],
        line=line,
        account_name="温岭市某职业技能培训学校",
        bank_name="农业银行温岭支行",
        account_number="6228480000001234567",
        reason="机构提供新账号",
    )
    second = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"],
        batch=second,
        filename="回单.csv",
        content=csv_file(result_rows(second, {1: ("失败", "账户冻结")})),
    )
    latest = Transfer.objects.get(batch=second, seq=1)
    line.refresh_from_db()
    assert [transfer.pk for transfer in returned_transfers_visible_to(demo["finance_officer"])] == [latest.pk]
    # The correction's entry names the line's own (latest) transfer.
    ledger = Ledger()
    with ledger.expect("payee_account.set", "claim.payment_requeued") as call:
        correct_payee_after_return(
            actor=demo["finance_officer"],
            line=line,
            account_name="温岭市某职业技能培训学校",
            bank_name="建设银行温岭支行",
            account_number="6217000000000012345",
            reason="再次更正",
        )
    requeued = [entry for entry in call["entries"] if entry.action == "claim.payment_requeued"][0]
    assert [(change["batch"], change["transfer"], change["return_reason"]) for change in requeued.detail["line_changes"]] == [
        (second.number, 1, "账户冻结")
    ]
    assert list(returned_transfers_visible_to(demo["finance_officer"])) == []


# --------------------------------------------------------------------------- an account changed, told apart

# The demo provider's account (demo/funds.py), and another with the same bank prefix and last four:
# masked, both read 6222***********0011.
DEMO_ACCOUNT, ALIKE_ACCOUNT = "6222020000000000011", "6222029999999990011"


def test_a_payee_account_changed_to_one_alike_in_its_first_and_last_four_is_told_apart_in_the_ledger(demo):
    """The ledger records an account masked (first four, last four): changed to a number alike
    there, its before and after would read the same, and no one could tell the account changed.
    It records the keyed digest of the whole number besides: the two differ, and neither is
    the number or its plain hash (a bank number has few enough digits to be guessed from one)."""
    import hashlib

    from claims.models import Provider
    from payments.services.payees import set_payee_account

    provider = Provider.objects.get(code="WL-P001")
    ledger = Ledger()
    with ledger.expect("payee_account.set") as call:
        set_payee_account(
            actor=demo["finance_officer"], provider=provider, account_name=provider.name, bank_name="中国工商银行温岭支行",
            account_number=ALIKE_ACCOUNT, reason="机构申请变更账户",
        )  # fmt: skip
    (entry,) = [entry for entry in call["entries"] if entry.action == "payee_account.set"]
    before, after = entry.detail["before"], entry.detail["after"]
    assert before["account_number"] == after["account_number"] == "6222***********0011"
    assert before["account_number_digest"] != after["account_number_digest"]
    written = repr(entry.detail)
    for number in (DEMO_ACCOUNT, ALIKE_ACCOUNT):
        assert number not in written and hashlib.sha256(number.encode()).hexdigest() not in written


def test_the_claims_timeline_shows_its_money_sent_to_another_account_after_a_return(
    demo, client, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    """The bank returned the claim's transfer; finance corrects the provider's account to one
    alike in its first and last four. The claim's entry records where its money went and where
    it goes now, and the auditor's timeline of the claim shows the account's digest changed."""
    from payments.services.payees import account_in_ledger

    claim = approved_claim(demo, serials=(1,))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {1: ("失败", "账户冻结")})),
    )
    returned = Transfer.objects.get(batch=batch, seq=1)
    sent_to = account_in_ledger(returned)["account_number_digest"]
    correct_payee_after_return(
        actor=demo["finance_officer"], transfer=returned, account_name="温岭市某职业技能培训学校", bank_name="中国工商银行温岭支行",
        account_number=ALIKE_ACCOUNT, reason="机构提供新账号",
    )  # fmt: skip
    entry = AuditEvent.objects.get(claim_id=claim.pk, action="claim.payment_requeued")
    assert entry.detail["before"]["account_number_digest"] == sent_to
    corrected_to = entry.detail["after"]["account_number_digest"]
    assert corrected_to != sent_to

    client.force_login(demo["auditor"])
    page = client.get(reverse("audit:timeline", args=[claim.pk]))
    (row,) = [row for row in page.context["rows"] if row["event"].pk == entry.pk]
    shown = {diff["field"]: (diff["before"], diff["after"]) for diff in row["diffs"]}
    assert shown["账号摘要（密钥散列）"] == (sent_to[:12] + "…", corrected_to[:12] + "…")
    assert "账号" not in shown  # the masked numbers read the same
    assert corrected_to[:12] in page.content.decode()


# --------------------------------------------------------------------------- finally not paid


def test_cancel_a_returned_line_releases_its_reservation_and_finishes_the_claim(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    claim = approved_claim(demo, serials=(1,))
    allocation = Allocation.objects.get(pk=ClaimLine.objects.get(claim=claim).allocation_id)
    committed = allocation.committed
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {1: ("失败", "户名不符")})),
    )
    line = ClaimLine.objects.get(claim=claim)
    ledger = Ledger()
    with ledger.nothing(), pytest.raises(ActionForbidden):
        cancel_line_payment(actor=demo["finance_officer"], line=line, reason_code="CERT_INVALID", reason="x")
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        cancel_line_payment(actor=demo["hr_reviewer"], line=line, reason_code="NOPE", reason="")
    assert set(refused.value.fields) == {"reason_code", "reason"}
    with ledger.expect("claim.line_payment_cancelled", "allocation.released", "claim.payment_cancelled"):
        cancel_line_payment(actor=demo["hr_head"], line=line, reason_code="CERT_INVALID", reason="证书经核查已撤销，不予拨付")
    line.refresh_from_db()
    claim.refresh_from_db()
    assert (line.decision, line.decision_reason, line.payment_status) == ("reject", "CERT_INVALID", "cancelled")
    # Nothing of the claim was paid in the end: it ends rejected, its flow finished.
    assert claim.status == "rejected" and not has_open_task(claim) and claim.total == Decimal("0.00")
    allocation.refresh_from_db()
    assert allocation.committed == committed - line.amount
    with pytest.raises(StepAlreadyTaken):
        cancel_line_payment(actor=demo["hr_head"], line=line, reason_code="CERT_INVALID", reason="again")


def test_cancel_a_reserved_line_of_a_claim_whose_other_line_is_paid(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    claim = approved_claim(demo, serials=(1, 2))
    first, second = ClaimLine.objects.filter(claim=claim).order_by("line_no")
    # Line 2 is finally not paid before any batch: the batch pays line 1 only, and the claim ends.
    cancel_line_payment(actor=demo["hr_reviewer"], line=second, reason_code="NOT_TRAINED", reason="未实际参加培训")
    claim.refresh_from_db()
    assert claim.status == "approved" and has_open_task(claim)
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    assert batch.line_count == 1
    with pytest.raises(StepAlreadyTaken):  # in payment: not cancellable
        cancel_line_payment(actor=demo["hr_reviewer"], line=first, reason_code="OTHER", reason="x")
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    claim.refresh_from_db()
    assert states(claim) == [(1, "paid"), (2, "cancelled")] and claim.status == "paid"


# --------------------------------------------------------------------------- reconciliation


def test_reconciliation_counts_and_an_anomaly(demo, two_payees, client, apply_result):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    report = reconciliation(batch)
    assert report["transfers"]["sent"]["count"] == 2 and report["transfers"]["pending"]["count"] == 2
    assert report["anomalies"] == []
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {seq_a: "成功", seq_b: ("失败", "账户冻结")})),
    )
    report = reconciliation(batch)
    amount_b = Transfer.objects.get(batch=batch, seq=seq_b).amount
    assert report["transfers"]["paid"]["count"] == 1 and report["transfers"]["returned"] == {"count": 1, "amount": amount_b}
    assert report["transfers"]["pending"]["count"] == 0 and report["lines"]["paid"]["count"] == 2
    assert report["transfers"]["sent"]["amount"] == batch.total
    assert report["anomalies"] == []

    # Someone changes a row behind the services' back: the reconciliation shows it.
    line = ClaimLine.objects.filter(claim=claim_a).order_by("line_no").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE claims_claimline SET payment_status = 'reserved' WHERE id = %s", [line.pk])
        cursor.execute("UPDATE payments_transfer SET amount = amount + 1 WHERE batch_id = %s AND seq = %s", [batch.pk, seq_b])
    codes = {(item["code"], item["line"], item["transfer"]) for item in reconciliation(batch)["anomalies"]}
    assert ("paid_not_recorded", 1, seq_a) in codes
    assert ("reserved_but_live", 1, None) in codes
    assert ("claim_paid_unsettled", 1, None) in codes
    assert ("transfer_total", None, seq_b) in codes
    assert ("batch_total", None, None) in codes
    client.force_login(demo["auditor"])
    page = client.get(reverse("payments:reconciliation", args=[batch.pk])).content.decode()
    assert 'id="anomalies"' in page and 'data-code="paid_not_recorded"' in page


# --------------------------------------------------------------------------- pages and API


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def named_download(response) -> str:
    """The one file name a browser takes from the response's Content-Disposition (RFC 6266: a
    filename* wins over a filename)."""
    assert response.status_code == 200, response.content[:200]
    header = Message()
    header["Content-Disposition"] = response["Content-Disposition"]
    assert header.get_content_disposition() == "attachment"
    names = [name for name, _value in header.get_params(header="Content-Disposition")[1:]]
    assert len(names) == 1 and names[0] in ("filename", "filename*"), names  # nothing injected
    return header.get_filename()


@pytest.mark.parametrize("filename", ['a";b.csv', "银行回单.csv", "x\"; filename*=UTF-8''evil.html; a=\".csv"])
def test_a_result_file_is_downloaded_under_exactly_the_name_it_was_uploaded_as(demo, two_payees, apply_result, client, filename):
    claim_a, _claim_b, batch = two_payees
    content = csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功"}))
    apply_result(actor=demo["finance_officer"], batch=batch, filename=filename, content=content)
    by_api = api(demo["finance_officer"]).get(f"/api/v1/payment-batches/{batch.pk}/files/result/")
    client.force_login(demo["finance_officer"])
    by_page = client.get(reverse("payments:batch_file", args=[batch.pk, "result"]))
    for response in (by_api, by_page):
        assert named_download(response) == filename
        # Neither a quote nor a Chinese character in a quoted filename="…" (RFC 6266 appendix D).
        assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")


def test_api_results_reconciliation_correction_and_scope(demo, two_payees):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    url = f"/api/v1/payment-batches/{batch.pk}/results/"
    rows = result_rows(batch, {seq_a: "成功", seq_b: ("失败", "户名不符")})
    wrong = [row[:] for row in rows]
    wrong[0][3] = "9.99"
    wrong_file = io.BytesIO(csv_file(wrong))
    wrong_file.name = "回单.csv"
    response = api(demo["finance_officer"]).post(url, {"file": wrong_file}, format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["rows[2].金额"]
    assert not BankFile.objects.filter(batch=batch, kind="result").exists()
    upload = io.BytesIO(csv_file(rows))
    upload.name = "回单.csv"
    assert api(demo["hr_reviewer"]).post(url, {"file": upload}, format="multipart").status_code == 403
    assert api(demo["provider_clerk"]).post(url, {"file": upload}, format="multipart").status_code == 404  # out of scope
    assert api(demo["dept_reviewer"]).get(f"/api/v1/payment-batches/{batch.pk}/reconciliation/").status_code == 404
    upload.seek(0)
    response = api(demo["finance_officer"]).post(url, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    assert (response.json()["paid"], response.json()["returned"], response.json()["reconciled"]) == (1, 1, True)

    response = api(demo["auditor"]).get(f"/api/v1/payment-batches/{batch.pk}/reconciliation/")
    assert response.status_code == 200
    body = response.json()
    assert body["transfers"]["returned"] == {"count": 1, "amount": str(Transfer.objects.get(batch=batch, seq=seq_b).amount)}
    assert body["anomalies"] == []

    # The claim shows each line's payment state and batch.
    lines = api(demo["hr_reviewer"]).get(f"/api/v1/claims/{claim_b.pk}/").json()["lines"]
    assert [(line["payment_status"], line["batch"]) for line in lines] == [("returned", batch.number)]

    transfer = Transfer.objects.get(batch=batch, seq=seq_b)
    correct = f"/api/v1/payment-transfers/{transfer.pk}/correct/"
    account = {
        "account_name": "温岭市某技工学校",
        "bank_name": "建设银行温岭支行",
        "account_number": "6217000000000012345",
        "reason": "机构更正账户",
    }
    assert api(demo["hr_reviewer"]).post(correct, account, format="json").status_code == 403
    assert (
        api(demo["finance_officer"]).post("/api/v1/payment-transfers/999999/correct/", account, format="json").status_code == 404
    )
    response = api(demo["finance_officer"]).post(correct, account, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lines"][0]["payment_status"] == "reserved"
    assert api(demo["finance_officer"]).post(correct, account, format="json").status_code == 409


def test_api_recovery_ids_must_be_whole_numbers(demo):
    body = {"amount_due": "1.00", "payer_kind": "provider", "payer_name": "x", "reason_code": "fraud", "reason": "x"}
    for claim, line, bad_fields in (
        (True, 1, {"claim"}),
        (1.5, 1, {"claim"}),
        ("1", 1.0, {"line"}),
        ("x", "1e2", {"claim", "line"}),
    ):
        response = api(demo["hr_reviewer"]).post("/api/v1/recoveries/", {**body, "claim": claim, "line": line}, format="json")
        assert response.status_code == 400, response.content
        assert set(response.json()["error"]["fields"]) == bad_fields


def test_api_cancel_payment(demo):
    claim = approved_claim(demo, serials=(1,))
    url = f"/api/v1/claims/{claim.pk}/lines/1/cancel-payment/"
    assert api(demo["finance_officer"]).post(url, {"reason_code": "FRAUD", "reason": "x"}, format="json").status_code == 403
    assert api(demo["provider_clerk"]).post(url, {"reason_code": "FRAUD", "reason": "x"}, format="json").status_code == 404
    assert (
        api(demo["hr_reviewer"]).post(f"/api/v1/claims/{claim.pk}/lines/9/cancel-payment/", {}, format="json").status_code == 404
    )
    response = api(demo["hr_reviewer"]).post(url, {"reason_code": "FRAUD"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
    response = api(demo["hr_reviewer"]).post(url, {"reason_code": "FRAUD", "reason": "虚假培训"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["payment_status"] == "cancelled"
    claim.refresh_from_db()
    assert claim.status == "rejected"  # its only line finally not paid


def test_pages_upload_reconciliation_and_returns(demo, two_payees, client):
    claim_a, claim_b, batch = two_payees
    seq_a, seq_b = seq_of(batch, claim_a), seq_of(batch, claim_b)
    client.force_login(demo["finance_officer"])
    page = client.get(reverse("payments:result_upload", args=[batch.pk]))
    assert page.status_code == 200
    wrong = result_rows(batch, {seq_a: "成功"})
    wrong[0][1] = 42
    upload = io.BytesIO(csv_file(wrong))
    upload.name = "回单.csv"
    page = client.post(reverse("payments:result_upload", args=[batch.pk]), {"file": upload})
    assert page.status_code == 400 and "rows[2].序号" in page.content.decode()
    upload = io.BytesIO(csv_file(result_rows(batch, {seq_a: "成功", seq_b: ("失败", "户名不符")})))
    upload.name = "回单.csv"
    page = client.post(reverse("payments:result_upload", args=[batch.pk]), {"file": upload})
    assert page.status_code == 302
    page = client.get(reverse("payments:reconciliation", args=[batch.pk]))
    assert page.status_code == 200 and batch.number in page.content.decode()
    page = client.get(reverse("payments:returns"))
    assert page.status_code == 200 and "户名不符" in page.content.decode()
    transfer = Transfer.objects.get(batch=batch, seq=seq_b)
    page = client.post(
        reverse("payments:return_correct", args=[transfer.pk]),
        {
            "account_name": "温岭市某技工学校",
            "bank_name": "建设银行温岭支行",
            "account_number": "6217000000000012345",
            "reason": "机构更正账户",
        },
    )
    assert page.status_code == 302
    assert states(claim_b) == [(1, "reserved")]
    # An invalid form is 400 before the service is asked.
    page = client.post(
        reverse("payments:return_correct", args=[transfer.pk]),
        {"account_name": "x", "bank_name": "y", "account_number": "6" * 41, "reason": "r"},
    )
    assert page.status_code == 400 and "account_number" in page.context["form"].errors
    # The claim page shows the payment state and batch.
    page = client.get(reverse("approvals:claim", args=[claim_a.pk]))
    assert page.status_code == 200 and batch.number in page.content.decode()
    # Out of scope: a department reviewer gets 404; HR may not upload (403).
    client.force_login(demo["dept_reviewer"])
    assert client.get(reverse("payments:reconciliation", args=[batch.pk])).status_code == 404
    client.force_login(demo["hr_reviewer"])
    assert client.get(reverse("payments:reconciliation", args=[batch.pk])).status_code == 200
    assert client.get(reverse("payments:result_upload", args=[batch.pk])).status_code == 403


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_result_at_once_apply_it_once(demo, celery_eager):
    """Two finance officers upload the same result at once: the batch's row lock makes the second
    see the first's result (nothing changes twice, one result file, one set of entries)."""
    from .test_concurrency import join_all, run_at_once

    claim = approved_claim(demo, serials=(1, 2))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=claim.jurisdiction)
    request_release(actor=demo["finance_officer2"], batch=batch)  # committed: the eager task ran on commit
    batch.refresh_from_db()
    assert batch.status == "released"
    content = csv_file(result_rows(batch, {1: "成功"}))
    threads, outcomes = run_at_once(
        *(
            partial(apply_bank_result, actor=demo[name], batch=batch, filename="回单.csv", content=content)
            for name in ("finance_officer", "finance_officer2")
        )
    )
    join_all(threads)
    assert [error for _summary, error in outcomes] == [None, None]
    changed = [summary.changed for summary, _error in outcomes]
    assert changed.count(True) == 1 and changed.count(False) == 1, changed
    assert BankFile.objects.filter(batch=batch, kind="result").count() == 1
    assert AuditEvent.objects.filter(action="claim.payment_result").count() == 1
    assert AuditEvent.objects.filter(action="claim.paid").count() == 1
    claim.refresh_from_db()
    assert claim.status == "paid"
