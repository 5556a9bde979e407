"""A returned claim must not skip a reviewer: when the provider changes more than the HR step
asked to fix, the resubmission goes to the department's review, which sees the claim anew
(docs/rules.md, "Resubmission after a return"). Figures are the seed's: S3 new certificate
≤ 500 per person, S9 abroad training ≤ 50,000 per person, the HR head above 100,000."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from audit.selectors import claim_history
from claims.errors import InvalidInput
from claims.models import ClaimStatus
from claims.services import create_claim, update_claim
from workflow import selectors as inbox
from workflow.policy import resubmission_target
from workflow.services import LineDecisionInput, decide_task, submit_claim

from .api_support import decide, error, login, ok, only_task, submit, tasks
from .conftest import claim_data, line, resident_id

FIX_LINE_2_CERTIFICATE = {"lines": [2], "fields": ["certificate_number"]}


def open_task(claim):
    claim.refresh_from_db()
    return inbox.open_task_of_claim(claim)


def two_trainees(**line_2):
    """The seed's S3 class: two new certificates at 450 each (cap 500)."""
    return [line(resident_id(1), "张三"), line(resident_id(2), "李四", **{"certificate_number": "T-2026-0002", **line_2})]


def at_hr_review(demo, data=None):
    claim = create_claim(user=demo["provider_clerk"], data=data or claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve", comment="材料齐全")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    return claim


def returned_by(user, claim, *, fix=None, comment="第2行证书编号与扫描件不符"):
    decide_task(user=user, task_id=open_task(claim).pk, decision="return", comment=comment, fix=fix)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED
    return claim


def corrected_and_resubmitted(demo, claim, **data):
    update_claim(user=demo["provider_clerk"], claim=claim, data=data)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def resubmission_entry(claim):
    return [event for event in claim_history(claim=claim) if event.action == "claim.resubmitted"][-1]


# --- returned by HR -----------------------------------------------------------------------------


def test_switching_from_s3_to_s9_after_an_hr_return_goes_to_the_department(demo):
    """The reported case: HR returns an S3 claim of 900; the provider switches it to S9 (abroad
    training, 50,000 per person) with a new line and resubmits. Not HR's to see first: the
    department reviews it again, and finds it in its inbox."""
    claim = at_hr_review(demo)
    assert claim.total == Decimal("900.00")
    returned_by(demo["hr_reviewer"], claim)

    claim = corrected_and_resubmitted(
        demo, claim, policy="S9", lines=[line(resident_id(3), "王五", certificate_number="J-2026-0001", stated_cost="50000.00")]
    )
    assert claim.total == Decimal("50000.00")
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert not inbox.actionable_tasks(demo["hr_reviewer"]).exists()
    assert [task.process.claim for task in inbox.actionable_tasks(demo["dept_reviewer"])] == [claim]

    entry = resubmission_entry(claim)
    assert entry.detail["returned_from"] == "hr_review" and entry.detail["to_step"] == "department_review"
    assert {"field": "policy"} in entry.detail["outside_fix"]
    assert {"line": 2, "change": "removed"} in entry.detail["outside_fix"]

    # The same department reviewer acts again on the same step (one duty, N4), then HR.
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve", comment="已核实出境研修")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW


def test_hr_asked_to_fix_line_2s_certificate_number_and_only_that_was_fixed_goes_back_to_hr(demo):
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)

    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099"))
    assert claim.status == ClaimStatus.HR_REVIEW
    assert claim.total == Decimal("900.00")
    assert not inbox.actionable_tasks(demo["dept_reviewer"]).exists()
    entry = resubmission_entry(claim)
    assert entry.detail["fix"] == FIX_LINE_2_CERTIFICATE
    assert (entry.detail["to_step"], entry.detail["outside_fix"]) == ("hr_review", [])


def test_hr_asked_for_line_2s_certificate_number_but_the_amount_changed_too_goes_to_the_department(demo):
    """Line 2 fixed as asked, and its stated cost raised from 450 to 500: an amount change HR
    did not ask for."""
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)

    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099", stated_cost="500.00"))
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert claim.total == Decimal("950.00")
    assert resubmission_entry(claim).detail["outside_fix"] == [
        {"line": 2, "field": "stated_cost"},
        {"line": 2, "field": "amount"},
    ]


