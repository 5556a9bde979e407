from viewflow import this
from viewflow.workflow import flow

from .locks import ClaimFlowLock
from .views import open_task_in_inbox


def decision_is(value):
    def condition(activation):
        return activation.process.data.get("last_decision") == value

    return condition


def returned_from(step_name):
    def condition(activation):
        return activation.process.data.get("returned_from") == step_name

    return condition


def needs_hr_head(activation):
    return activation.process.data.get("needs_hr_head") is True


class ClaimFlow(flow.Flow):
    """Subsidy claim

    A provider's claim, reviewed by its sector department and the HR bureau, paid by finance.
    """

    lock_impl = ClaimFlowLock()

    submit = flow.StartHandle(this.start_claim).Next(this.department_review)

    department_review = flow.View(open_task_in_inbox).Next(this.after_department_review)
    after_department_review = (
        flow.Switch()
        .Case(this.correction, decision_is("return"))
        .Case(this.rejected, decision_is("reject"))
        .Default(this.hr_review)
    )

    hr_review = flow.View(open_task_in_inbox).Next(this.after_hr_review)
    after_hr_review = (
        flow.Switch()
        .Case(this.correction, decision_is("return"))
        .Case(this.rejected, decision_is("reject"))
        .Case(this.hr_head_approval, needs_hr_head)
        .Default(this.disbursement)
    )

    hr_head_approval = flow.View(open_task_in_inbox).Next(this.after_hr_head_approval)
    after_hr_head_approval = (
        flow.Switch()
        .Case(this.correction, decision_is("return"))
        .Case(this.rejected, decision_is("reject"))
        .Default(this.disbursement)
    )

    # Returned for correction: the provider fixes and resubmits to the step that returned it.
    correction = flow.View(open_task_in_inbox).Next(this.back_to_returning_step)
    back_to_returning_step = (
        flow.Switch()
        .Case(this.department_review, returned_from("department_review"))
        .Case(this.hr_head_approval, returned_from("hr_head_approval"))
        .Default(this.hr_review)
    )

    # Completed by the payment services once every approved line is paid or finally not paid.
    disbursement = flow.View(open_task_in_inbox).Next(this.after_disbursement)
    after_disbursement = flow.Switch().Case(this.rejected, decision_is("nothing_paid")).Default(this.paid)

    paid = flow.End()
    rejected = flow.End()

    def start_claim(self, activation, submitted_by):
        activation.task.owner = submitted_by
        return activation.process
