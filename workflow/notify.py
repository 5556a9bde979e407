"""Who is told what, and when: the workflow decides the recipients (the people the decision
policy lets act on a step, a claim's provider clerks, team leads); notifications/ stores the
in-app notification and puts its e-mail in the outbox, in the caller's transaction (nothing is
lost if Redis is down at commit; the outbox's sweep sends it later).

Each event has a key (``task:<id>``, ``claim:<id>:returned:<task>``…): writing it again tells
nobody twice. Messages are passed as functions that build them: notifications.services.notify
renders each in its recipient's language (the default, zh-hans), not the language of the person
whose action caused it."""

import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Task

from claims import roles
from claims.amounts import amount_text
from claims.dates import date_text, local_date
from claims.models import Claim, ClaimStatus, ClassStatus, TrainingClass
from notifications.models import Kind
from notifications.services import notify, settle_class_notifications

from . import policy
from .deadlines import Deadlines, DueState
from .steps import STEPS

# Rows read for reminders: due within this many calendar days; which of them are due soon (2
# working days, RULES N6) the calendar says. No holiday of China's calendar makes 2 working days
# span three weeks.
DEADLINE_HORIZON = datetime.timedelta(days=21)


def _claim_link(claim: Claim) -> str:
    return reverse("approvals:claim", args=[claim.pk])


def _task_link(task: Task) -> str:
    return reverse("approvals:task", args=[task.pk])


def people_for_task(task: Task, claim: Claim) -> list:
    """Who an open task reaches: its owner when someone holds it, else everyone who may take it
    (the step's role in its scope, without another duty on the claim), and their substitutes."""
    if task.owner_id is not None:
        people = [task.owner]
    else:
        people = list(policy.people_who_may_act(step_name=task.flow_task.name, claim=claim))
    return people + policy.substitutes_for(people, step_name=task.flow_task.name, claim=claim)


def notify_open_tasks(*, claim: Claim, task: Task | None) -> int:
    """The claim's open step (``task``, with its owner: sync_claim_status's) reached these people
    (in the caller's transaction)."""
    if task is None or task.flow_task.name == "correction":
        return 0  # a correction is the return's own notification (notify_decision)
    step = STEPS[task.flow_task.name]
    return notify(
        recipients=people_for_task(task, claim),
        kind=Kind.TASK,
        claim=claim,
        message=lambda: _("申领 %(number)s 待您处理：%(step)s") % {"number": claim.number, "step": step.label},
        key=f"task:{task.pk}",
        task_id=task.pk,
        link=_task_link(task),
    )


TASK_GIVEN = gettext_lazy("%(by)s 将申领 %(number)s 的“%(step)s”交给您办理")
TASK_RELEASED = gettext_lazy("%(by)s 将申领 %(number)s 的“%(step)s”退回队列，待您处理：%(reason)s")
TASK_TAKEN_AWAY = gettext_lazy("%(by)s 已将申领 %(number)s 的“%(step)s”改交 %(to)s 办理，无需您再处理：%(reason)s")


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _notify_lead_action(
    *, task: Task, claim: Claim, by, recipients, event: str, template, reason: str = "", to=None, kind=Kind.TASK
) -> int:
    """A team lead's action on a task (``event``: given, released, taken away), told to these
    people; a new event each time (a task may be given or released again)."""

    def message() -> str:
        return str(template) % {
            "by": _name(by),
            "number": claim.number,
            "step": STEPS[task.flow_task.name].label,
            "reason": reason,
            "to": _name(to) if to is not None else "",
        }

    return notify(
        recipients=recipients,
        kind=kind,
        claim=claim,
        message=message,
        key=f"task:{task.pk}:{event}:{timezone.now().timestamp():.6f}",
        task_id=task.pk,
        link=_task_link(task),
    )


def notify_task_given(*, task: Task, claim: Claim, to, by) -> int:
    """A team lead gave this task to a person: tell them."""
    return _notify_lead_action(task=task, claim=claim, by=by, recipients=[to], event="given", template=TASK_GIVEN)


def notify_task_taken_away(*, task: Task, claim: Claim, previous, to, by, reason: str) -> int:
    """A team lead gave a task someone held to another person: the one who held it is told why
    (it left their list); not a task of theirs any more, so nothing to settle later."""
    if previous is None or previous.pk == by.pk:
        return 0
    return _notify_lead_action(
        task=task,
        claim=claim,
        by=by,
        recipients=[previous],
        event="taken_away",
        template=TASK_TAKEN_AWAY,
        reason=reason,
        to=to,
        kind=Kind.TASK_REASSIGNED,
    )


def notify_task_released(*, task: Task, claim: Claim, by, reason: str) -> int:
    """A team lead put a taken task back in the queue: everyone who may take it (the lead aside)
    is asked again (what they were told when it opened was settled when it was taken)."""
    recipients = [person for person in people_for_task(task, claim) if person.pk != by.pk]
    return _notify_lead_action(
        task=task, claim=claim, by=by, recipients=recipients, event="released", template=TASK_RELEASED, reason=reason
    )