def test_hr_asked_for_line_2_but_a_line_was_added_goes_to_the_department(demo):
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)

    lines = [*two_trainees(certificate_number="T-2026-0099"), line(resident_id(3), "王五", certificate_number="T-2026-0003")]
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert resubmission_entry(claim).detail["outside_fix"] == [{"line": 3, "change": "added"}]


def test_hr_asked_for_line_2_but_line_1_was_changed_goes_to_the_department(demo):
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)

    lines = [line(resident_id(1), "张三", level="intermediate"), line(resident_id(2), "李四", certificate_number="T-2026-0099")]
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert {"line": 1, "field": "level"} in resubmission_entry(claim).detail["outside_fix"]


def test_hr_asked_to_fix_line_2_without_naming_a_field_but_another_person_is_put_on_it_goes_to_the_department(demo):
    """ "Line 2's scan is unreadable" lets the provider correct line 2, not put someone else on it
    (with a higher cost): another person is another line, the department's to review first."""
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix={"lines": [2]}, comment="第2行扫描件不清晰")

    lines = [line(resident_id(1), "张三"), line(resident_id(9), "丙", certificate_number="T-2026-0009", stated_cost="500.00")]
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert {"line": 2, "field": "id_number"} in resubmission_entry(claim).detail["outside_fix"]


def test_hr_who_names_line_2s_id_number_lets_the_provider_correct_it(demo):
    """A mistyped ID number, named by HR, is corrected within the fix: back to HR."""
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim, fix={"lines": [2], "fields": ["id_number", "name"]}, comment="第2行身份证号有误")

    corrected = [line(resident_id(1), "张三"), line(resident_id(9), "李四", certificate_number="T-2026-0002")]
    claim = corrected_and_resubmitted(demo, claim, lines=corrected)
    assert (claim.status, resubmission_entry(claim).detail["outside_fix"]) == (ClaimStatus.HR_REVIEW, [])


def test_a_line_the_department_rejected_and_sent_again_unchanged_stays_rejected_at_hr(demo):
    """Every edit writes the lines again: line 2, rejected by the department and re-sent as it
    was while line 1 was fixed as HR asked, once came back pending, and HR's plain approval
    paid it. It keeps the department's decision; HR approves only what is pending."""
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    rejected = [LineDecisionInput(line=2, decision="reject", reason="NOT_TRAINED")]
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve", line_decisions=rejected)
    returned_by(demo["hr_reviewer"], claim, fix={"lines": [1], "fields": ["certificate_number"]})

    corrected = [line(resident_id(1), "张三", certificate_number="T-2026-0099"), two_trainees()[1]]
    claim = corrected_and_resubmitted(demo, claim, lines=corrected)
    assert (claim.status, resubmission_entry(claim).detail["outside_fix"]) == (ClaimStatus.HR_REVIEW, [])
    decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="approve", comment="同意")
    claim.refresh_from_db()
    assert {x.line_no: (x.decision, x.decision_reason) for x in claim.lines.all()} == {
        1: ("approve", ""),
        2: ("reject", "NOT_TRAINED"),
    }
    assert claim.total == Decimal("450.00")


def test_a_line_changed_after_its_rejection_is_decided_anew(demo):
    """Sent again changed (another certificate), the rejected line is pending again, and the
    change HR did not ask for sends the claim to the department, which decides it."""
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    rejected = [LineDecisionInput(line=2, decision="reject", reason="DOCS")]
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve", line_decisions=rejected)
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)

    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099"))
    assert claim.status == ClaimStatus.HR_REVIEW  # the fix HR asked for
    assert claim.lines.get(line_no=2).decision == "pending"


