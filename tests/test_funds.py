"""Fund accounts, annual plans, allocations and the funds report: services, API and pages.

Plans are drafted for next year's account (this year's is seeded with every department's
allocation already accepted); reservations use this year's seeded allocations."""

import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import AuditEvent
from claims.errors import ActionForbidden, FundsExceeded, InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine, Department, Jurisdiction, PaymentStatus
from claims.services import create_claim
from claims.spreadsheets import MONEY_FORMAT
from payments.models import Allocation, FundAccount, FundingPlan, RecoveryOrder, RecoveryReceipt
from payments.selectors.funds import funds_report
from payments.services import funds as services
from payments.services.funds import PlanItemInput
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim

from .api_support import decide, error, login, ok
from .conftest import claim_data, line, resident_id
from .test_audit_completeness import Ledger

YEAR = timezone.localdate().year
NEXT = YEAR + 1


def wl():
    return Jurisdiction.objects.get(code="WL")


def dept(code="WL-YJJ"):
    return Department.objects.get(code=code)


def allocation(code="WL-YJJ", year=YEAR) -> Allocation:
    return Allocation.objects.get(department__code=code, fund_account__year=year)


def next_account(demo, budget="1000000.00") -> FundAccount:
    return services.create_fund_account(
        actor=demo["finance_officer"],
        jurisdiction=wl(),
        year=NEXT,
        name="温岭市专账",
        bank_name="工商银行",
        account_number="1207000000000000002",
        budget=budget,
    )


def items(*rows):
    return [PlanItemInput(category=c, headcount=h, amount=a) for c, h, a in rows]


def filed_plan(demo, account, amount="150000.00", code="WL-YJJ", reviewer="dept_reviewer") -> FundingPlan:
    plan = services.save_plan(
        actor=demo[reviewer], fund_account=account, department=dept(code), items=items(("safety", "100", amount))
    )
    return services.file_plan(actor=demo[reviewer], plan=plan)


def only_task(user):
    tasks = list(inbox.actionable_tasks(user))
    assert len(tasks) == 1, tasks
    return tasks[0]


def claim_at_hr(demo, serial=1, **overrides) -> Claim:
    """A claim of two lines (450 + 450) at HR review, after the department approved it."""
    data = claim_data(
        lines=[
            line(resident_id(serial), "张三", certificate_number=f"T-{serial:05d}"),
            line(resident_id(serial + 500), "李四", certificate_number=f"T-{serial + 500:05d}"),
        ],
        **overrides,
    )
    claim = create_claim(user=demo["provider_clerk"], data=data)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    task = next(t for t in inbox.actionable_tasks(demo["dept_reviewer"]) if t.process.claim.pk == claim.pk)
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve")
    return Claim.objects.get(pk=claim.pk)


def hr_task_of(demo, claim):
    return next(t for t in inbox.actionable_tasks(demo["hr_reviewer"]) if t.process.claim.pk == claim.pk)


def approve_at_hr(demo, claim):
    decide_task(user=demo["hr_reviewer"], task_id=hr_task_of(demo, claim).pk, decision="approve")
    return Claim.objects.get(pk=claim.pk)


# --------------------------------------------------------------------------- plans


def test_plan_lifecycle_from_draft_to_allocation(demo):
    account = next_account(demo)
    plan = services.save_plan(
        actor=demo["dept_reviewer"],
        fund_account=account,
        department=dept(),
        items=items(("safety", "300", "450000.00"), ("skills", "50", "50000.00")),
    )
    assert (plan.status, plan.total, plan.headcount) == ("draft", Decimal("500000.00"), 350)
    # Redraft while a draft: items replaced.
    plan = services.save_plan(
        actor=demo["dept_reviewer"], fund_account=account, department=dept(), items=items(("safety", "300", "400000.00"))
    )
    assert plan.total == Decimal("400000.00") and plan.items.count() == 1
    plan = services.file_plan(actor=demo["dept_reviewer"], plan=plan)
    assert plan.status == "filed"
    with pytest.raises(StepAlreadyTaken):
        services.save_plan(
            actor=demo["dept_reviewer"], fund_account=account, department=dept(), items=items(("safety", "1", "1.00"))
        )
    with pytest.raises(ActionForbidden):
        services.accept_plan_hr(actor=demo["finance_officer"], plan=plan)
    plan = services.accept_plan_hr(actor=demo["hr_reviewer"], plan=plan)
    assert plan.status == "hr_accepted" and plan.hr_accepted_by == demo["hr_reviewer"]
    with pytest.raises(StepAlreadyTaken):
        services.accept_plan_hr(actor=demo["hr_head"], plan=plan)
    created = services.accept_plan_finance(actor=demo["finance_officer"], plan=plan)
    assert (created.amount, created.committed, created.department.code, created.fund_account_id) == (
        Decimal("400000.00"),
        Decimal("0.00"),
        "WL-YJJ",
        account.pk,
    )
    plan.refresh_from_db()
    assert plan.status == "accepted"
    with pytest.raises(StepAlreadyTaken):
        services.accept_plan_finance(actor=demo["finance_officer2"], plan=plan)
    assert Allocation.objects.filter(plan=plan).count() == 1
    actions = list(
        AuditEvent.objects.filter(object_type="payments.fundingplan", object_id=str(plan.pk)).values_list("action", flat=True)
    )
    assert actions == ["plan.saved", "plan.saved", "plan.filed", "plan.hr_accepted", "plan.accepted"]


