"""S10–S14 (seed 002 §三(九)–(十三)) subsidise the enterprise: the claim names it (name and unified
social credit code), finance records its bank account, and the batch pays the enterprise, not
the training provider that filed the claim."""

import csv
import io
from decimal import Decimal

from claims.models import Claim, ClaimLine, Jurisdiction
from claims.services import create_claim
from payments.models import BatchLine, PayeeAccount, Transfer
from payments.services.payees import account_number_of, set_payee_account
from payments.services.results import correct_payee_after_return
from workflow.disbursement import build_batch, request_release
from workflow.services import decide_task
from workflow.services import submit_claim as submit

from .api_support import error, login
from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim, open_task_id
from .test_payment_results import csv_file, result_rows

PUMP_WORKS = {"enterprise_name": "温岭市某泵业有限公司", "enterprise_credit_code": "91331081MA2K00001E"}


def contest_claim(demo, *, enterprise=PUMP_WORKS, serials=(1, 2), costs=("15000.00", "8000.00")) -> Claim:
    """S13 (002 §三(十)): 对符合条件的企业给予最高 2 万元 — drills costing 15,000 and 8,000 are
    paid 15,000 + 5,000 = 20,000, approved by the department and HR."""
    lines = [
        line(resident_id(serial), f"职工{serial}", certificate_number=f"J-{serial:05d}", stated_cost=cost)
        for serial, cost in zip(serials, costs, strict=True)
    ]
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data(lines=lines, policy="S13", **enterprise))
    submit(user=clerk, claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")
    claim.refresh_from_db()
    assert claim.status == "approved" and claim.total == Decimal("20000.00")
    return claim


def pump_works_account(demo, number="6228480000000000777") -> PayeeAccount:
    return set_payee_account(
        actor=demo["finance_officer"],
        enterprise_credit_code=PUMP_WORKS["enterprise_credit_code"],
        account_name=PUMP_WORKS["enterprise_name"],
        bank_name="温岭农商银行",
        account_number=number,
    )


def released(demo, batch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request_release(actor=demo["finance_officer2"], batch=batch)
    batch.refresh_from_db()
    assert batch.status == "released", batch.status
    return batch


def payment_csv(batch) -> list[list[str]]:
    return list(csv.reader(io.StringIO(bytes(batch.files.get(kind="payment_csv").content).decode("utf-8-sig"))))


def test_a_contest_claim_is_paid_to_the_enterprise_not_to_the_provider(demo, django_capture_on_commit_callbacks, celery_eager):
    school = approved_claim(demo, serials=(3,))  # S3 of the same provider: paid to the school
    contest = contest_claim(demo)
    pump_works_account(demo)
    wl = Jurisdiction.objects.get(code="WL")

    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    transfers = {transfer.payee_kind: transfer for transfer in batch.transfers.all()}
    assert set(transfers) == {"provider", "enterprise"} and batch.skipped == []
    to_pump_works = transfers["enterprise"]
    assert to_pump_works.enterprise_credit_code == "91331081MA2K00001E" and to_pump_works.provider_id is None
    assert to_pump_works.account_name == "温岭市某泵业有限公司"
    assert to_pump_works.amount == Decimal("20000.00")
    assert to_pump_works.account_number_masked == "6228***********0777"
    assert set(to_pump_works.lines.values_list("claim_line__claim", flat=True)) == {contest.pk}
    assert transfers["provider"].amount == school.total
    assert set(transfers["provider"].lines.values_list("claim_line__claim", flat=True)) == {school.pk}

    batch = released(demo, batch, django_capture_on_commit_callbacks)
    rows = {row[1]: row for row in payment_csv(batch)[1:] if row[0] == batch.number}
    assert rows[str(to_pump_works.seq)][2:5] == ["企业", "温岭市某泵业有限公司", "6228480000000000777"]
    assert rows[str(to_pump_works.seq)][6] == "20000.00"


def test_an_enterprise_without_an_account_waits_with_the_reason(demo):
    school = approved_claim(demo, serials=(3,))
    contest = contest_claim(demo)
    wl = Jurisdiction.objects.get(code="WL")

    batch = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert [transfer.payee_kind for transfer in batch.transfers.all()] == ["provider"]
    assert batch.skipped == [
        {"claim": contest.number, "line": 1, "amount": "15000.00", "reason": "企业没有登记银行账户。"},
        {"claim": contest.number, "line": 2, "amount": "5000.00", "reason": "企业没有登记银行账户。"},
    ]
    assert set(ClaimLine.objects.filter(claim=contest).values_list("payment_status", flat=True)) == {"reserved"}
    assert school.lines.get().payment_status == "in_batch"

    pump_works_account(demo)  # finance records it: the next batch pays the enterprise
    second = build_batch(actor=demo["finance_officer"], jurisdiction=wl)
    assert [(t.payee_kind, t.amount) for t in second.transfers.all()] == [("enterprise", Decimal("20000.00"))]


def test_a_returned_transfer_to_the_enterprise_is_corrected_and_paid_in_the_next_batch(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    contest = contest_claim(demo)
    pump_works_account(demo, number="6228480000000000000")
    wl = Jurisdiction.objects.get(code="WL")
    batch = released(demo, build_batch(actor=demo["finance_officer"], jurisdiction=wl), django_capture_on_commit_callbacks)
    returned = batch.transfers.get()
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {returned.seq: ("失败", "账号不存在")})),
    )
    assert set(ClaimLine.objects.filter(claim=contest).values_list("payment_status", flat=True)) == {"returned"}

    lines = correct_payee_after_return(
        actor=demo["finance_officer"],
        transfer=returned,
        account_name="温岭市某泵业有限公司",
        bank_name="农业银行温岭支行",
        account_number="6228480000001234567",
        reason="银行退票：账号不存在，企业提供新账号",
    )
    assert sorted(line.line_no for line in lines) == [1, 2]
    account = PayeeAccount.objects.get(enterprise_credit_code="91331081MA2K00001E")
    assert account.account_number_masked == "6228***********4567"

    second = released(demo, build_batch(actor=demo["finance_officer"], jurisdiction=wl), django_capture_on_commit_callbacks)
    again = second.transfers.get()
    assert (again.payee_kind, again.enterprise_credit_code, again.amount) == (
        "enterprise",
        "91331081MA2K00001E",
        Decimal("20000.00"),
    )
    assert account_number_of(again) == "6228480000001234567"
    apply_result(
        actor=demo["finance_officer"],
        batch=second,
        filename="回单.csv",
        content=csv_file(result_rows(second, {again.seq: "成功"})),
    )
    contest.refresh_from_db()
    assert contest.status == "paid"
    assert list(
        BatchLine.objects.filter(claim_line__claim=contest, claim_line__line_no=1).order_by("pk").values_list("status", flat=True)
    ) == ["returned", "paid"]
    assert not Transfer.objects.filter(provider__isnull=False, batch__in=(batch, second)).exists()