def test_n2_counts_to_the_day_each_line_was_first_claimed(demo):
    """A claim submitted five months ago is returned by the department today. Line 1, sent again
    unchanged, keeps its claim date (its certificate, 14 months old now, was 9 months old then);
    line 2 now names another person whose certificate is 13 months old: it is claimed today,
    past N2's 12 months, and flagged (it was once measured from the first submission)."""
    today = datetime.date.today()
    months_ago = lambda n: (today - datetime.timedelta(days=round(30.5 * n))).isoformat()  # noqa: E731
    first = line(resident_id(1), "张三", certificate_date=months_ago(14))
    trained = {"training_start": months_ago(16), "training_end": months_ago(15)}
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[first, two_trainees()[1]], **trained))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=153)
    type(claim).objects.filter(pk=claim.pk).update(submitted_at=then)  # as if submitted five months ago
    claim.lines.update(claimed_on=then.date())
    returned_by(demo["dept_reviewer"], claim, comment="请核对第2行")

    replaced = line(resident_id(7), "赵六", certificate_number="T-2026-0077", certificate_date=months_ago(13))
    claim = corrected_and_resubmitted(demo, claim, lines=[first, replaced])
    lines = {x.line_no: x for x in claim.lines.all()}
    assert lines[1].claimed_on == then.date() and lines[2].claimed_on == today
    assert "N2" not in [flag["code"] for flag in lines[1].flags]
    assert "N2" in [flag["code"] for flag in lines[2].flags]


def test_a_training_date_hr_asked_to_fix_may_change_but_one_it_did_not_name_sends_the_claim_to_the_department(demo):
    claim = at_hr_review(demo)
    day = datetime.timedelta(days=1)
    returned_by(demo["hr_reviewer"], claim, fix={"fields": ["training_end"]}, comment="培训结束日期有误")
    claim = corrected_and_resubmitted(demo, claim, training_end=str(claim.training_end - day))
    assert claim.status == ClaimStatus.HR_REVIEW

    returned_by(demo["hr_reviewer"], claim, fix={"fields": ["training_end"]}, comment="培训结束日期仍有误")
    claim = corrected_and_resubmitted(demo, claim, training_start=str(claim.training_start - day))
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert resubmission_entry(claim).detail["outside_fix"] == [{"field": "training_start"}]


def test_a_return_that_names_nothing_goes_back_to_hr_for_corrections_that_raise_no_amount(demo):
    """Without a list, HR leaves the provider to correct the lines as they are; an amount
    raised is not such a correction."""
    claim = at_hr_review(demo)
    returned_by(demo["hr_reviewer"], claim)
    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099", stated_cost="300.00"))
    assert (claim.status, claim.total) == (ClaimStatus.HR_REVIEW, Decimal("750.00"))

    returned_by(demo["hr_reviewer"], claim)
    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099", stated_cost="500.00"))
    assert (claim.status, claim.total) == (ClaimStatus.DEPARTMENT_REVIEW, Decimal("950.00"))
    assert resubmission_entry(claim).detail["outside_fix"] == [{"line": 2, "field": "amount"}]


