"""The claim process has one home (workflow/): its step table titles the flow's nodes, its
decision policy answers viewflow's own permission questions the way it answers the services',
its process data are typed, and payments hand the claims they touched back to it to settle."""

import pytest
from viewflow.workflow.models import Task

from claims.errors import ActionForbidden
from claims.services import create_claim
from payments.services.results import apply_bank_result as payments_apply_bank_result
from workflow import policy
from workflow import selectors as inbox
from workflow.flows import ClaimFlow
from workflow.models import ClaimProcess
from workflow.services import decide_task, settle_claims, submit_claim
from workflow.steps import HR_STEPS, HUMAN_STEPS, REVIEW_STEPS, STEPS, Decision

from .conftest import claim_data
from .payments_support import approved_claim
from .test_payment_results import csv_file, released_batch, result_rows


def submitted(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def open_task(claim) -> Task:
    return inbox.open_task_of_claim(claim)


def test_every_human_node_of_the_flow_is_a_row_of_the_step_table_and_takes_its_title():
    for name in HUMAN_STEPS:
        node = getattr(ClaimFlow, name)
        assert node.task_title == STEPS[name].label
        assert node.task_description == STEPS[name].description
    assert set(REVIEW_STEPS) == {"department_review", "hr_review", "hr_head_approval"}
    assert set(HR_STEPS) == {"hr_review", "hr_head_approval"}
    assert ClaimFlow.process_class is ClaimProcess


def test_viewflow_asks_the_decision_policy_who_may_take_a_step(demo):
    claim = submitted(demo)
    task = open_task(claim)
    node = task.flow_task
    # The department's own reviewer, not another department's, not HR, not the provider.
    assert node.can_assign(demo["dept_reviewer"], task)
    for other in ("dept2_reviewer", "hr_reviewer", "provider_clerk", "finance_officer", "auditor"):
        assert not node.can_assign(demo[other], task), other
        assert policy.acting_refusal(user=demo[other], step_name=node.name, claim=claim, process_id=task.process_id)
    # Once the department approved, its reviewer may not act on the HR step even if made HR staff.
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve", comment="ok")
    claim.refresh_from_db()
    hr_task = open_task(claim)
    assert hr_task.flow_task.name == "hr_review"
    assert hr_task.flow_task.can_assign(demo["hr_reviewer"], hr_task)
    demo["dept_reviewer"].groups.add(*demo["hr_reviewer"].groups.all())  # the HR role and the jurisdiction
    refusal = policy.acting_refusal(user=demo["dept_reviewer"], step_name="hr_review", claim=claim, process_id=hr_task.process_id)
    assert isinstance(refusal, ActionForbidden) and refusal.code == "segregation_of_duties"
    assert not hr_task.flow_task.can_assign(demo["dept_reviewer"], hr_task)


def test_the_process_remembers_the_returning_step_in_typed_fields(demo):
    claim = submitted(demo)
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve", comment="ok")
    claim.refresh_from_db()
    decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="return", comment="补材料")
    process = ClaimProcess.objects.get(pk=claim.process_id)
    assert (process.last_decision, process.returned_from, process.needs_hr_head) == (Decision.RETURN, "hr_review", False)
    claim.refresh_from_db()
    submit_claim(user=demo["provider_clerk"], claim=claim)
    process.refresh_from_db()
    # Resubmitted: back to HR, which returned it; the returning step is kept on the process.
    assert (process.last_decision, process.returned_from) == (Decision.RESUBMIT, "hr_review")
    assert open_task(claim).flow_task.name == "hr_review"


def test_a_bank_result_applied_by_payments_alone_does_not_end_the_claim_the_workflow_settles_it(
    demo, django_capture_on_commit_callbacks, celery_eager
):
    claim = approved_claim(demo, serials=(1, 2))
    batch = released_batch(demo, django_capture_on_commit_callbacks, claims=[claim])
    claim.refresh_from_db()
    assert claim.status == "in_payment"
    paid = csv_file(result_rows(batch, {transfer.seq: "成功" for transfer in batch.transfers.all()}))

    summary = payments_apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=paid)
    claim.refresh_from_db()
    # Every line is paid, but the payment service only reports the claim: its process is still open.
    assert summary.claims_to_settle == [claim.pk]
    assert set(claim.lines.values_list("payment_status", flat=True)) == {"paid"}
    assert (claim.status, open_task(claim).flow_task.name) == ("in_payment", "disbursement")

    # The workflow settles what payments reported, in one transaction: the claim ends paid.
    assert settle_claims(actor=demo["finance_officer"], claim_ids=summary.claims_to_settle, detail={}) == 1
    claim.refresh_from_db()
    assert (claim.status, open_task(claim)) == ("paid", None)


@pytest.mark.parametrize("step_name", REVIEW_STEPS)
def test_each_review_step_takes_exactly_the_review_decisions(step_name):
    assert [str(decision) for decision in STEPS[step_name].decisions] == ["approve", "return", "reject"]


def test_the_provider_withdraws_a_returned_claim_and_its_process_is_cancelled(demo):
    from viewflow.workflow.status import PROCESS

    from claims.errors import InvalidInput, StepAlreadyTaken
    from workflow.services import withdraw_claim

    claim = submitted(demo)
    # Under review the claim is out of the provider's hands.
    with pytest.raises(ActionForbidden):
        withdraw_claim(user=demo["provider_clerk"], claim=claim, reason="写错了")
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="return", comment="补材料")
    claim.refresh_from_db()
    with pytest.raises(ActionForbidden):
        withdraw_claim(user=demo["provider2_clerk"], claim=claim, reason="不是我们的")
    with pytest.raises(InvalidInput) as missing:
        withdraw_claim(user=demo["provider_clerk"], claim=claim, reason="  ")
    assert list(missing.value.fields) == ["reason"]

    withdraw_claim(user=demo["provider_clerk"], claim=claim, reason="学员放弃申领")
    claim.refresh_from_db()
    process = ClaimProcess.objects.get(pk=claim.process_id)
    assert (claim.status, process.status, open_task(claim)) == ("withdrawn", PROCESS.CANCELED, None)
    with pytest.raises(StepAlreadyTaken):
        withdraw_claim(user=demo["provider_clerk"], claim=claim, reason="again")


def test_a_draft_is_withdrawn_without_a_process(demo):
    from workflow.services import withdraw_claim

    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    withdraw_claim(user=demo["provider_clerk"], claim=claim, reason="重复录入")
    claim.refresh_from_db()
    assert (claim.status, claim.process_id) == ("withdrawn", None)