def test_refusals_by_hr_and_finance_send_the_plan_back_for_redrafting(demo):
    account = next_account(demo)
    plan = filed_plan(demo, account)
    with pytest.raises(InvalidInput) as raised:
        services.refuse_plan(actor=demo["hr_reviewer"], plan=plan, reason="  ")
    assert "reason" in raised.value.fields
    with pytest.raises(ActionForbidden):
        services.refuse_plan(actor=demo["dept_reviewer"], plan=plan, reason="no")
    plan = services.refuse_plan(actor=demo["hr_reviewer"], plan=plan, reason="人数与上年培训能力不符")
    assert (plan.status, plan.refusal_reason) == ("refused", "人数与上年培训能力不符")
    with pytest.raises(StepAlreadyTaken):
        services.file_plan(actor=demo["dept_reviewer"], plan=plan)  # a refused plan is redrafted first
    plan = services.save_plan(
        actor=demo["dept_reviewer"], fund_account=account, department=dept(), items=items(("safety", "90", "120000.00"))
    )
    plan = services.file_plan(actor=demo["dept_reviewer"], plan=plan)
    plan = services.accept_plan_hr(actor=demo["hr_head"], plan=plan)
    with pytest.raises(ActionForbidden):
        services.refuse_plan(actor=demo["hr_reviewer"], plan=plan, reason="x")  # HR-accepted: finance's to refuse
    plan = services.refuse_plan(actor=demo["finance_officer"], plan=plan, reason="预算压减")
    assert plan.status == "refused"
    assert not Allocation.objects.filter(plan=plan).exists()


def test_plan_items_are_checked_with_the_row_named(demo):
    account = next_account(demo)
    with pytest.raises(InvalidInput) as raised:
        services.save_plan(
            actor=demo["dept_reviewer"],
            fund_account=account,
            department=dept(),
            items=items(("safety", "10", "1000.00"), ("nonsense", "x", "-1"), ("safety", "1", "1.001")),
        )
    assert set(raised.value.fields) == {
        "items[1].category",
        "items[1].headcount",
        "items[1].amount",
        "items[2].category",
        "items[2].amount",
    }
    assert not FundingPlan.objects.filter(fund_account=account).exists()
    with pytest.raises(ActionForbidden):  # another department's reviewer
        services.save_plan(
            actor=demo["dept2_reviewer"], fund_account=account, department=dept(), items=items(("safety", "1", "1.00"))
        )


def test_finance_acceptance_is_refused_when_the_budget_cannot_hold_it(demo):
    account = next_account(demo, budget="200000.00")
    first = filed_plan(demo, account, amount="150000.00")
    services.accept_plan_hr(actor=demo["hr_reviewer"], plan=first)
    services.accept_plan_finance(actor=demo["finance_officer"], plan=first)
    second = filed_plan(demo, account, amount="60000.00", code="WL-MZJ", reviewer="dept2_reviewer")
    services.accept_plan_hr(actor=demo["hr_reviewer"], plan=second)
    with pytest.raises(FundsExceeded) as raised:
        services.accept_plan_finance(actor=demo["finance_officer"], plan=second)
    assert "150,000.00" in raised.value.message and "60,000.00" in raised.value.message
    assert raised.value.fields == {"total": ["超出专账可分配余额 50,000.00 元。"]}
    second.refresh_from_db()
    assert second.status == "hr_accepted"
    assert not Allocation.objects.filter(plan=second).exists()


def test_fund_account_is_opened_by_finance_once_per_year(demo):
    with pytest.raises(ActionForbidden):
        services.create_fund_account(
            actor=demo["hr_reviewer"], jurisdiction=wl(), year=NEXT, name="x", bank_name="y", account_number="1", budget="1.00"
        )
    with pytest.raises(InvalidInput) as raised:
        services.create_fund_account(
            actor=demo["finance_officer"], jurisdiction=wl(), year=YEAR, name="", bank_name="y", account_number="1", budget="-5"
        )
    assert set(raised.value.fields) == {"year", "name", "budget"}
    account = next_account(demo)
    assert account.budget == Decimal("1000000.00")


# --------------------------------------------------------------------------- reservations


def test_final_approval_reserves_and_an_allocation_too_small_refuses_with_a_clear_message(demo):
    allocation_ = allocation()
    Allocation.objects.filter(pk=allocation_.pk).update(amount=Decimal("1000.00"))
    first = approve_at_hr(demo, claim_at_hr(demo, 1))
    assert first.status == "approved"
    assert set(first.lines.values_list("payment_status", flat=True)) == {"reserved"}
    allocation_.refresh_from_db()
    assert allocation_.committed == Decimal("900.00")

    second = claim_at_hr(demo, 2)
    task = hr_task_of(demo, second)
    with pytest.raises(FundsExceeded) as raised:
        decide_task(user=demo["hr_reviewer"], task_id=task.pk, decision="approve")
    message = raised.value.message
    assert "应急管理局" in message and "余额 100.00 元" in message and "900.00" in message
    assert raised.value.fields == {"allocation": ["余额 100.00 元，本申领需 900.00 元。"]}
    second.refresh_from_db()
    assert second.status == "hr_review"
    assert set(second.lines.values_list("payment_status", flat=True)) == {"unpaid"}
    assert not second.lines.filter(allocation__isnull=False).exists()
    allocation_.refresh_from_db()
    assert allocation_.committed == Decimal("900.00")
    assert hr_task_of(demo, second).pk == task.pk  # still at its step