def test_a_claim_returned_by_the_department_goes_back_to_the_department(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    returned_by(demo["dept_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)
    claim = corrected_and_resubmitted(demo, claim, lines=two_trainees(certificate_number="T-2026-0099"))
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert resubmission_entry(claim).detail["to_step"] == "department_review"


# --- returned by the HR head --------------------------------------------------------------------


def at_hr_head(demo):
    """Three senior technicians abroad under S9: 3 × 50,000 = 150,000, over the seed's HR-head
    line of 100,000."""
    lines = [line(resident_id(n), f"学员{n}", certificate_number=f"J-2026-000{n}", stated_cost="50000.00") for n in (1, 2, 3)]
    claim = at_hr_review(demo, claim_data(policy="S9", class_name="金蓝领境外研修 2026", lines=lines))
    assert claim.total == Decimal("150000.00")
    decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_HEAD_APPROVAL
    return claim


def s9_lines(**line_2):
    return [
        line(
            resident_id(n),
            f"学员{n}",
            **{"certificate_number": f"J-2026-000{n}", "stated_cost": "50000.00", **(line_2 if n == 2 else {})},
        )
        for n in (1, 2, 3)
    ]


def test_hr_head_asked_to_fix_line_2s_certificate_number_and_only_that_was_fixed_goes_back_to_the_hr_head(demo):
    claim = at_hr_head(demo)
    returned_by(demo["hr_head"], claim, fix=FIX_LINE_2_CERTIFICATE)
    claim = corrected_and_resubmitted(demo, claim, lines=s9_lines(certificate_number="J-2026-0099"))
    assert claim.status == ClaimStatus.HR_HEAD_APPROVAL
    assert [task.process.claim for task in inbox.actionable_tasks(demo["hr_head"])] == [claim]


def test_hr_head_asked_for_line_2_but_line_3s_amount_changed_goes_to_the_department(demo):
    claim = at_hr_head(demo)
    returned_by(demo["hr_head"], claim, fix=FIX_LINE_2_CERTIFICATE)
    lines = s9_lines(certificate_number="J-2026-0099")
    lines[2]["stated_cost"] = "42000.00"
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert (claim.status, claim.total) == (ClaimStatus.DEPARTMENT_REVIEW, Decimal("142000.00"))
    entry = resubmission_entry(claim)
    assert (entry.detail["returned_from"], entry.detail["to_step"]) == ("hr_head_approval", "department_review")
    assert entry.detail["outside_fix"] == [{"line": 3, "field": "stated_cost"}, {"line": 3, "field": "amount"}]
    assert not inbox.actionable_tasks(demo["hr_head"]).exists()
    assert inbox.actionable_tasks(demo["dept_reviewer"]).count() == 1


# --- what a return may name ---------------------------------------------------------------------


def test_a_fix_naming_a_line_or_field_the_claim_does_not_have_is_refused_naming_it(demo):
    claim = at_hr_review(demo)
    with pytest.raises(InvalidInput) as refused:
        returned_by(demo["hr_reviewer"], claim, fix={"lines": [2, 7], "fields": ["certificate_number", "colour", "policy"]})
    assert set(refused.value.fields) == {"fix.lines[1]", "fix.fields[1]", "fix.fields[2]"}
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW


def test_a_fix_is_only_for_a_return(demo):
    claim = at_hr_review(demo)
    with pytest.raises(InvalidInput) as refused:
        decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="approve", fix=FIX_LINE_2_CERTIFICATE)
    assert set(refused.value.fields) == {"fix"}


def test_the_routing_is_a_plain_function_of_the_claim_as_returned_and_as_resubmitted():
    """policy.resubmission_target, on the claim's content (selectors.claim_content) as JSON."""
    before = {
        "department": "WL-YJJ",
        "policy": "S3",
        "class_name": "低压电工作业 2026 第1期",
        "training_start": "2026-01-05",
        "training_end": "2026-01-25",
        "lines": {"1": {"certificate_number": "T-2026-0001", "amount": "450.00"}},
    }
    fixed = {**before, "lines": {"1": {"certificate_number": "T-2026-0099", "amount": "450.00"}}}
    asked = {"lines": [1], "fields": ["certificate_number"]}
    assert resubmission_target("hr_review", asked, before, fixed) == "hr_review"
    assert resubmission_target("hr_head_approval", asked, before, fixed) == "hr_head_approval"
    assert resubmission_target("department_review", asked, before, fixed) == "department_review"
    assert resubmission_target("hr_review", asked, None, fixed) == "department_review"  # the claim as returned not kept
    assert resubmission_target("hr_review", asked, before, {**fixed, "policy": "S9"}) == "department_review"
    assert resubmission_target("hr_review", asked, before, before) == "hr_review"  # nothing changed


# --- through the API ----------------------------------------------------------------------------


def api_claim_at_hr(clerk):
    claim = ok(clerk.post("/api/v1/claims/", claim_data(), format="json"), 201)
    submit(clerk, claim["id"])
    dept = login("dept_reviewer")
    ok(decide(dept, only_task(dept)["id"], decision="approve"))
    return claim, dept, login("hr_reviewer")


def test_through_the_api_hr_names_what_to_fix_and_a_fix_within_it_comes_back_to_hr(demo):
    clerk = login("provider_clerk")
    claim, dept, hr = api_claim_at_hr(clerk)
    claim = ok(
        decide(hr, only_task(hr)["id"], decision="return", comment="第2行证书编号与扫描件不符", fix=FIX_LINE_2_CERTIFICATE)
    )
    assert claim["status"] == "returned"

    lines = [line(resident_id(1), "张三"), line(resident_id(2), "李四", certificate_number="T-2026-0099")]
    ok(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"lines": lines}, format="json"))
    claim = submit(clerk, claim["id"])
    assert (claim["status"], claim["step"]) == ("hr_review", "hr_review")
    assert tasks(dept) == []