DECISION_KINDS = {
    ClaimStatus.RETURNED: (Kind.RETURNED, gettext_lazy("申领 %(number)s 被退回修改：%(comment)s")),
    ClaimStatus.REJECTED: (Kind.REJECTED, gettext_lazy("申领 %(number)s 不予补贴：%(comment)s")),
    ClaimStatus.APPROVED: (Kind.APPROVED, gettext_lazy("申领 %(number)s 已核准，核准金额 %(total)s 元")),
}


def notify_decision(*, claim: Claim, task: Task, status: str, comment: str = "") -> int:
    """A decision returned, rejected or finally approved the claim: its provider's clerks are told."""
    if status not in DECISION_KINDS:
        return 0
    kind, template = DECISION_KINDS[status]
    return notify(
        recipients=policy.provider_clerks(claim),
        kind=kind,
        claim=claim,
        message=lambda: str(template) % {"number": claim.number, "comment": comment, "total": amount_text(claim.total)},
        key=f"claim:{claim.pk}:{kind}:{task.pk}",
        task_id=task.pk,
        link=_claim_link(claim),
    )


def _class_link(training_class: TrainingClass) -> str:
    return reverse("approvals:class", args=[training_class.pk])


def notify_class_filed(*, training_class: TrainingClass) -> int:
    """A provider filed a class: its department's reviewers, who accept or refuse the filing
    before the class starts, are told."""
    department = training_class.department
    return notify(
        recipients=policy.staff_with_role(department.staff_group_id, roles.DEPARTMENT_REVIEWER),
        kind=Kind.CLASS_FILED,
        training_class=training_class,
        message=lambda: (
            _("%(provider)s 报备了班级 %(number)s（%(name)s），%(start)s 开班，待您确认备案")
            % {
                "provider": training_class.provider.name,
                "number": training_class.number,
                "name": training_class.name,
                "start": date_text(training_class.start),
            }
        ),
        key=f"class:{training_class.pk}:filed",
        link=_class_link(training_class),
    )


def notify_class_decided(*, training_class: TrainingClass) -> int:
    """The department accepted or refused a filing: the provider's clerks are told (a refusal with
    its reason), and the department's reviewers are no longer asked to decide it."""
    settle_class_notifications(training_class_id=training_class.pk)

    def message() -> str:
        values = {"number": training_class.number, "name": training_class.name, "reason": training_class.decision_reason}
        if training_class.status == ClassStatus.ACCEPTED:
            return _("班级 %(number)s（%(name)s）已备案") % values
        return _("班级 %(number)s（%(name)s）不予备案：%(reason)s") % values

    return notify(
        recipients=policy.staff_with_role(training_class.provider.staff_group_id, roles.PROVIDER_CLERK),
        kind=Kind.CLASS_DECIDED,
        training_class=training_class,
        message=message,
        key=f"class:{training_class.pk}:{training_class.status}",
        link=_class_link(training_class),
    )


def notify_paid(*, claim: Claim, paid) -> int:
    return notify(
        recipients=policy.provider_clerks(claim),
        kind=Kind.PAID,
        claim=claim,
        message=lambda: _("申领 %(number)s 已拨付 %(paid)s 元") % {"number": claim.number, "paid": paid},
        key=f"claim:{claim.pk}:paid",
        link=_claim_link(claim),
    )


def notify_payment_returned(*, claim: Claim, lines: list[int], batch_number: str) -> int:
    """The bank returned the payment of these lines: the provider's clerks check the payee's account."""
    lines = sorted(lines)
    return notify(
        recipients=policy.provider_clerks(claim),
        kind=Kind.PAYMENT_RETURNED,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 第 %(lines)s 行的拨付被银行退回（批次 %(batch)s），请核对收款账户")
            % {"number": claim.number, "lines": "、".join(str(n) for n in lines), "batch": batch_number}
        ),
        key=f"claim:{claim.pk}:payment_returned:{batch_number}:{','.join(str(n) for n in lines)}",
        link=_claim_link(claim),
    )


def notify_objection_filed(*, claim: Claim, objection_id: int, summary: str = "", task_id: int | None = None) -> int:
    """An objection to a line on public notice was filed (workflow/notice.py, in its transaction):
    the HR heads who may act on the claim's notice step, who decide objections, are told; once
    per objection (its key)."""
    return notify(
        recipients=list(policy.people_who_may_act(step_name="public_notice", claim=claim)),
        kind=Kind.OBJECTION,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 公示期间收到异议，请处理：%(summary)s") % {"number": claim.number, "summary": summary[:200]}
        ),
        key=f"objection:{objection_id}",
        link=_claim_link(claim),
        task_id=task_id,
    )


