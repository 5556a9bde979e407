"""The decisions on a claim. Pages, the API and Celery all act through these functions:
each drives viewflow's activation under the flow's lock, in one transaction with its audit events."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from audit.services import record_event
from claims import roles
from claims.eligibility import active_flags, check_claim
from claims.errors import ActionForbidden, InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import IN_PAYMENT_LINE_STATES, SETTLED_LINE_STATES, Claim, ClaimLine, ClaimStatus, FlagOverride, LineDecision, PaymentStatus
from claims.selectors import get_claim_for_user, jurisdictions_overseen_by, user_may_edit_claim
from claims.services import line_summary, recompute_total, refresh_flags
from notifications.services import notify_open_tasks
from payments.services.funds import reserve_approved_lines
from workflow.flows import ClaimFlow
from workflow.steps import END_STATUS, REVIEW_STEPS, STEPS

from claims.reasons import REASONS
from .selectors import duties_done_by, get_task_for_user, node, open_task_of_claim, user_in_step_scope

DECISIONS = ("approve", "return", "reject")
# The HR steps: an approval there may not pass a line with an active flag, and HR may override flags.
HR_STEPS = ("hr_review", "hr_head_approval")
OVERRIDE_ROLES = (roles.HR_REVIEWER, roles.HR_HEAD)


@dataclass(frozen=True)
class LineDecisionInput:
    line: int
    decision: str
    reason: str = ""


def _check_may_act(*, user, task: Task, claim: Claim) -> None:
    step = STEPS[task.flow_task.name]
    if not roles.has_role(user, step.role) or not user_in_step_scope(user=user, step_name=step.name, claim=claim):
        raise ActionForbidden(_("您的角色不能处理“%(step)s”步骤。") % {"step": step.label}, code="role")
    other_duties = duties_done_by(user=user, process_id=task.process_id) - {step.duty}
    if other_duties:
        raise ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能再处理“%(step)s”（N4，财社〔2023〕181号第25条）。") % {"step": step.label},
            code="segregation_of_duties",
        )


def _claim_task(*, user, task: Task) -> Task:
    """Take the task for this user with a conditional UPDATE: of two people acting at once,
    exactly one changes the row; the other is told the step is taken (also on SQLite)."""
    now = timezone.now()
    taken = (
        Task.objects.filter(pk=task.pk, status__in=(STATUS.NEW, STATUS.ASSIGNED))
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .update(status=STATUS.STARTED, owner=user, started=now, assigned=task.assigned or now)
    )
    if not taken:
        raise StepAlreadyTaken(_("该步骤已由他人处理或领取。"))
    task.refresh_from_db()
    return task




def sync_claim_status(claim: Claim) -> str:
    """The claim's status mirrors where its process stands (and, awaiting payment, its lines)."""
    open_task = open_task_of_claim(claim)
    if open_task is not None:
        status = STEPS[open_task.flow_task.name].claim_status
        if status == ClaimStatus.APPROVED and claim.lines.filter(payment_status__in=IN_PAYMENT_LINE_STATES).exists():
            status = ClaimStatus.IN_PAYMENT
    else:
        finished = Task.objects.filter(process_id=claim.process_id, flow_task__in=[node(n) for n in END_STATUS]).first()
        status = END_STATUS[finished.flow_task.name]
    claim.status = status
    claim.save(update_fields=["status"])
    return status


def _execute(task: Task, **process_data) -> None:
    process = task.process
    process.data = {**process.data, **process_data}
    process.save(update_fields=["data"])
    task.process = process
    activation = task.flow_task.activation_class(task)
    activation.execute()


def _own_claim_submitted_meanwhile(*, user, claim: Claim) -> bool:
    """A double click or a second tab: the clerk's own claim left draft/returned while they waited
    for its row lock. That is a step already taken (409), not a forbidden action (403)."""
    return (
        claim.status not in (ClaimStatus.DRAFT, ClaimStatus.RETURNED)
        and roles.has_role(user, roles.PROVIDER_CLERK)
        and user.has_perm("claims.change_claim", claim)
    )


