"""Segregation of duties (STORIES 6; RULES N4, 财社〔2023〕181号 Art. 25): nobody acts on two
steps of one claim, even when they hold the roles and scopes of both steps."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from viewflow.workflow.status import STATUS

from audit.models import AuditEvent
from claims import roles
from claims.errors import ActionForbidden
from claims.models import ClaimStatus
from claims.organisation import ensure_staff_user
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim, take_task

from .conftest import DEMO_PASSWORD, claim_data, line, resident_id


def person_with(username, *group_names):
    """One person holding several role groups and scope groups at once."""
    user = ensure_staff_user(username=username, password=DEMO_PASSWORD, role=group_names[0], scope_group=None)
    user.groups.set(Group.objects.filter(name__in=group_names))
    assert set(user.groups.values_list("name", flat=True)) == set(group_names)
    return user


def open_task(claim):
    claim.refresh_from_db()
    return inbox.open_task_of_claim(claim)


def assert_segregation_refused(error, step_label):
    assert error.code == "segregation_of_duties"
    assert error.status == 403
    # The message names the rule the person runs into, and the step.
    assert "职责分离" in error.message
    assert "N4" in error.message and "第25条" in error.message
    assert step_label in error.message


@pytest.fixture
def claim(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    return claim


def test_department_reviewer_who_is_also_hr_reviewer_cannot_do_the_hr_review(demo, claim):
    both = person_with("dept_and_hr", roles.DEPARTMENT_REVIEWER, "department:WL-YJJ", roles.HR_REVIEWER, "jurisdiction:WL")
    review = inbox.actionable_tasks(both).get()
    decide_task(user=both, task_id=review.pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW

    hr_task = open_task(claim)
    # In her scope and of her role: the other HR reviewer has it, she does not.
    assert inbox.actionable_tasks(demo["hr_reviewer"]).filter(pk=hr_task.pk).exists()
    assert not inbox.actionable_tasks(both).filter(pk=hr_task.pk).exists()
    assert inbox.tasks_visible_to(both).filter(pk=hr_task.pk).exists()  # she may still read it

    events_before = AuditEvent.objects.count()
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=both, task_id=hr_task.pk, decision="approve")
    assert_segregation_refused(refused.value, "人社局审核")
    with pytest.raises(ActionForbidden) as refused_take:
        take_task(user=both, task_id=hr_task.pk)
    assert refused_take.value.code == "segregation_of_duties"

    hr_task.refresh_from_db()
    claim.refresh_from_db()
    assert (hr_task.status, hr_task.owner_id, claim.status) == (STATUS.NEW, None, ClaimStatus.HR_REVIEW)
    assert AuditEvent.objects.count() == events_before

    decide_task(user=demo["hr_reviewer"], task_id=hr_task.pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED


def test_hr_reviewer_who_is_also_finance_officer_cannot_pay_the_claim(demo, claim):
    both = person_with("hr_and_finance", roles.HR_REVIEWER, roles.FINANCE_OFFICER, "jurisdiction:WL")
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve")
    hr_task = open_task(claim)
    assert inbox.actionable_tasks(both).filter(pk=hr_task.pk).exists()
    decide_task(user=both, task_id=hr_task.pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED

    payment = open_task(claim)
    assert payment.flow_task.name == "disbursement"
    assert inbox.actionable_tasks(demo["finance_officer"]).filter(pk=payment.pk).exists()
    assert not inbox.actionable_tasks(both).exists()
    assert set(claim.lines.values_list("payment_status", flat=True)) == {"reserved"}


def test_hr_reviewer_who_is_also_hr_head_cannot_give_the_final_approval(demo):
    both = person_with("hr_and_head", roles.HR_REVIEWER, roles.HR_HEAD, "jurisdiction:WL")
    lines = [line(resident_id(n), f"学员{n}", certificate_number=f"C{n}", stated_cost=None) for n in range(1, 4)]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))
    claim.jurisdiction.hr_head_threshold = Decimal("1000.00")
    claim.jurisdiction.save()
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve")
    decide_task(user=both, task_id=open_task(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_HEAD_APPROVAL
    head_task = open_task(claim)
    assert not inbox.actionable_tasks(both).exists()
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=both, task_id=head_task.pk, decision="approve")
    assert_segregation_refused(refused.value, "人社局负责人审批")
    decide_task(user=demo["hr_head"], task_id=head_task.pk, decision="approve")


def test_the_clerk_who_submitted_cannot_review_even_with_the_reviewer_role(demo):
    clerk = person_with(
        "clerk_and_reviewer", roles.PROVIDER_CLERK, "provider:WL-P001", roles.DEPARTMENT_REVIEWER, "department:WL-YJJ"
    )
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)
    review = open_task(claim)
    assert inbox.actionable_tasks(demo["dept_reviewer"]).filter(pk=review.pk).exists()
    assert not inbox.actionable_tasks(clerk).exists()
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=clerk, task_id=review.pk, decision="approve")
    assert_segregation_refused(refused.value, "行业部门审核")


def test_same_reviewer_may_decide_the_same_step_again_after_resubmission(demo, claim):
    """Deciding the same step twice is one duty, not two: allowed."""
    both = person_with("dept_and_hr", roles.DEPARTMENT_REVIEWER, "department:WL-YJJ", roles.HR_REVIEWER, "jurisdiction:WL")
    decide_task(user=both, task_id=open_task(claim).pk, decision="return", comment="第1行证书编号不清")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW

    again = open_task(claim)
    assert inbox.actionable_tasks(both).filter(pk=again.pk).exists()
    decide_task(user=both, task_id=again.pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    # Still her department duty only: the HR step stays out of her reach.
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=both, task_id=open_task(claim).pk, decision="approve")
    assert refused.value.code == "segregation_of_duties"

    # And an HR reviewer who returned the claim decides it again after resubmission.
    hr = demo["hr_reviewer"]
    decide_task(user=hr, task_id=open_task(claim).pk, decision="return", comment="第2行需复核")
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    assert inbox.actionable_tasks(hr).filter(pk=open_task(claim).pk).exists()
    decide_task(user=hr, task_id=open_task(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