def test_approval_refused_through_the_api_with_409_allocation_exceeded(demo):
    Allocation.objects.filter(pk=allocation().pk).update(amount=Decimal("899.99"))
    claim = claim_at_hr(demo, 3)
    task = hr_task_of(demo, claim)
    body = error(decide(login("hr_reviewer"), task.pk, decision="approve"), 409)
    assert body["code"] == "allocation_exceeded"
    assert "应急管理局" in body["message"] and "899.99" in body["message"] and "900.00" in body["message"]
    claim.refresh_from_db()
    assert claim.status == "hr_review"
    assert allocation().committed == Decimal("0.00")
    assert not ClaimLine.objects.filter(claim=claim).exclude(payment_status="unpaid").exists()


def test_a_department_without_allocation_cannot_be_approved(demo):
    claim = claim_at_hr(demo, 4)
    # Move the allocation to another year: this year's department has none.
    account = next_account(demo)
    Allocation.objects.filter(pk=allocation().pk).update(fund_account=account)
    with pytest.raises(FundsExceeded) as raised:
        decide_task(user=demo["hr_reviewer"], task_id=hr_task_of(demo, claim).pk, decision="approve")
    assert "没有" in raised.value.message and "应急管理局" in raised.value.message


def test_release_reservation_gives_the_money_back(demo):
    claim = approve_at_hr(demo, claim_at_hr(demo, 5))
    allocation_ = allocation()
    assert allocation_.committed == Decimal("900.00")
    first = claim.lines.get(line_no=1)
    with Ledger().expect("allocation.released"):
        with transaction.atomic():
            services.release_reservation(
                actor=demo["hr_reviewer"],
                line=first,
                to_status=PaymentStatus.CANCELLED,
                action="allocation.released",
                reason="异议成立",
            )
    allocation_.refresh_from_db()
    first.refresh_from_db()
    assert (allocation_.committed, first.payment_status) == (Decimal("450.00"), "cancelled")
    # Partial amount (a recovery of 200 on the other line).
    second = claim.lines.get(line_no=2)
    with transaction.atomic():
        services.release_reservation(
            actor=demo["finance_officer"],
            line=second,
            to_status=PaymentStatus.RECOVERED,
            action="allocation.restored",
            amount=Decimal("200.00"),
        )
    allocation_.refresh_from_db()
    assert allocation_.committed == Decimal("250.00")
    # Releasing more than is committed is refused; nothing changes.
    with pytest.raises(StepAlreadyTaken):
        with transaction.atomic():
            services.release_reservation(
                actor=demo["finance_officer"],
                line=second,
                to_status=PaymentStatus.CANCELLED,
                action="allocation.released",
                amount=Decimal("250.01"),
            )
    allocation_.refresh_from_db()
    assert allocation_.committed == Decimal("250.00")


# --------------------------------------------------------------------------- report


def build_report_scenario(demo):
    """WL-YJJ: four approved claims (eight lines of 450): one line of each state, plus a recovery.
    Returns the lines by purpose."""
    claims = [approve_at_hr(demo, claim_at_hr(demo, 10 + n)) for n in range(4)]
    lines = [l for c in claims for l in c.lines.order_by("line_no")]
    # Simulate later states directly on the lines (batches and results are other services).
    states = ["reserved", "in_batch", "in_payment", "paid", "paid", "returned", "recovered", "reserved"]
    for l, state in zip(lines, states):
        ClaimLine.objects.filter(pk=l.pk).update(payment_status=state)
    # The recovered line: 450 recovered in full (allocation restored); a second paid line recovers 100 of an open order.
    recovered_line, partial_line = lines[6], lines[4]
    full = RecoveryOrder.objects.create(
        claim_line=recovered_line,
        amount_due=Decimal("450.00"),
        amount_recovered=Decimal("450.00"),
        payer_kind="provider",
        payer_name="x",
        reason_code="fraud",
        reason="r",
        status="recovered",
        opened_by=demo["hr_reviewer"],
    )
    RecoveryReceipt.objects.create(
        order=full,
        jurisdiction=full.claim_line.claim.jurisdiction,
        amount=Decimal("450.00"),
        received_on=timezone.localdate(),
        reference="R1",
        reference_key="R1",
        recorded_by=demo["finance_officer"],
    )
    part = RecoveryOrder.objects.create(
        claim_line=partial_line,
        amount_due=Decimal("450.00"),
        amount_recovered=Decimal("100.00"),
        payer_kind="provider",
        payer_name="x",
        reason_code="overpaid",
        reason="r",
        opened_by=demo["hr_reviewer"],
    )
    RecoveryReceipt.objects.create(
        order=part,
        jurisdiction=part.claim_line.claim.jurisdiction,
        amount=Decimal("100.00"),
        received_on=timezone.localdate(),
        reference="R2",
        reference_key="R2",
        recorded_by=demo["finance_officer"],
    )
    Allocation.objects.filter(pk=allocation().pk).update(committed=Decimal("3600.00") - Decimal("550.00"))
    return lines


