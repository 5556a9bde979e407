"""What each human step of the claim flow means to the product: who acts, the claim
status while it is open, the duty it belongs to (segregation of duties), its time limit."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from claims import roles
from claims.models import ClaimStatus


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    role: str
    claim_status: str
    duty: str
    working_days: int


STEPS = {
    step.name: step
    for step in (
        Step("submit", _("提交申领"), roles.PROVIDER_CLERK, ClaimStatus.DEPARTMENT_REVIEW, "submission", 0),
        Step("correction", _("退回修改"), roles.PROVIDER_CLERK, ClaimStatus.RETURNED, "submission", 10),
        Step("department_review", _("行业部门审核"), roles.DEPARTMENT_REVIEWER, ClaimStatus.DEPARTMENT_REVIEW, "department_review", 10),
        Step("hr_review", _("人社局审核"), roles.HR_REVIEWER, ClaimStatus.HR_REVIEW, "hr_review", 10),
        Step("hr_head_approval", _("人社局负责人审批"), roles.HR_HEAD, ClaimStatus.HR_HEAD_APPROVAL, "hr_head_approval", 5),
        Step("disbursement", _("财政拨付"), roles.FINANCE_OFFICER, ClaimStatus.APPROVED, "disbursement", 15),
    )
}
REVIEW_STEPS = ("department_review", "hr_review", "hr_head_approval")
# End nodes of the flow and the claim status they leave.
END_STATUS = {"paid": ClaimStatus.PAID, "rejected": ClaimStatus.REJECTED}