def test_through_the_api_a_change_hr_did_not_ask_for_goes_to_the_department(demo):
    clerk = login("provider_clerk")
    claim, dept, hr = api_claim_at_hr(clerk)
    ok(decide(hr, only_task(hr)["id"], decision="return", comment="第2行证书编号与扫描件不符", fix=FIX_LINE_2_CERTIFICATE))

    lines = [line(resident_id(1), "张三"), line(resident_id(2), "李四", certificate_number="T-2026-0099", stated_cost="500.00")]
    ok(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"class_name": "低压电工作业 2026 第2期", "lines": lines}, format="json"))
    claim = submit(clerk, claim["id"])
    assert (claim["status"], claim["step"], claim["total"]) == ("department_review", "department_review", "950.00")
    assert tasks(hr) == []
    assert only_task(dept)["claim"] == claim["id"]


def test_through_the_api_a_wrong_fix_is_a_400_naming_the_entry(demo):
    clerk = login("provider_clerk")
    _claim, _dept, hr = api_claim_at_hr(clerk)
    refused = error(decide(hr, only_task(hr)["id"], decision="return", comment="请核对", fix={"lines": ["two"]}), 400)
    assert refused["fields"] == {"fix.lines[0]": ["须为行号。"]}
    assert only_task(hr)["step"] == "hr_review"


# --- through the pages --------------------------------------------------------------------------


def test_through_the_pages_hr_ticks_what_to_fix_and_the_department_reads_why_the_claim_came_back(demo):
    claim = at_hr_review(demo)
    hr, provider, dept = (Client() for _ in range(3))
    hr.force_login(demo["hr_reviewer"])
    provider.force_login(demo["provider_clerk"])
    dept.force_login(demo["dept_reviewer"])

    task_page = hr.get(reverse("approvals:task", args=[open_task(claim).pk])).content.decode()
    assert 'name="fix_lines"' in task_page and 'name="fix_fields"' in task_page
    response = hr.post(
        reverse("approvals:task_decide", args=[open_task(claim).pk]),
        {"decision": "return", "comment": "第2行证书编号与扫描件不符", "fix_lines": ["2"], "fix_fields": ["certificate_number"]},
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED
    page = provider.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert "要求修改：" in page and "第 2 行：证书编号" in page

    update_claim(
        user=demo["provider_clerk"],
        claim=claim,
        data={"lines": two_trainees(certificate_number="T-2026-0099", stated_cost="500.00")},
    )
    provider.post(reverse("approvals:claim_submit", args=[claim.pk]), {"confirm": "1"})
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW

    page = dept.get(reverse("approvals:task", args=[open_task(claim).pk])).content.decode()
    assert "修改超出了退回时要求修改的范围，因此重新交行业部门审核" in page
    assert "第 2 行实际培训费用；第 2 行补贴金额" in page


def test_through_the_pages_a_wrong_tick_is_shown_on_the_form(demo):
    claim = at_hr_review(demo)
    hr = Client()
    hr.force_login(demo["hr_reviewer"])
    response = hr.post(
        reverse("approvals:task_decide", args=[open_task(claim).pk]),
        {"decision": "approve", "fix_lines": ["2"]},
    )
    assert response.status_code == 400 and "只有退回修改时才能指明要修改的内容" in response.content.decode()
