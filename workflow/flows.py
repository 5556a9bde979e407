"""The claim process, as the diagram reads: submit → department review → HR review →
(HR head above the threshold) → public notice (公示, where the jurisdiction has it) → disbursement → paid; a review may return the claim for
correction or reject it. A corrected claim goes back to the HR step that returned it when only
what that step asked to fix changed; otherwise (and always when the department returned it) to
the department's review (policy.resubmission_target).

What each step means (who, scope, duty, time limit, label) is the step table (steps.py);
who may act is the decision policy (policy.py); what acting does is services.py."""

from viewflow import this
from viewflow.workflow import flow

from .locks import ClaimFlowLock
from .models import ClaimProcess
from .policy import may_act
from .steps import STEPS, Decision
from .views import open_task_in_inbox


class HumanStep(flow.View):
    """A step done by a person from our inbox. Its title comes from the step table, and
    viewflow asks the decision policy whether a user may take or do it."""

    def __init__(self, step_name: str):
        super().__init__(open_task_in_inbox)
        step = STEPS[step_name]
        self.Annotation(title=step.label, description=step.description)

    def can_assign(self, user, task):
        return task.owner_id is None and may_act(user=user, task=task)

    def can_execute(self, user, task):
        return task.owner_id == getattr(user, "pk", None) and may_act(user=user, task=task)


def decided(value: str):
    def condition(activation):
        return activation.process.last_decision == value

    return condition


def resubmitted_to(step_name: str):
    def condition(activation):
        return activation.process.resubmit_to == step_name

    return condition


def needs_hr_head(activation):
    return activation.process.needs_hr_head is True


def needs_notice(activation):
    return activation.process.needs_notice is True


class ClaimFlow(flow.Flow):
    """Subsidy claim

    A provider's claim, reviewed by its sector department and the HR bureau, paid by finance.
    """

    process_class = ClaimProcess
    lock_impl = ClaimFlowLock()

    submit = flow.StartHandle(this.start_claim).Next(this.department_review)

    department_review = HumanStep("department_review").Next(this.after_department_review)
    after_department_review = (
        flow.Switch()
        .Case(this.correction, decided(Decision.RETURN))
        .Case(this.rejected, decided(Decision.REJECT))
        .Default(this.hr_review)
    )

    hr_review = HumanStep("hr_review").Next(this.after_hr_review)
    after_hr_review = (
        flow.Switch()
        .Case(this.correction, decided(Decision.RETURN))
        .Case(this.rejected, decided(Decision.REJECT))
        .Case(this.hr_head_approval, needs_hr_head)
        .Case(this.public_notice, needs_notice)
        .Default(this.disbursement)
    )

    hr_head_approval = HumanStep("hr_head_approval").Next(this.after_hr_head_approval)
    after_hr_head_approval = (
        flow.Switch()
        .Case(this.correction, decided(Decision.RETURN))
        .Case(this.rejected, decided(Decision.REJECT))
        .Case(this.public_notice, needs_notice)
        .Default(this.disbursement)
    )

    # 公示: completed by notice.close_notice when the period has ended with no objection open.
    public_notice = HumanStep("public_notice").Next(this.disbursement)

    # Returned for correction: the provider fixes and resubmits; back to the HR step that returned
    # it if only what it asked to fix changed, else to the department (ClaimProcess.resubmit_to).
    correction = HumanStep("correction").Next(this.back_to_returning_step)
    back_to_returning_step = (
        flow.Switch()
        .Case(this.hr_review, resubmitted_to("hr_review"))
        .Case(this.hr_head_approval, resubmitted_to("hr_head_approval"))
        .Default(this.department_review)
    )

    # Completed by services.settle_claims once every approved line is paid or finally not paid.
    disbursement = HumanStep("disbursement").Next(this.after_disbursement)
    after_disbursement = flow.Switch().Case(this.rejected, decided(Decision.NOTHING_PAID)).Default(this.paid)

    paid = flow.End()
    rejected = flow.End()

    def start_claim(self, activation, submitted_by):
        activation.task.owner = submitted_by
        return activation.process