def notify_objection_upheld(*, claim: Claim, objection_id: int, line_no: int) -> int:
    """An objection was upheld (workflow/notice.py, in the decision's transaction): the line is
    not paid, and the provider's clerks are told; once per objection (its key)."""
    return notify(
        recipients=list(policy.provider_clerks(claim)),
        kind=Kind.REJECTED,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 第 %(line)d 行公示异议成立，该行不予补贴。") % {"number": claim.number, "line": line_no}
        ),
        key=f"objection_upheld:{objection_id}",
    )


def notify_withdrawn_by_deadline(*, claim: Claim, due) -> int:
    """A returned claim was withdrawn by the system at its correction deadline: its provider's clerks are told."""
    return notify(
        recipients=policy.provider_clerks(claim),
        kind=Kind.DEADLINE_PASSED,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 未在修改期限（%(due)s）内重新提交，已由系统自动撤回")
            % {"number": claim.number, "due": date_text(due)}
        ),
        key=f"claim:{claim.pk}:withdrawn_by_deadline",
        link=_claim_link(claim),
    )


def notify_escalated(*, task: Task, claim: Claim, leads: list, due) -> int:
    """An overdue review task was escalated: the team leads it went to are told."""
    step = STEPS[task.flow_task.name]
    return notify(
        recipients=leads,
        kind=Kind.TASK,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 的“%(step)s”逾期未办理（期限 %(due)s），已提交您督办")
            % {"number": claim.number, "step": step.label, "due": date_text(due)}
        ),
        key=f"task:{task.pk}:escalated",
        task_id=task.pk,
        link=_task_link(task),
    )


def notify_objection_overdue(*, claim: Claim, objection_id: int, receipt: str, due) -> int:
    """An objection was not decided by its deadline (workflow/notice.py's due job): the HR heads who
    decide it and the team leads of the HR bureau's steps are told; once per objection (its key)."""
    heads = list(policy.people_who_may_act(step_name="public_notice", claim=claim))
    leads = policy.team_leads_for(claim=claim, step_name="public_notice") + policy.team_leads_for(
        claim=claim, step_name="hr_review"
    )
    return notify(
        recipients=list({person.pk: person for person in heads + leads}.values()),
        kind=Kind.DEADLINE_PASSED,
        claim=claim,
        message=lambda: (
            _("申领 %(number)s 的公示异议 %(receipt)s 已超过处理期限（%(due)s）")
            % {"number": claim.number, "receipt": receipt, "due": date_text(due)}
        ),
        key=f"objection_overdue:{objection_id}",
        link=reverse("approvals:objections"),
    )


def notify_deadlines(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Tell the people on open tasks whose deadline is near (due soon: steps.DUE_SOON_WORKING_DAYS
    working days on the jurisdiction's calendar, deadlines.Deadlines.state) or passed; a passed one
    also the step's team leads (policy.team_leads_for). Once per task and kind (keys
    ``deadline_near:<task>``, ``deadline_passed:<task>``), however often it runs."""
    from .models import InboxItem

    now = now or timezone.now()
    deadlines = Deadlines()
    horizon = local_date(now) + DEADLINE_HORIZON
    counts = {"near": 0, "passed": 0}
    rows = InboxItem.objects.filter(due__lte=horizon).select_related("task__owner", "claim__provider", "claim__department")
    for item in rows.order_by("due", "task_id").iterator(chunk_size=500):
        state = deadlines.state(item.due, item.jurisdiction_id, now=now)
        if state == DueState.ON_TIME:
            continue
        task, claim = item.task, item.claim
        values = {"number": claim.number, "step": STEPS[item.step], "due": item.due}
        people = people_for_task(task, claim)
        if state == DueState.OVERDUE:
            counts["passed"] += notify(
                recipients=people + policy.team_leads_for(claim=claim, step_name=item.step),
                kind=Kind.DEADLINE_PASSED,
                claim=claim,
                message=lambda values=values: (
                    _("申领 %(number)s 的“%(step)s”已超过办理期限（%(due)s）")
                    % {**values, "step": values["step"].label, "due": date_text(values["due"])}
                ),
                key=f"deadline_passed:{task.pk}",
                task_id=task.pk,
                link=_task_link(task),
            )
        else:
            counts["near"] += notify(
                recipients=people,
                kind=Kind.DEADLINE_NEAR,
                claim=claim,
                message=lambda values=values: (
                    _("申领 %(number)s 的“%(step)s”将于 %(due)s 到期")
                    % {**values, "step": values["step"].label, "due": date_text(values["due"])}
                ),
                key=f"deadline_near:{task.pk}",
                task_id=task.pk,
                link=_task_link(task),
            )
    return counts


def deadline_reminders(now: datetime.datetime) -> int:
    """The due-job registry's entry (workflow/apps.py): notifications written at ``now``."""
    return sum(notify_deadlines(now=now).values())