def test_report_figures_on_a_hand_built_scenario(demo):
    build_report_scenario(demo)
    report = funds_report(user=demo["finance_officer"], year=YEAR)
    (account,) = report["accounts"]
    row = next(r for r in account["rows"] if r["department"] == "WL-YJJ")
    assert {k: row[k] for k in ("allocated", "reserved", "paid", "returned", "recovered", "committed", "remaining")} == {
        "allocated": Decimal("600000.00"),
        "reserved": Decimal("1800.00"),  # reserved ×2, in_batch, in_payment
        "paid": Decimal("1350.00"),  # paid ×2 + recovered (paid before it was recovered)
        "returned": Decimal("450.00"),
        "recovered": Decimal("550.00"),
        "committed": Decimal("3050.00"),
        "remaining": Decimal("596950.00"),
    }
    assert account["anomalies"] == []
    other = next(r for r in account["rows"] if r["department"] == "WL-MZJ")
    assert (other["allocated"], other["committed"], other["remaining"]) == (Decimal("300000.00"), 0, Decimal("300000.00"))
    allocated = Allocation.objects.filter(fund_account__year=YEAR).aggregate(t=Sum("amount"))["t"]
    assert account["totals"]["allocated"] == allocated
    assert account["budget"] == Decimal("8000000.00")
    assert account["unallocated"] == Decimal("8000000.00") - allocated
    assert account["balance"] == Decimal("8000000.00") - Decimal("1350.00") + Decimal("550.00")
    # Identity: allocated = reserved + paid + returned − recovered + remaining.
    assert row["allocated"] == row["reserved"] + row["paid"] + row["returned"] - row["recovered"] + row["remaining"]

    # A department reviewer sees its own row, without the account's figures.
    mine = funds_report(user=demo["dept_reviewer"], year=YEAR)["accounts"][0]
    assert [r["department"] for r in mine["rows"]] == ["WL-YJJ"] and mine["budget"] is None and mine["balance"] is None
    assert funds_report(user=demo["provider_clerk"], year=YEAR)["accounts"] == []


def test_report_flags_a_committed_counter_that_differs_from_the_lines(demo):
    build_report_scenario(demo)
    Allocation.objects.filter(pk=allocation().pk).update(committed=Decimal("3000.00"))
    RecoveryOrder.objects.filter(amount_recovered=Decimal("100.00")).update(amount_recovered=Decimal("120.00"))
    account = funds_report(user=demo["auditor"], year=YEAR)["accounts"][0]
    kinds = sorted(a["kind"] for a in account["anomalies"])
    assert kinds == ["committed_mismatch", "recovery_receipts_mismatch"]
    mismatch = next(a for a in account["anomalies"] if a["kind"] == "committed_mismatch")
    assert (mismatch["department"], mismatch["committed"], mismatch["from_lines"]) == (
        "WL-YJJ",
        Decimal("3000.00"),
        Decimal("3030.00"),
    )


def test_report_takes_a_fixed_number_of_queries(demo, django_assert_max_num_queries):
    build_report_scenario(demo)
    with django_assert_max_num_queries(10):
        funds_report(user=demo["finance_officer"], year=YEAR)


def test_api_report_json_and_xlsx_agree_and_the_export_is_recorded(demo):
    build_report_scenario(demo)
    finance = login("finance_officer")
    report = ok(finance.get(f"/api/v1/reports/funds/?year={YEAR}"))
    (account,) = report["accounts"]
    row = next(r for r in account["rows"] if r["department"] == "WL-YJJ")
    assert (row["reserved"], row["paid"], row["returned"], row["recovered"], row["remaining"]) == (
        "1800.00",
        "1350.00",
        "450.00",
        "550.00",
        "596950.00",
    )
    assert account["balance"] == "7999200.00"
    before = AuditEvent.objects.filter(action="report.exported").count()
    response = finance.get(f"/api/v1/reports/funds.xlsx?year={YEAR}")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["专账", "年度", "部门代码", "行业主管部门", "分配金额"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    totals = next(r for r in rows if r[3] == "合计")
    figures = ["allocated", "reserved", "paid", "returned", "recovered", "committed", "remaining"]
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in totals[4:11]] == [Decimal(account["totals"][f]) for f in figures]
    assert all(isinstance(v, (int, float)) for v in totals[4:11])
    yjj = next(r for r in rows if r[2] == "WL-YJJ")
    assert sheet.cell(row=rows.index(yjj) + 2, column=6).number_format == MONEY_FORMAT
    events = AuditEvent.objects.filter(action="report.exported").order_by("seq")
    assert events.count() == before + 1
    event = events.last()
    assert (event.actor, event.object_type, event.detail["year"], event.detail["format"]) == (
        demo["finance_officer"],
        "payments.fundaccount",
        YEAR,
        "xlsx",
    )
    # Nothing to export: 404; a provider: 403.
    assert error(finance.get(f"/api/v1/reports/funds.xlsx?year={NEXT + 5}"), 404)["code"] == "not_found"
    assert error(login("provider_clerk").get("/api/v1/reports/funds/"), 403)["code"] == "role"
    assert error(finance.get("/api/v1/reports/funds/?year=abc"), 400)["fields"] == {"year": ["年度须为 2000–2100 之间的整数。"]}


# --------------------------------------------------------------------------- API