# --------------------------------------------------------------------------- the claim names the enterprise


def apprentices(n: int = 1) -> list[dict]:
    """S10 (002 §三(九)): 职工学徒, 每人每年最高 6000 元, the actual cost required."""
    return [line(resident_id(600 + i), f"学徒{i}", certificate_number=f"A-{i}", stated_cost="6000.00") for i in range(n)]


def test_an_apprenticeship_claim_without_its_enterprise_is_a_400_naming_the_fields(demo):
    clerk = login("provider_clerk")
    before = Claim.objects.count()
    body = error(clerk.post("/api/v1/claims/", claim_data(lines=apprentices(), policy="S10"), format="json"), 400)
    assert set(body["fields"]) == {"enterprise_name", "enterprise_credit_code"}
    body = error(
        clerk.post(
            "/api/v1/claims/",
            claim_data(
                lines=apprentices(),
                policy="S10",
                enterprise_name="温岭市某泵业有限公司",
                enterprise_credit_code="91331081MA2K00001A",
            ),
            format="json",
        ),
        400,
    )
    assert body["fields"] == {"enterprise_credit_code": ["统一社会信用代码校验码错误。"]}
    assert Claim.objects.count() == before

    response = clerk.post("/api/v1/claims/", claim_data(lines=apprentices(), policy="S10", **PUMP_WORKS), format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["enterprise_name"], response.json()["enterprise_credit_code"]) == (
        "温岭市某泵业有限公司",
        "91331081MA2K00001E",
    )


