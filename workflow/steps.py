"""The step table: what each human step of the claim flow means to the product.

One row per step, read by the flow (node titles and who may act), the decision policy
(role, scope, duty, which decisions a step takes), the inbox and the API (labels, due dates)
and the claim's status. Add a step here and in ``flows.py``; nothing else lists them."""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from claims import roles
from claims.models import ClaimStatus


class Scope(models.TextChoices):
    """Whose claims a step's actor must hold in scope to act (not just to see)."""

    PROVIDER = "provider", _("本机构的申领")
    DEPARTMENT = "department", _("本部门的申领")
    JURISDICTION = "jurisdiction", _("本地区的申领")


class Decision(models.TextChoices):
    """What a person decides at a step; the flow's switches route on it (ClaimProcess.last_decision)."""

    APPROVE = "approve", _("同意")
    RETURN = "return", _("退回修改")
    REJECT = "reject", _("不予补贴")
    RESUBMIT = "resubmit", _("重新提交")
    PAID = "paid", _("已拨付")
    NOTHING_PAID = "nothing_paid", _("无可拨付")


REVIEW_DECISIONS = (Decision.APPROVE, Decision.RETURN, Decision.REJECT)


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    description: str
    role: str
    scope: str
    # The claim's status while this step is open.
    claim_status: str
    # Segregation of duties (RULES N4): one person holds one duty per claim.
    duty: str
    # Time limit in working days (RULES N5); 0: none.
    working_days: int
    # The decisions a person takes here; empty: the step is completed by its own service.
    decisions: tuple = ()
    # HR steps: may override a flag in writing (RULES N6), and may not approve a flagged line.
    hr_step: bool = False


STEPS = {
    step.name: step
    for step in (
        Step(
            "submit",
            _("提交申领"),
            _("培训机构提交申领。"),
            roles.PROVIDER_CLERK,
            Scope.PROVIDER,
            ClaimStatus.DEPARTMENT_REVIEW,
            "submission",
            0,
        ),
        Step(
            "correction",
            _("退回修改"),
            _("培训机构按退回意见修改后重新提交。"),
            roles.PROVIDER_CLERK,
            Scope.PROVIDER,
            ClaimStatus.RETURNED,
            "submission",
            10,
        ),
        Step(
            "department_review",
            _("行业部门审核"),
            _("行业主管部门初审：逐行核对学员、证书与培训。"),
            roles.DEPARTMENT_REVIEWER,
            Scope.DEPARTMENT,
            ClaimStatus.DEPARTMENT_REVIEW,
            "department_review",
            10,
            decisions=REVIEW_DECISIONS,
        ),
        Step(
            "hr_review",
            _("人社局审核"),
            _("人社局复审：预警须驳回或书面豁免。"),
            roles.HR_REVIEWER,
            Scope.JURISDICTION,
            ClaimStatus.HR_REVIEW,
            "hr_review",
            10,
            decisions=REVIEW_DECISIONS,
            hr_step=True,
        ),
        Step(
            "hr_head_approval",
            _("人社局负责人审批"),
            _("金额超过审批线的申领由人社局负责人审批。"),
            roles.HR_HEAD,
            Scope.JURISDICTION,
            ClaimStatus.HR_HEAD_APPROVAL,
            "hr_head_approval",
            5,
            decisions=REVIEW_DECISIONS,
            hr_step=True,
        ),
        # 公示 (RULES N5): no one decides it; the period's end moves the claim on by itself
        # (notice.close_due_notices, a due job); the HR head decides objections filed meanwhile.
        Step(
            "public_notice",
            _("公示"),
            _("核准名单公示，期间任何人可提出异议；期满且无待处理异议后转财政拨付。"),
            roles.HR_HEAD,
            Scope.JURISDICTION,
            ClaimStatus.PUBLIC_NOTICE,
            # The HR head who approved the claim may decide its objections: the same duty.
            "hr_head_approval",
            5,
        ),
        Step(
            "disbursement",
            _("财政拨付"),
            _("财政部门编批次拨付；每一核准行支付完毕或确定不予拨付后结束。"),
            roles.FINANCE_OFFICER,
            Scope.JURISDICTION,
            ClaimStatus.APPROVED,
            "disbursement",
            15,
        ),
    )
}
# Steps a person completes from the inbox (every step but the start).
HUMAN_STEPS = tuple(name for name in STEPS if name != "submit")
REVIEW_STEPS = tuple(name for name, step in STEPS.items() if step.decisions)
HR_STEPS = tuple(name for name, step in STEPS.items() if step.hr_step)
# End nodes of the flow and the claim status they leave.
END_STATUS = {"paid": ClaimStatus.PAID, "rejected": ClaimStatus.REJECTED}


@dataclass(frozen=True)
class DeadlineKind:
    """A time limit the policy sets, in working days (deadlines.py counts them on the
    jurisdiction's calendar; an administrator may set another per jurisdiction: StepDeadline)."""

    name: str
    label: str
    # The policy's default, used when no StepDeadline row says otherwise.
    working_days: int
    # Where the number comes from (docs/rules.md, "N5, N6 — Time limits"); empty: our choice.
    source: str


def _step_deadline(name: str, source: str) -> DeadlineKind:
    return DeadlineKind(name, STEPS[name].label, STEPS[name].working_days, source)


# Every time limit: the flow's human steps (same name as the step, default from the step table)
# (the public notice's period is its step's) and the objection's handling. RULES N5, N6.
DEADLINE_KINDS = {
    kind.name: kind
    for kind in (
        _step_deadline("department_review", "N6"),
        _step_deadline("hr_review", "N6"),
        _step_deadline("hr_head_approval", "N6"),
        _step_deadline("correction", "STORIES 2"),
        _step_deadline("public_notice", "N5"),
        DeadlineKind("objection", _("异议处理"), 5, "N5"),
        _step_deadline("disbursement", ""),
    )
}
# A task is due soon from this many working days before its due date (the inbox marks it).
DUE_SOON_WORKING_DAYS = 2