def test_api_plan_lifecycle_roles_and_scope(demo):
    finance, hr, reviewer, other = login("finance_officer"), login("hr_reviewer"), login("dept_reviewer"), login("dept2_reviewer")
    body = {"year": NEXT, "name": "温岭市专账", "bank_name": "工商银行", "account_number": "12070002", "budget": "500000.00"}
    assert error(hr.post("/api/v1/fund-accounts/", body, format="json"), 403)["code"] == "role"
    bad = error(finance.post("/api/v1/fund-accounts/", {**body, "budget": "1.234"}, format="json"), 400)
    assert list(bad["fields"]) == ["budget"]
    account = ok(finance.post("/api/v1/fund-accounts/", body, format="json"), 201)
    assert (account["year"], account["budget"], account["jurisdiction"]) == (NEXT, "500000.00", "WL")
    assert {a["year"] for a in ok(reviewer.get("/api/v1/fund-accounts/"))["results"]} == {YEAR, NEXT}

    plan_body = {"fund_account": account["id"], "items": [{"category": "safety", "headcount": 200, "amount": "300000.00"}]}
    bad = error(
        reviewer.post(
            "/api/v1/plans/", {**plan_body, "items": [{"category": "safety", "headcount": 1, "amount": "x"}]}, format="json"
        ),
        400,
    )
    assert list(bad["fields"]) == ["items[0].amount"]
    plan = ok(reviewer.post("/api/v1/plans/", plan_body, format="json"), 201)
    assert (plan["status"], plan["total"], plan["department"], plan["allocation"]) == ("draft", "300000.00", "WL-YJJ", None)
    plan = ok(
        reviewer.post(
            "/api/v1/plans/",
            {**plan_body, "items": [{"category": "safety", "headcount": 200, "amount": "350000.00"}]},
            format="json",
        ),
        200,
    )
    assert plan["total"] == "350000.00"
    pid = plan["id"]
    assert error(other.get(f"/api/v1/plans/{pid}/"), 404)["code"] == "not_found"
    assert error(other.post(f"/api/v1/plans/{pid}/file/"), 404)["code"] == "not_found"
    assert error(hr.post(f"/api/v1/plans/{pid}/file/"), 403)["code"] == "role"
    assert ok(reviewer.post(f"/api/v1/plans/{pid}/file/"))["status"] == "filed"
    assert error(reviewer.post(f"/api/v1/plans/{pid}/accept/"), 403)["code"] == "role"
    # The plan's state picks the acceptance (filed: HR's), the service checks the role.
    assert error(finance.post(f"/api/v1/plans/{pid}/accept/"), 403)["code"] == "role"  # HR first
    assert ok(hr.post(f"/api/v1/plans/{pid}/accept/"))["status"] == "hr_accepted"
    assert error(hr.post(f"/api/v1/plans/{pid}/accept/"), 403)["code"] == "role"  # HR-accepted: finance's now
    assert error(finance.post(f"/api/v1/plans/{pid}/refuse/", {"reason": ""}, format="json"), 400)["fields"] == {
        "reason": ["必填。"]
    }
    accepted = ok(finance.post(f"/api/v1/plans/{pid}/accept/"))
    assert accepted["status"] == "accepted" and accepted["allocation"]
    assert error(login("finance_officer2").post(f"/api/v1/plans/{pid}/accept/"), 409)["code"] == "conflict"

    allocations = ok(reviewer.get(f"/api/v1/allocations/?year={NEXT}"))["results"]
    assert [(a["department"], a["amount"], a["committed"], a["remaining"]) for a in allocations] == [
        ("WL-YJJ", "350000.00", "0.00", "350000.00")
    ]
    assert ok(other.get(f"/api/v1/allocations/?year={NEXT}"))["results"] == []
    assert (
        len(ok(finance.get(f"/api/v1/allocations/?year={YEAR}"))["results"])
        == Allocation.objects.filter(fund_account__year=YEAR).count()
    )

    # Budget exceeded at finance acceptance: 409 allocation_exceeded, the plan stays HR-accepted.
    plan2 = ok(
        other.post(
            "/api/v1/plans/",
            {"fund_account": account["id"], "items": [{"category": "skills", "headcount": 100, "amount": "150000.01"}]},
            format="json",
        ),
        201,
    )
    ok(other.post(f"/api/v1/plans/{plan2['id']}/file/"))
    ok(hr.post(f"/api/v1/plans/{plan2['id']}/accept/"))
    exceeded = error(finance.post(f"/api/v1/plans/{plan2['id']}/accept/"), 409)
    assert exceeded["code"] == "allocation_exceeded" and "150,000.01" in exceeded["message"]
    refused = ok(finance.post(f"/api/v1/plans/{plan2['id']}/refuse/", {"reason": "超出年度资金"}, format="json"))
    assert (refused["status"], refused["refusal_reason"]) == ("refused", "超出年度资金")
    assert ok(login("provider_clerk").get("/api/v1/plans/"))["results"] == []