def test_a_standard_paying_the_provider_refuses_an_enterprise(demo):
    clerk = login("provider_clerk")
    body = error(clerk.post("/api/v1/claims/", claim_data(policy="S3", **PUMP_WORKS), format="json"), 400)
    assert set(body["fields"]) == {"enterprise_name", "enterprise_credit_code"}


def test_a_draft_moved_to_an_enterprise_standard_must_name_the_enterprise(demo):
    clerk = login("provider_clerk")
    draft = clerk.post("/api/v1/claims/", claim_data(lines=apprentices()), format="json").json()
    assert draft["enterprise_name"] == ""
    body = error(clerk.patch(f"/api/v1/claims/{draft['id']}/", {"policy": "S10"}, format="json"), 400)
    assert set(body["fields"]) == {"enterprise_name", "enterprise_credit_code"}
    response = clerk.patch(f"/api/v1/claims/{draft['id']}/", {"policy": "S10", **PUMP_WORKS}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enterprise_credit_code"] == "91331081MA2K00001E"
    response = clerk.patch(f"/api/v1/claims/{draft['id']}/", {"policy": "S3"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enterprise_credit_code"] == ""


# --------------------------------------------------------------------------- the account: page and API


def test_finance_enters_the_enterprise_account_on_the_page_and_the_next_batch_pays_it(demo):
    from django.test import Client
    from django.urls import reverse

    contest = contest_claim(demo)
    finance = Client()
    finance.force_login(demo["finance_officer"])
    build_page = finance.get(reverse("payments:batch_build")).content.decode()
    row = build_page.split(f'data-claim="{contest.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>企业</td>" in row and "培训机构" not in row
    page = finance.get(reverse("payments:payee_accounts")).content.decode()
    assert contest.number in page and "温岭市某泵业有限公司" in page and "?enterprise=91331081MA2K00001E" in page
    url = reverse("payments:payee_accounts") + "?enterprise=91331081MA2K00001E"
    form = finance.get(url).content.decode()
    assert 'name="enterprise" value="91331081MA2K00001E"' in form
    response = finance.post(
        url,
        {
            "enterprise": "91331081MA2K00001E",
            "account_name": "温岭市某泵业有限公司",
            "bank_name": "温岭农商银行",
            "account_number": "6228480000000000777",
        },
    )
    assert response.status_code == 302
    assert PayeeAccount.objects.get(enterprise_credit_code="91331081MA2K00001E").account_number_masked == "6228***********0777"
    assert contest.number not in finance.get(reverse("payments:payee_accounts")).content.decode()
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    assert [(t.payee_kind, t.amount) for t in batch.transfers.all()] == [("enterprise", Decimal("20000.00"))]


def test_the_enterprise_account_via_the_api_is_masked_and_scoped(demo):
    contest = contest_claim(demo)
    finance = login("finance_officer")
    awaiting = finance.get("/api/v1/payment-batches/awaiting/").json()
    assert awaiting["summary"]["enterprises"] == 1 and awaiting["summary"]["missing_amount"] == "20000.00"
    assert {
        (row["claim_number"], row["payee_kind"], row["enterprise"], row["provider"]) for row in awaiting["missing_accounts"]
    } == {(contest.number, "enterprise", "91331081MA2K00001E", None)}
    url = "/api/v1/payee-accounts/enterprises/91331081MA2K00001E/"
    assert finance.get(url).json()["account_number"] is None
    bad = error(
        finance.put(url, {"account_name": "温岭市某泵业有限公司", "bank_name": "农行", "account_number": "12"}, format="json"),
        400,
    )
    assert list(bad["fields"]) == ["account_number"]
    saved = finance.put(
        url, {"account_name": "温岭市某泵业有限公司", "bank_name": "农行", "account_number": "6228480000000000777"}, format="json"
    ).json()
    assert (saved["kind"], saved["owner"], saved["owner_name"], saved["account_number"]) == (
        "enterprise",
        "91331081MA2K00001E",
        "温岭市某泵业有限公司",
        "6228***********0777",
    )
    assert error(finance.get("/api/v1/payee-accounts/enterprises/91331081MA2K00002H/"), 404)  # no claim names it
    assert error(login("provider_clerk").get(url), 404)


def test_the_web_claim_form_takes_the_enterprise_and_the_claim_page_shows_it(demo):
    from django.test import Client
    from django.urls import reverse

    from .test_web_journey import claim_form_post

    clerk = Client()
    clerk.force_login(demo["provider_clerk"])
    post = claim_form_post(claim_data(lines=apprentices(), policy="S10"))
    missing = clerk.post(reverse("approvals:claim_new"), post)
    assert missing.status_code == 400 and "须填写企业统一社会信用代码" in missing.content.decode()
    response = clerk.post(reverse("approvals:claim_new"), {**post, **PUMP_WORKS})
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert (claim.enterprise_name, claim.enterprise_credit_code) == ("温岭市某泵业有限公司", "91331081MA2K00001E")
    page = clerk.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert "温岭市某泵业有限公司" in page and "91331081MA2K00001E" in page


def test_changing_the_enterprise_of_a_returned_claim_goes_back_to_the_department(demo):
    """HR returns an S10 claim asking for line 1's certificate number; the provider also names
    another enterprise. Who is paid is the department's to review again, not HR's."""
    from claims.models import ClaimStatus

    from .test_resubmission import at_hr_review, corrected_and_resubmitted, resubmission_entry, returned_by

    claim = at_hr_review(demo, claim_data(lines=apprentices(), policy="S10", **PUMP_WORKS))
    returned_by(demo["hr_reviewer"], claim, fix={"lines": [1], "fields": ["certificate_number"]})
    claim = corrected_and_resubmitted(
        demo, claim, enterprise_name="温岭市另一泵业有限公司", enterprise_credit_code="91331081MA2K00002H"
    )
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert {"field": "enterprise_credit_code"} in resubmission_entry(claim).detail["outside_fix"]


# --------------------------------------------------------------------------- the roster upload


def test_a_roster_for_an_enterprise_standard_names_the_enterprise_or_is_refused(demo):
    """The roster's header carries the enterprise for S10–S14 as the claim form does: without it
    the upload is refused naming the field, with nothing saved; with it the claim pays the enterprise."""
    from .api_support import error, login, ok
    from .test_roster_import import fill_template, trainee_row, upload

    clerk = login("provider_clerk")
    rows = [trainee_row(1, certificate_type="培训合格证书", stated_cost=15000, training_days=3)]
    before = Claim.objects.count()
    refused = error(upload(clerk, fill_template(rows), policy="S13"), 400)
    assert "enterprise_credit_code" in refused["fields"] and Claim.objects.count() == before

    bad_code = error(
        upload(
            clerk,
            fill_template(rows),
            policy="S13",
            enterprise_name="温岭市某泵业有限公司",
            enterprise_credit_code="91331081MA2K00001X",
        ),
        400,
    )
    assert "enterprise_credit_code" in bad_code["fields"]

    body = ok(upload(clerk, fill_template(rows), policy="S13", **PUMP_WORKS), 201)
    claim = Claim.objects.get(number=body["number"])
    assert (claim.enterprise_name, claim.enterprise_credit_code) == tuple(PUMP_WORKS.values())
    assert claim.total == Decimal("15000.00")
