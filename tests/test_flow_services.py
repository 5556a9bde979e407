"""The claim's journey driven through the service layer (the API and pages call the same functions)."""

from decimal import Decimal

import pytest

from audit.selectors import claim_history, verify_chain
from claims.errors import StepAlreadyTaken
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import LineDecisionInput, decide_task, submit_claim, take_task

from .conftest import claim_data, line, resident_id


def only_task(user):
    tasks = list(inbox.actionable_tasks(user))
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_claim_travels_from_submission_to_payment(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    assert claim.status == "draft"
    assert claim.total == Decimal("900.00")  # S3 cap 500, stated 450 each

    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    assert claim.status == "department_review"

    task = only_task(demo["dept_reviewer"])
    assert not inbox.actionable_tasks(demo["dept2_reviewer"]).exists()
    take_task(user=demo["dept_reviewer"], task_id=task.pk)
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve", comment="材料齐全")
    claim.refresh_from_db()
    assert claim.status == "hr_review"

    hr_task = only_task(demo["hr_reviewer"])
    decide_task(
        user=demo["hr_reviewer"],
        task_id=hr_task.pk,
        decision="approve",
        line_decisions=[LineDecisionInput(line=2, decision="reject", reason="CERT_INVALID")],
    )
    claim.refresh_from_db()
    assert claim.status == "approved"
    assert claim.total == Decimal("450.00")

    # Final approval reserves the approved amount against the department's allocation.
    assert only_task(demo["finance_officer"]).flow_task.name == "disbursement"
    assert [(l.line_no, l.decision, l.payment_status) for l in claim.lines.all()] == [
        (1, "approve", "reserved"),
        (2, "reject", "unpaid"),
    ]
    actions = [event.action for event in claim_history(claim=claim)]
    assert actions == [
        "claim.created",
        "permission.granted",
        "permission.granted",
        "claim.submitted",
        "task.assigned",
        "claim.approved_step",
        "claim.approved_step",
        "allocation.reserved",
    ]
    assert verify_chain()["ok"] is True


def test_return_for_correction_goes_back_to_the_step_that_returned_it(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=only_task(demo["dept_reviewer"]).pk, decision="approve")
    decide_task(
        user=demo["hr_reviewer"], task_id=only_task(demo["hr_reviewer"]).pk, decision="return", comment="第2行证书编号不符"
    )
    claim.refresh_from_db()
    assert claim.status == "returned"
    assert not inbox.actionable_tasks(demo["hr_reviewer"]).exists()

    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    assert claim.status == "hr_review"
    assert only_task(demo["hr_reviewer"])


def test_rejection_ends_the_claim(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(
        user=demo["dept_reviewer"],
        task_id=only_task(demo["dept_reviewer"]).pk,
        decision="reject",
        reason="NOT_TRAINED",
        comment="未实际开班",
    )
    claim.refresh_from_db()
    assert claim.status == "rejected"
    assert set(claim.lines.values_list("decision", flat=True)) == {"reject"}


def test_a_step_decided_once_cannot_be_decided_again(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    task = only_task(demo["dept_reviewer"])
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve")
    with pytest.raises(StepAlreadyTaken):
        decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve")


def test_large_claim_needs_the_hr_head(demo):
    lines = [line(resident_id(n), f"学员{n}", certificate_number=f"C{n}", stated_cost=None) for n in range(1, 4)]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))
    claim.jurisdiction.hr_head_threshold = Decimal("1000.00")
    claim.jurisdiction.save()
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=only_task(demo["dept_reviewer"]).pk, decision="approve")
    decide_task(user=demo["hr_reviewer"], task_id=only_task(demo["hr_reviewer"]).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == "hr_head_approval"
    decide_task(user=demo["hr_head"], task_id=only_task(demo["hr_head"]).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == "approved"