# --------------------------------------------------------------------------- pages


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_plan_lifecycle_with_errors_next_to_the_field(demo):
    finance, hr, reviewer = (
        client_for(demo["finance_officer"]),
        client_for(demo["hr_reviewer"]),
        client_for(demo["dept_reviewer"]),
    )
    assert reviewer.get("/payments/funds/accounts/new/").status_code == 403
    response = finance.post(
        "/payments/funds/accounts/new/",
        {"jurisdiction": str(wl().pk), "year": NEXT, "name": "", "bank_name": "b", "account_number": "1", "budget": "abc"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="budget"' in html and "须为金额" in html and "必填" in html
    response = finance.post(
        "/payments/funds/accounts/new/",
        {
            "jurisdiction": str(wl().pk),
            "year": NEXT,
            "name": "专账",
            "bank_name": "b",
            "account_number": "1",
            "budget": "900000.00",
        },
    )
    assert response.status_code == 302
    account = FundAccount.objects.get(year=NEXT)
    assert "填报年度计划" in reviewer.get(f"/payments/funds/?year={NEXT}").content.decode()

    response = reviewer.post(
        f"/payments/funds/plans/new/?account={account.pk}",
        {"department": "WL-YJJ", "headcount_safety": "100", "amount_safety": "12.345", "headcount_skills": "x"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    cell = html[html.index('data-field="amount_safety"') :][:400]
    assert "须为不小于零、最多两位小数的金额" in cell
    cell = html[html.index('data-field="headcount_skills"') :][:400]
    assert "须为不小于零的整数" in cell
    assert not FundingPlan.objects.filter(fund_account=account).exists()
    response = reviewer.post(
        f"/payments/funds/plans/new/?account={account.pk}",
        {"department": "WL-YJJ", "headcount_safety": "100", "amount_safety": "120000.00"},
    )
    plan = FundingPlan.objects.get(fund_account=account)
    assert response.status_code == 302 and response["Location"] == f"/payments/funds/plans/{plan.pk}/"
    assert client_for(demo["dept2_reviewer"]).get(f"/payments/funds/plans/{plan.pk}/").status_code == 404
    assert (
        reviewer.post(
            f"/payments/funds/plans/{plan.pk}/edit/", {"headcount_safety": "100", "amount_safety": "130000.00"}
        ).status_code
        == 302
    )
    assert reviewer.post(f"/payments/funds/plans/{plan.pk}/file/").status_code == 302
    assert reviewer.post(f"/payments/funds/plans/{plan.pk}/accept/").status_code == 403
    page = hr.get(f"/payments/funds/plans/{plan.pk}/").content.decode()
    assert "确认计划" in page and "130,000.00" in page
    response = hr.post(f"/payments/funds/plans/{plan.pk}/refuse/", {"reason": ""})
    assert response.status_code == 400 and "必填" in response.content.decode()
    assert hr.post(f"/payments/funds/plans/{plan.pk}/accept/").status_code == 302
    assert hr.post(f"/payments/funds/plans/{plan.pk}/accept/").status_code == 403  # HR-accepted: finance's now
    assert finance.post(f"/payments/funds/plans/{plan.pk}/accept/").status_code == 302
    assert finance.post(f"/payments/funds/plans/{plan.pk}/accept/").status_code == 409
    plan.refresh_from_db()
    assert plan.status == "accepted" and plan.allocation.amount == Decimal("130000.00")


def test_report_page_and_xlsx_download(demo):
    build_report_scenario(demo)
    finance = client_for(demo["finance_officer"])
    html = finance.get(f"/payments/funds/report/?year={YEAR}").content.decode()
    assert "596,950.00" in html and "7,999,200.00" in html
    assert client_for(demo["provider_clerk"]).get("/payments/funds/report/").status_code == 403
    assert client_for(demo["provider_clerk"]).post("/payments/funds/report.xlsx").status_code == 403
    assert Client().get("/payments/funds/report/").status_code == 302
    response = finance.post(f"/payments/funds/report.xlsx?year={YEAR}")
    assert response.status_code == 200
    load_workbook(io.BytesIO(response.content))
    assert AuditEvent.objects.filter(action="report.exported", actor=demo["finance_officer"]).count() == 1
    assert finance.get("/payments/funds/report.xlsx").status_code == 405
    reviewer_html = client_for(demo["dept_reviewer"]).get(f"/payments/funds/report/?year={YEAR}").content.decode()
    assert "应急管理局" in reviewer_html and "民政局" not in reviewer_html


# --------------------------------------------------------------------------- audit completeness


def test_every_funds_service_records_each_change(demo):
    ledger = Ledger()
    finance, hr, reviewer = demo["finance_officer"], demo["hr_reviewer"], demo["dept_reviewer"]
    with ledger.expect("fund_account.created") as result:
        account = next_account(demo, budget="100000.00")
    with ledger.expect("plan.saved"):
        plan = services.save_plan(
            actor=reviewer, fund_account=account, department=dept(), items=items(("safety", "10", "90000.00"))
        )
    with ledger.expect("plan.saved"):
        plan = services.save_plan(
            actor=reviewer,
            fund_account=account,
            department=dept(),
            items=items(("safety", "10", "80000.00"), ("skills", "5", "10000.00")),
        )
    with ledger.expect("plan.filed"):
        plan = services.file_plan(actor=reviewer, plan=plan)
    with ledger.expect("plan.refused"):
        plan = services.refuse_plan(actor=hr, plan=plan, reason="r")
    with ledger.expect("plan.saved"):
        plan = services.save_plan(
            actor=reviewer, fund_account=account, department=dept(), items=items(("safety", "10", "90000.00"))
        )
    with ledger.expect("plan.filed"):
        plan = services.file_plan(actor=reviewer, plan=plan)
    with ledger.expect("plan.hr_accepted"):
        plan = services.accept_plan_hr(actor=hr, plan=plan)
    with ledger.expect("plan.accepted", "allocation.created"):
        services.accept_plan_finance(actor=finance, plan=plan)
    other = filed_plan(demo, account, amount="20000.00", code="WL-MZJ", reviewer="dept2_reviewer")
    services.accept_plan_hr(actor=hr, plan=other)
    with ledger.nothing():
        with pytest.raises(FundsExceeded):
            services.accept_plan_finance(actor=finance, plan=other)
    with ledger.nothing():
        with pytest.raises(InvalidInput):
            services.save_plan(actor=reviewer, fund_account=account, department=dept(), items=items(("safety", "x", "1")))
    claim = claim_at_hr(demo, 40)
    with ledger.expect("allocation.reserved", "claim.approved_step"):
        claim = approve_at_hr(demo, claim)
    Allocation.objects.filter(pk=allocation().pk).update(amount=allocation().committed + Decimal("100.00"))
    refused = claim_at_hr(demo, 41)
    with ledger.nothing():
        with pytest.raises(FundsExceeded):
            approve_at_hr(demo, refused)
    with ledger.expect("allocation.released"):
        with transaction.atomic():
            services.release_reservation(
                actor=hr, line=claim.lines.get(line_no=1), to_status=PaymentStatus.CANCELLED, action="allocation.released"
            )
    with ledger.expect("report.exported"):
        services.export_funds_report(actor=finance, year=YEAR)
    assert result["entries"][0].object_type == "payments.fundaccount"


def report_row(user, code="WL-YJJ"):
    account = funds_report(user=user, year=YEAR)["accounts"][0]
    return next(r for r in account["rows"] if r["department"] == code), account


def test_report_follows_the_real_payment_services(demo, django_capture_on_commit_callbacks, celery_eager, apply_result):
    """Batches, bank results and recoveries as their services drive them; the report follows."""
    from payments.services.recoveries import open_recovery, record_recovery_receipt
    from workflow.disbursement import build_batch, request_release

    from .payments_support import approved_claim
    from .test_payment_results import csv_file, result_rows, seq_of

    finance = demo["finance_officer"]
    paid_claim = approved_claim(demo, serials=(61, 62))  # WL-P001, 900
    returned_claim = approved_claim(demo, serials=(63,), clerk="provider2_clerk")  # WL-P002, 450
    row, _account = report_row(finance)
    assert (row["reserved"], row["paid"], row["committed"]) == (Decimal("1350.00"), Decimal("0.00"), Decimal("1350.00"))

    batch = build_batch(actor=finance, jurisdiction=wl())
    assert report_row(finance)[0]["reserved"] == Decimal("1350.00")  # in a batch: still bound, not paid
    with django_capture_on_commit_callbacks(execute=True):
        request_release(actor=demo["finance_officer2"], batch=batch)
    assert report_row(finance)[0]["reserved"] == Decimal("1350.00")  # at the bank
    rows = result_rows(batch, {seq_of(batch, paid_claim): "成功", seq_of(batch, returned_claim): ("失败", "户名不符")})
    apply_result(actor=finance, batch=batch, filename="result.csv", content=csv_file(rows))
    later = approved_claim(demo, serials=(64,))  # reserved, awaiting the next batch

    line = paid_claim.lines.get(line_no=1)
    order = open_recovery(
        actor=demo["hr_reviewer"],
        line=line,
        amount_due="450.00",
        payer_kind="provider",
        payer_name="机构",
        reason_code="revoked",
        reason="证书被撤销",
    )
    record_recovery_receipt(actor=finance, order=order, amount="200.00", received_on=timezone.localdate(), reference="JK-1")

    row, account = report_row(finance)
    assert {k: row[k] for k in ("reserved", "paid", "returned", "recovered", "committed", "remaining")} == {
        "reserved": Decimal("450.00"),
        "paid": Decimal("900.00"),
        "returned": Decimal("450.00"),
        "recovered": Decimal("200.00"),
        "committed": Decimal("1600.00"),  # 450 + 900 + 450 − 200
        "remaining": Decimal("598400.00"),
    }
    assert account["anomalies"] == [], account["anomalies"]
    assert account["balance"] == Decimal("8000000.00") - Decimal("900.00") + Decimal("200.00")
    assert later.lines.get().payment_status == "reserved"

    # The rest comes back: the line shows recovered, still counted as paid, all of it recovered.
    record_recovery_receipt(actor=finance, order=order, amount="250.00", received_on=timezone.localdate(), reference="JK-2")
    assert ClaimLine.objects.get(pk=line.pk).payment_status == "recovered"
    row, account = report_row(finance)
    assert (row["paid"], row["recovered"], row["committed"]) == (Decimal("900.00"), Decimal("450.00"), Decimal("1350.00"))
    assert account["anomalies"] == []


# --------------------------------------------------------------------------- review findings


@pytest.mark.parametrize("value", ["1e30", "1e15", "abc", "-1", "1.001", "1000000000000", "NaN", "Infinity"])
def test_parse_money_rejects_what_the_columns_cannot_hold(value):
    errors = {}
    assert services.parse_money(value, field="budget", errors=errors) is None
    assert list(errors) == ["budget"]


def test_parse_money_accepts_up_to_the_bound_and_takes_a_max_value():
    errors = {}
    assert services.parse_money("999999999999.99", field="x", errors=errors) == Decimal("999999999999.99")
    assert services.parse_money("1e3", field="x", errors=errors) == Decimal("1000.00")
    assert services.parse_money("100.00", field="x", errors=errors, max_value=100) is None
    assert list(errors) == ["x"]


@pytest.mark.parametrize("value", ["1e30", "1e15", "abc", "-1", "1.001"])
def test_fund_account_and_plan_amounts_out_of_range_are_400_naming_the_field(demo, value):
    with pytest.raises(InvalidInput) as raised:
        services.create_fund_account(
            actor=demo["finance_officer"], jurisdiction=wl(), year=NEXT, name="x", bank_name="y", account_number="1", budget=value
        )
    assert list(raised.value.fields) == ["budget"]
    finance, reviewer = login("finance_officer"), login("dept_reviewer")
    body = {"year": NEXT, "name": "专账", "bank_name": "工商银行", "account_number": "1", "budget": value}
    assert list(error(finance.post("/api/v1/fund-accounts/", body, format="json"), 400)["fields"]) == ["budget"]
    account = next_account(demo)
    plan_body = {"fund_account": account.pk, "items": [{"category": "safety", "headcount": 1, "amount": value}]}
    assert list(error(reviewer.post("/api/v1/plans/", plan_body, format="json"), 400)["fields"]) == ["items[0].amount"]
    assert not FundingPlan.objects.filter(fund_account=account).exists()


def test_a_plan_total_beyond_the_bound_is_400_on_items(demo):
    account = next_account(demo)
    with pytest.raises(InvalidInput) as raised:
        services.save_plan(
            actor=demo["dept_reviewer"],
            fund_account=account,
            department=dept(),
            items=items(("safety", "1", "600000000000.00"), ("skills", "1", "600000000000.00")),
        )
    assert list(raised.value.fields) == ["items"]


def test_parse_year_one_rule_for_services_api_and_pages(demo):
    assert services.parse_year("2030") == 2030 and services.parse_year(2030) == 2030
    for bad in ("abc", "1999", "2101", True, None, "20.5", 2030.0):
        with pytest.raises(InvalidInput) as raised:
            services.parse_year(bad, field="y")
        assert list(raised.value.fields) == ["y"]
    finance = login("finance_officer")
    for url in ("/api/v1/reports/funds/?year=abc", "/api/v1/plans/?year=abc", "/api/v1/allocations/?year=1999"):
        assert list(error(finance.get(url), 400)["fields"]) == ["year"]
    body = {"year": "abc", "name": "专账", "bank_name": "b", "account_number": "1", "budget": "1.00"}
    assert list(error(finance.post("/api/v1/fund-accounts/", body, format="json"), 400)["fields"]) == ["year"]
    page = client_for(demo["finance_officer"])
    for url in ("/payments/funds/?year=abc", "/payments/funds/report/?year=abc"):
        response = page.get(url)
        assert response.status_code == 400 and "2000–2100" in response.content.decode()
    assert page.post("/payments/funds/report.xlsx?year=abc").status_code == 400


def test_only_overseers_see_the_account_budget_and_number(demo):
    next_account(demo)
    reviewer = ok(login("dept_reviewer").get("/api/v1/fund-accounts/"))["results"]
    assert reviewer and all(a["budget"] is None and a["account_number"] is None for a in reviewer)
    finance = ok(login("finance_officer").get("/api/v1/fund-accounts/"))["results"]
    assert {a["account_number"] for a in finance} >= {"1207000000000000002"} and all(a["budget"] for a in finance)
    html = client_for(demo["dept_reviewer"]).get(f"/payments/funds/?year={NEXT}").content.decode()
    assert "1207000000000000002" not in html and "1,000,000.00" not in html
    html = client_for(demo["finance_officer"]).get(f"/payments/funds/?year={NEXT}").content.decode()
    assert "1207000000000000002" in html and "1,000,000.00" in html


def test_codes_outside_the_callers_scope_are_answered_as_unknown(demo):
    other = Jurisdiction.objects.create(code="TZ", name="台州市")
    finance = login("finance_officer")
    body = {"year": NEXT, "name": "专账", "bank_name": "b", "account_number": "1", "budget": "1.00"}
    unknown = error(finance.post("/api/v1/fund-accounts/", {**body, "jurisdiction": "NOPE"}, format="json"), 400)
    foreign = error(finance.post("/api/v1/fund-accounts/", {**body, "jurisdiction": other.code}, format="json"), 400)
    assert list(foreign["fields"]) == list(unknown["fields"]) == ["jurisdiction"]
    assert foreign["code"] == unknown["code"]
    account = next_account(demo)
    reviewer = login("dept_reviewer")
    plan_body = {"fund_account": account.pk, "items": [{"category": "safety", "headcount": 1, "amount": "1.00"}]}
    unknown = error(reviewer.post("/api/v1/plans/", {**plan_body, "department": "NOPE"}, format="json"), 400)
    foreign = error(reviewer.post("/api/v1/plans/", {**plan_body, "department": "WL-MZJ"}, format="json"), 400)
    assert list(foreign["fields"]) == list(unknown["fields"]) == ["department"]
    assert foreign["code"] == unknown["code"]


def test_plan_post_rejects_a_boolean_account_and_answers_201_then_200(demo):
    account = next_account(demo)
    reviewer = login("dept_reviewer")
    plan_body = {"fund_account": account.pk, "items": [{"category": "safety", "headcount": 1, "amount": "1.00"}]}
    assert list(error(reviewer.post("/api/v1/plans/", {**plan_body, "fund_account": True}, format="json"), 400)["fields"]) == [
        "fund_account"
    ]
    ok(reviewer.post("/api/v1/plans/", plan_body, format="json"), 201)
    ok(reviewer.post("/api/v1/plans/", plan_body, format="json"), 200)


def test_plan_acceptance_follows_the_plans_state(demo):
    account = next_account(demo)
    plan = filed_plan(demo, account)
    with pytest.raises(ActionForbidden):
        services.accept_plan(actor=demo["finance_officer"], plan=plan)  # filed: HR's acceptance
    plan = services.accept_plan(actor=demo["hr_reviewer"], plan=plan)
    assert plan.status == "hr_accepted"
    plan = services.accept_plan(actor=demo["finance_officer"], plan=plan)
    assert plan.status == "accepted" and plan.allocation.amount == Decimal("150000.00")
    with pytest.raises(StepAlreadyTaken):
        services.accept_plan(actor=demo["finance_officer"], plan=plan)


def test_plan_list_reads_the_allocations_without_a_query_per_plan(demo, django_assert_max_num_queries):
    finance = login("finance_officer")
    ok(finance.get(f"/api/v1/plans/?year={YEAR}"))
    with django_assert_max_num_queries(12):
        plans = ok(finance.get(f"/api/v1/plans/?year={YEAR}"))["results"]
    assert plans and all(p["allocation"] for p in plans)


def test_a_duplicate_account_lost_in_a_race_is_400_on_year(demo, monkeypatch):
    next_account(demo)
    # The exists() check passes (as for two requests at once); the unique constraint answers.
    monkeypatch.setattr(services.FundAccount.objects, "filter", lambda *a, **k: FundAccount.objects.none())
    with pytest.raises(InvalidInput) as raised:
        next_account(demo)
    assert list(raised.value.fields) == ["year"]