@transaction.atomic
def submit_claim(*, user, claim: Claim) -> Claim:
    """Submit a draft (starts the flow) or resubmit a returned claim (to the step that returned it)."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    if not user_may_edit_claim(user=user, claim=claim):
        if _own_claim_submitted_meanwhile(user=user, claim=claim):
            raise StepAlreadyTaken(_("该申领已提交。"))
        raise ActionForbidden(_("只有本机构经办人可以提交草稿或退回修改的申领。"))
    if claim.status == ClaimStatus.RETURNED:
        return _resubmit(user=user, claim=claim)
    # Conditional update: a double click submits once.
    if not Claim.objects.filter(pk=claim.pk, status=ClaimStatus.DRAFT).update(status=ClaimStatus.DEPARTMENT_REVIEW):
        raise StepAlreadyTaken(_("该申领已提交。"))
    claim.status = ClaimStatus.DEPARTMENT_REVIEW
    claim.submitted_at = timezone.now()
    lines_before, total_before = _line_states(claim), claim.total
    # The eligibility rules as of the submission date, under a lock on the claim's people.
    refresh_flags(claim=claim)
    process = ClaimFlow.submit.run(submitted_by=user)
    claim.process = process
    claim.save(update_fields=["process", "submitted_at"])
    status = sync_claim_status(claim)
    group = claim.department.staff_group
    if group is not None:
        assign_perm("claims.view_claim", group, claim)
        assign_perm("claims.review_claim", group, claim)
        record_event(actor=user, action="permission.granted", obj=claim, claim=claim,
                     detail={"group": group.name, "perms": ["view_claim", "review_claim"]})
    record_event(actor=user, action="claim.submitted", obj=claim, claim=claim, from_state=ClaimStatus.DRAFT,
                 to_state=status, detail={"total": claim.total, "total_before": total_before, "lines": line_summary(claim),
                                          "line_changes": _line_changes(lines_before, claim)})
    notify_open_tasks(claim=claim)
    return claim


def _resubmit(*, user, claim: Claim) -> Claim:
    task = open_task_of_claim(claim)
    with ClaimFlow.lock(claim.process_id):
        _check_may_act(user=user, task=task, claim=claim)
        task = _claim_task(user=user, task=task)
        lines_before, total_before = _line_states(claim), claim.total
        refresh_flags(claim=claim)
        _execute(task, last_decision="resubmit")
        status = sync_claim_status(claim)
        record_event(actor=user, action="claim.resubmitted", obj=claim, claim=claim, from_state=ClaimStatus.RETURNED,
                     to_state=status, detail={"task": task.pk, "total": claim.total, "total_before": total_before,
                             "lines": line_summary(claim), "line_changes": _line_changes(lines_before, claim)})
    notify_open_tasks(claim=claim)
    return claim


@transaction.atomic
def take_task(*, user, task_id) -> Task:
    """Assign an open task to oneself, so the team sees who is on it."""
    task = get_task_for_user(user=user, task_id=task_id)
    with ClaimFlow.lock(task.process_id):
        task.refresh_from_db()
        claim = task.process.claim
        _check_may_act(user=user, task=task, claim=claim)
        if not Task.objects.filter(pk=task.pk, status=STATUS.NEW, owner__isnull=True).update(
            status=STATUS.ASSIGNED, owner=user, assigned=timezone.now()
        ):
            raise StepAlreadyTaken(_("该任务已被领取或已处理。"))
        task.refresh_from_db()
        record_event(actor=user, action="task.assigned", obj=claim, claim=claim, from_state=claim.status,
                     to_state=claim.status, detail={"task": task.pk, "step": task.flow_task.name})
    return task


def _line_states(claim: Claim) -> dict[int, dict]:
    """What a step may change on each line: decision, its reason, flags, amount, payment status."""
    return {
        row["line_no"]: {"decision": row["decision"], "decision_reason": row["decision_reason"],
                         "flags": [flag.get("code") for flag in row["flags"]], "amount": row["amount"],
                         "payment_status": row["payment_status"]}
        for row in claim.lines.values("line_no", "decision", "decision_reason", "flags", "amount", "payment_status")
    }


def _line_changes(before: dict[int, dict], claim: Claim) -> list[dict]:
    """Before and after of the changed fields of each line that changed since ``before``."""
    changes = []
    for line_no, now in sorted(_line_states(claim).items()):
        was = before.get(line_no, {})
        changed = [name for name in now if was.get(name) != now[name]]
        if changed:
            changes.append({"line": line_no, "before": {name: was.get(name) for name in changed},
                            "after": {name: now[name] for name in changed}})
    return changes


def _parse_decision(*, decision: str, comment: str, reason: str, line_decisions, claim: Claim) -> dict[int, LineDecisionInput]:
    errors: dict[str, list[str]] = {}
    if decision not in DECISIONS:
        errors["decision"] = [_("须为 approve、return 或 reject。")]
    if decision in ("return", "reject") and not (comment or "").strip():
        errors["comment"] = [_("退回或不予补贴时须填写意见。")]
    if decision == "reject" and reason not in REASONS:
        errors["reason"] = [_("不予补贴须选择理由代码：%(codes)s。") % {"codes": ", ".join(REASONS)}]
    line_numbers = set(claim.lines.values_list("line_no", flat=True))
    by_line: dict[int, LineDecisionInput] = {}
    for index, item in enumerate(line_decisions or []):
        path = f"lines[{index}]"
        if item.line not in line_numbers:
            errors.setdefault(f"{path}.line", []).append(_("本申领没有第 %(n)s 行。") % {"n": item.line})
        if item.line in by_line:
            errors.setdefault(f"{path}.line", []).append(_("同一行只能有一个决定。"))
        if item.decision not in (LineDecision.APPROVE, LineDecision.REJECT):
            errors.setdefault(f"{path}.decision", []).append(_("须为 approve 或 reject。"))
        if item.decision == LineDecision.REJECT and item.reason not in REASONS:
            errors.setdefault(f"{path}.reason", []).append(_("驳回某行须选择理由代码。"))
        by_line[item.line] = item
    if errors:
        raise InvalidInput(_("审核意见有误。"), fields=errors)
    return by_line


def _apply_line_decisions(*, claim: Claim, decision: str, reason: str, by_line: dict[int, LineDecisionInput]) -> None:
    lines = list(claim.lines.all())
    for line in lines:
        if decision == "reject":
            line.decision, line.decision_reason = LineDecision.REJECT, reason
        elif line.line_no in by_line:
            chosen = by_line[line.line_no]
            line.decision = chosen.decision
            line.decision_reason = chosen.reason if chosen.decision == LineDecision.REJECT else ""
        elif line.decision == LineDecision.PENDING:
            line.decision = LineDecision.APPROVE
    if decision == "approve" and not any(line.decision == LineDecision.APPROVE for line in lines):
        raise InvalidInput(_("所有行均被驳回：请选择“不予补贴”。"), fields={"lines": [_("至少须同意一行。")]})
    type(lines[0]).objects.bulk_update(lines, ["decision", "decision_reason"])


class ActiveFlagsRefused(InvalidInput):
    """An approval at an HR step would approve lines that still carry a flag (400)."""

    code = "active_flags"

    def __init__(self, message: str, *, fields: dict, claim_id: int):
        super().__init__(message, fields=fields)
        self.claim_id = claim_id


def _refuse_active_flags(*, claim: Claim, step_name: str) -> None:
    """At the HR steps no line may be approved with an active flag: the reviewer rejects the line
    with the flag's code, or overrides the flag with a written reason. (The department step may
    pass flagged lines on: the HR bureau decides them.)"""
    if step_name not in HR_STEPS:
        return
    overridden: dict[int, set[str]] = {}
    for line_id, code in FlagOverride.objects.filter(line__claim=claim).values_list("line_id", "code"):
        overridden.setdefault(line_id, set()).add(code)
    blocked = []
    for line in claim.lines.filter(decision=LineDecision.APPROVE).exclude(flags=[]).order_by("line_no"):
        codes = [flag["code"] for flag in active_flags(line.flags, overridden.get(line.pk, ()))]
        if codes:
            blocked.append(_("第 %(n)d 行（%(codes)s）") % {"n": line.line_no, "codes": "、".join(codes)})
    if blocked:
        raise ActiveFlagsRefused(
            _("有预警的行不能同意：%(lines)s。请以预警代码驳回该行，或豁免该预警（须写明理由）。") % {"lines": "；".join(blocked)},
            fields={"lines": blocked},
            claim_id=claim.pk,
        )


def decide_task(*, user, task_id, decision: str, comment: str = "", reason: str = "", line_decisions=()) -> Claim:
    """Approve (wholly or in part, by line), return for correction, or reject, at a review step.

    The eligibility rules run again first (another claim may have used the person's quota
    meanwhile). When an HR approval is refused for lines with active flags, the decision is
    rolled back but the re-checked flags are kept, so the reviewer sees what stopped it."""
    try:
        return _decide_task(user=user, task_id=task_id, decision=decision, comment=comment, reason=reason, line_decisions=line_decisions)
    except ActiveFlagsRefused as refusal:
        _keep_rechecked_flags(user=user, claim_id=refusal.claim_id)
        raise


@transaction.atomic
def _keep_rechecked_flags(*, user, claim_id: int) -> None:
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    lines_before = _line_states(claim)
    changed = check_claim(claim=claim)
    if changed:
        record_event(actor=user, action="claim.flags_rechecked", obj=claim, claim=claim, from_state=claim.status,
                     to_state=claim.status, detail={"lines": [{"line": line.line_no, "flags": [flag["code"] for flag in line.flags]}
                                                              for line in changed],
                                                   "line_changes": _line_changes(lines_before, claim)})


@transaction.atomic
def _decide_task(*, user, task_id, decision: str, comment: str, reason: str, line_decisions) -> Claim:
    task = get_task_for_user(user=user, task_id=task_id)
    with ClaimFlow.lock(task.process_id):
        task.refresh_from_db()
        step_name = task.flow_task.name
        if step_name not in REVIEW_STEPS:
            raise ActionForbidden(_("此步骤不是审核步骤。"), code="role")
        # Before locking the claim: a resubmission locks the claim, then the process.
        if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
            raise StepAlreadyTaken(_("该步骤已处理。"))
        claim = Claim.objects.select_for_update().get(pk=task.process.claim.pk)
        _check_may_act(user=user, task=task, claim=claim)
        by_line = _parse_decision(decision=decision, comment=comment, reason=reason, line_decisions=line_decisions, claim=claim)
        task = _claim_task(user=user, task=task)
        from_state = claim.status
        lines_before, total_before = _line_states(claim), claim.total
        # The rules again, under a lock on the claim's people, before the decision.
        refresh_flags(claim=claim)
        if decision != "return":
            _apply_line_decisions(claim=claim, decision=decision, reason=reason, by_line=by_line)
        if decision == "approve":
            _refuse_active_flags(claim=claim, step_name=step_name)
        recompute_total(claim=claim)
        needs_hr_head = step_name == "hr_review" and claim.total > claim.jurisdiction.hr_head_threshold
        _execute(task, last_decision=decision, returned_from=step_name if decision == "return" else None, needs_hr_head=needs_hr_head)
        status = sync_claim_status(claim)
        action = {"approve": "claim.approved_step", "return": "claim.returned", "reject": "claim.rejected"}[decision]
        record_event(
            actor=user,
            action=action,
            obj=claim,
            claim=claim,
            from_state=from_state,
            to_state=status,
            reason=comment,
            detail={
                "task": task.pk,
                "step": step_name,
                "decision": decision,
                "reason_code": reason,
                "line_decisions": [
                    {"line": item.line, "decision": item.decision, "reason": item.reason} for item in by_line.values()
                ],
                "total": claim.total,
                "total_before": total_before,
                "lines": line_summary(claim),
                "line_changes": _line_changes(lines_before, claim),
            },
        )
        if status == ClaimStatus.APPROVED:
            # Final approval: the approved amount is reserved against the department's allocation, or refused.
            reserve_approved_lines(actor=user, claim=claim)
    notify_open_tasks(claim=claim)
    return claim


def _override_refusal(*, user, claim: Claim) -> ActionForbidden | None:
    """Why this user may not override flags on this claim now, or None if they may: an HR
    reviewer or HR head of the claim's jurisdiction, at an HR step, who has not acted on
    another step of the claim (segregation of duties)."""
    if not any(roles.has_role(user, role) for role in OVERRIDE_ROLES):
        return ActionForbidden(_("只有人社局审核人或负责人可以豁免预警。"), code="role")
    if not jurisdictions_overseen_by(user).filter(pk=claim.jurisdiction_id).exists():
        return ActionForbidden(_("只有本地区人社局审核人或负责人可以豁免预警。"), code="role")
    if claim.status not in (ClaimStatus.HR_REVIEW, ClaimStatus.HR_HEAD_APPROVAL):
        return ActionForbidden(_("只有在人社局审核或负责人审批环节才能豁免预警。"), code="step")
    other_duties = duties_done_by(user=user, process_id=claim.process_id) - set(HR_STEPS)
    if other_duties:
        return ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能豁免预警（N4，财社〔2023〕181号第25条）。"), code="segregation_of_duties"
        )
    return None


def may_override_flags(*, user, claim: Claim) -> bool:
    """Whether the pages should offer this user the override forms on this claim."""
    return _override_refusal(user=user, claim=claim) is None


@transaction.atomic
def override_flag(*, user, line_id: int, code: str, reason: str) -> FlagOverride:
    """An HR reviewer (or the HR head) decides, with a written reason, that a flag does not stop
    the line: the approval may then pass it. Kept across re-checks; recorded in the ledger."""
    line = ClaimLine.objects.filter(pk=line_id).values("claim_id").first()
    if line is None:
        raise NotInScope("Not found.")
    get_claim_for_user(user=user, claim_id=line["claim_id"])  # 404 outside the user's scope
    claim = Claim.objects.select_for_update().get(pk=line["claim_id"])
    refusal = _override_refusal(user=user, claim=claim)
    if refusal is not None:
        raise refusal
    line = ClaimLine.objects.get(pk=line_id)
    code = (code or "").strip()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    flag = next((flag for flag in line.flags if flag.get("code") == code), None)
    if flag is None:
        errors["code"] = [_("第 %(n)d 行没有预警 %(code)s。") % {"n": line.line_no, "code": code or "—"}]
    if not reason:
        errors["reason"] = [_("豁免预警须写明理由。")]
    if errors:
        raise InvalidInput(_("豁免预警的信息有误。"), fields=errors)
    if FlagOverride.objects.filter(line=line, code=code).exists():
        raise StepAlreadyTaken(_("第 %(n)d 行的预警 %(code)s 已被豁免。") % {"n": line.line_no, "code": code})
    override = FlagOverride.objects.create(line=line, code=code, reason=reason, overridden_by=user)
    record_event(
        actor=user,
        action="flag.overridden",
        obj=line,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        reason=reason,
        detail={"line": line.line_no, "code": code, "message": flag.get("message", ""), "source": flag.get("source", ""),
                "related": flag.get("related", []), "reason": reason},
    )
    return override


def settle_claim_if_paid(*, actor, claim: Claim) -> bool:
    """When every approved line of a claim awaiting payment is settled (paid, recovered or
    finally not paid, or there was nothing to pay), its disbursement step completes and the
    claim ends as paid (rejected when nothing at all was paid). Called by the payment services
    in their transaction; True if it ended."""
    with ClaimFlow.lock(claim.process_id):
        task = open_task_of_claim(claim)
        if task is None or task.flow_task.name != "disbursement":
            return False
        unsettled = claim.lines.filter(decision=LineDecision.APPROVE, amount__gt=0).exclude(payment_status__in=SETTLED_LINE_STATES)
        if unsettled.exists():
            return False
        from_state = claim.status
        now = timezone.now()
        Task.objects.filter(pk=task.pk).update(status=STATUS.STARTED, owner=actor, started=now, assigned=task.assigned or now)
        task.refresh_from_db()
        paid = claim.lines.filter(decision=LineDecision.APPROVE, payment_status__in=(PaymentStatus.PAID, PaymentStatus.RECOVERED))
        # Every approved line finally not paid (an objection upheld, a payee who cannot be paid): rejected.
        _execute(task, last_decision="paid" if paid.exists() else "nothing_paid")
        status = sync_claim_status(claim)
        record_event(actor=actor, action="claim.paid" if status == ClaimStatus.PAID else "claim.payment_cancelled", obj=claim,
                     claim=claim, from_state=from_state, to_state=status,
                     detail={"task": task.pk, "paid": sum((line.amount for line in paid), Decimal("0.00")),
                             "lines": line_summary(claim)})
    return True
