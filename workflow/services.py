"""What moves a claim through its process: submit, take, decide (approve, return, reject),
resubmit, override a flag, settle. Pages, the API and Celery all act through these functions;
each drives viewflow's activation under the flow's lock, in one transaction with its audit
events and the inbox's rows (inbox.py). Who may do what is the decision policy (policy.py); the claim's status is written
here only (sync_claim_status), from where its process stands."""

from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from audit import actions
from audit.services import record_event
from claims.access import may_edit_claim
from claims.attachments import attachment_ids_of
from claims.bounds import reason_refusal
from claims.certificate_checks import CheckOccasion, check_certificates
from claims.classes import refresh_class_flags
from claims.dates import chinese_date_text
from claims.eligibility import NOT_OVERRIDABLE, active_flags, check_claim
from claims.errors import ActionForbidden, InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import Claim, ClaimLine, ClaimStatus, FlagOverride, LineDecision, PaymentStatus
from claims.payment_stage import payment_stage_status, refresh_payment_stage, unsettled_lines
from claims.selectors import get_claim_for_user
from claims.services import line_summary, lines_for_summary, mark_claimed, recompute_total, refresh_flags
from payments.services.funds import reserve_approved_lines

from . import policy
from .deadlines import passed_at
from .flows import ClaimFlow
from .inbox import refresh_figures, refresh_inbox
from .models import ESCALATED_KEY, InboxItem
from .notify import notify_decision, notify_escalated, notify_open_tasks, notify_paid, notify_withdrawn_by_deadline
from .selectors import OPEN_STATUSES, claim_content, node, open_task_of_claim, process_of_task_for_user
from .steps import END_STATUS, HR_STEPS, REVIEW_STEPS, STEPS, Decision


@dataclass(frozen=True)
class LineDecisionInput:
    line: int
    decision: str
    reason: str = ""


def _claim_task(*, user, task: Task, principal=None) -> Task:
    """Take the task for this user with a conditional UPDATE: of two people acting at once,
    exactly one changes the row; the other is told the step is taken (also on SQLite).
    ``principal``: whom the user substitutes for (a task they hold may be taken over)."""
    now = timezone.now()
    holders = {user.pk, (principal or user).pk}
    taken = (
        Task.objects.filter(pk=task.pk, status__in=(STATUS.NEW, STATUS.ASSIGNED))
        .filter(Q(owner__isnull=True) | Q(owner_id__in=holders))
        .update(status=STATUS.STARTED, owner=user, started=now, assigned=task.assigned or now)
    )
    if not taken:
        raise StepAlreadyTaken(_("该步骤已由他人处理或领取。"))
    # What the UPDATE wrote (the row is ours now, under the process lock): not read back.
    task.status, task.owner, task.started, task.assigned = STATUS.STARTED, user, now, task.assigned or now
    return task


class Standing(NamedTuple):
    status: str
    open_task: Task | None  # the open human task; None once the claim ended


def sync_claim_status(claim: Claim) -> Standing:
    """The claim's status mirrors where its process stands (and, awaiting payment, its lines):
    the step table gives each open step's status, END_STATUS each end's; its inbox rows follow.
    Returns the status and the open task, which the caller's notifications reach
    (notify_open_tasks): read once, with the inbox's rows."""
    open_tasks = refresh_inbox(claim)
    open_task = open_tasks[0] if open_tasks else None
    if open_task is not None:
        status = STEPS[open_task.flow_task.name].claim_status
        if open_task.flow_task.name == "disbursement":
            status = payment_stage_status(claim)
    else:
        finished = Task.objects.filter(process_id=claim.process_id, flow_task__in=[node(n) for n in END_STATUS]).first()
        status = END_STATUS[finished.flow_task.name]
    claim.status = status
    claim.save(update_fields=["status"])
    return Standing(status, open_task)


def _execute(task: Task, *, decision: str, **process_fields) -> None:
    """Complete the task with this decision (and other ClaimProcess fields) on the claim's
    process; the flow's switches route on them."""
    process = task.process.coerced
    process.last_decision = decision
    for name, value in process_fields.items():
        setattr(process, name, value)
    process.save(update_fields=["data"])
    task.process = process
    activation = task.flow_task.activation_class(task)
    activation.execute()


@transaction.atomic
def submit_claim(*, user, claim: Claim) -> Claim:
    """Submit a draft (starts the flow) or resubmit a returned claim (to the step that returned it,
    or to the department's review: policy.resubmission_target)."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    if not may_edit_claim(user, claim):
        if policy.own_claim_submitted_meanwhile(user=user, claim=claim):
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
    mark_claimed(claim)
    refresh_flags(claim=claim)
    certificates = check_certificates(claim=claim, occasion=CheckOccasion.SUBMISSION, actor=user, record=False)
    process = ClaimFlow.submit.run(submitted_by=user)
    claim.process = process
    claim.save(update_fields=["process", "submitted_at"])
    status, open_task = sync_claim_status(claim)
    group = claim.department.staff_group
    if group is not None:
        assign_perm("claims.view_claim", group, claim)
        assign_perm("claims.review_claim", group, claim)
        record_event(
            actor=user,
            action=actions.PERMISSION_GRANTED,
            obj=claim,
            claim=claim,
            detail={"group": group.name, "perms": ["view_claim", "review_claim"]},
        )
    record_event(
        actor=user,
        action=actions.CLAIM_SUBMITTED,
        obj=claim,
        claim=claim,
        from_state=ClaimStatus.DRAFT,
        to_state=status,
        detail={
            **_what_changed(claim, lines_before=lines_before, total_before=total_before),
            "certificate_checks": certificates.summary,
        },
    )
    notify_open_tasks(claim=claim, task=open_task)
    return claim


def _resubmit(*, user, claim: Claim) -> Claim:
    """Back to the HR step that returned the claim when the provider changed only what it asked
    to fix; else to the department's review (policy.resubmission_target), with the changes
    outside what was asked kept on the process (for the pages) and in the ledger."""
    task = open_task_of_claim(claim)
    with ClaimFlow.lock(claim.process_id):
        policy.require_may_act(user=user, task=task, claim=claim)
        task = _claim_task(user=user, task=task)
        lines_before, total_before = _line_states(claim), claim.total
        mark_claimed(claim)  # a line added or replaced since the return is claimed now (N2)
        refresh_flags(claim=claim)
        certificates = check_certificates(claim=claim, occasion=CheckOccasion.SUBMISSION, actor=user, record=False)
        process = task.process.coerced
        returned_from, asked, before = process.returned_from, process.fix_requested, process.returned_content
        after = claim_content(claim)
        to_step = policy.resubmission_target(returned_from, asked, before, after)
        outside = policy.changes_outside_fix(asked, before, after) if returned_from in HR_STEPS and before else []
        review_changes = (
            {"changes": policy.content_changes(before, after), "total_before": before.get("total"), "total": after["total"]}
            if before
            else None
        )
        _execute(
            task, decision=Decision.RESUBMIT, resubmit_to=to_step, changes_outside_fix=outside, review_changes=review_changes
        )
        status, open_task = sync_claim_status(claim)
        record_event(
            actor=user,
            action=actions.CLAIM_RESUBMITTED,
            obj=claim,
            claim=claim,
            from_state=ClaimStatus.RETURNED,
            to_state=status,
            detail={
                "task": task.pk,
                "returned_from": returned_from,
                "fix": policy.normalized_fix(asked),
                "to_step": to_step,
                "outside_fix": outside,
                **_what_changed(claim, lines_before=lines_before, total_before=total_before),
                "certificate_checks": certificates.summary,
            },
        )
    notify_open_tasks(claim=claim, task=open_task)
    return claim


@transaction.atomic
def withdraw_claim(*, user, claim: Claim, reason: str) -> Claim:
    """The provider withdraws its own claim while it is in its hands (a draft, or returned for
    correction): the process, if started, is cancelled; the claim no longer counts against
    anyone's quota (RULES E2, E3). A reason is required: the ledger keeps it."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    if not may_edit_claim(user, claim):
        if claim.status == ClaimStatus.WITHDRAWN and policy.own_claim_submitted_meanwhile(user=user, claim=claim):
            raise StepAlreadyTaken(_("该申领已撤回。"))
        raise ActionForbidden(_("只有本机构经办人可以撤回草稿或退回修改的申领。"))
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        raise InvalidInput(_("撤回申领须写明理由。"), fields={"reason": [problem]})
    return _withdraw(claim, actor=user, reason=reason, detail={"total": claim.total})


def _withdraw(claim: Claim, *, actor, reason: str, detail: dict) -> Claim:
    """Cancel the claim's process (if started), mark it withdrawn, drop its inbox rows, and
    record it: the provider's withdrawal and the correction deadline's share this."""
    from_state = claim.status
    if claim.process_id is not None:
        ClaimFlow.instance.cancel(ClaimFlow.process_class.objects.get(pk=claim.process_id))
    claim.status = ClaimStatus.WITHDRAWN
    claim.save(update_fields=["status"])
    refresh_inbox(claim)
    record_event(
        actor=actor,
        action=actions.CLAIM_WITHDRAWN,
        obj=claim,
        claim=claim,
        from_state=from_state,
        to_state=claim.status,
        reason=reason,
        detail=detail,
    )
    return claim


# --- timers (timers.py finds what is due; these act on one claim each, under its locks) -------------


@transaction.atomic
def withdraw_unanswered_return(*, claim_id: int, now) -> bool:
    """A returned claim not resubmitted by its correction deadline is withdrawn by the system,
    the ledger naming the deadline. Checked again under the claim's lock: a resubmission that
    won the lock first (submit_claim locks the claim too) keeps the claim. True: withdrawn."""
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    if claim.status != ClaimStatus.RETURNED:
        return False
    item = InboxItem.objects.filter(claim_id=claim.pk, step="correction").first()
    if item is None or now < passed_at(item.due, claim.jurisdiction_id):
        return False
    _withdraw(
        claim,
        actor=None,
        reason=f"逾期未重新提交：修改期限 {chinese_date_text(item.due)} 已过（系统自动撤回）",
        detail={"total": claim.total, "deadline": item.due.isoformat(), "timer": "correction_deadline", "task": item.task_id},
    )
    notify_withdrawn_by_deadline(claim=claim, due=item.due)
    return True


@transaction.atomic
def escalate_overdue_task(*, task_id: int, now) -> bool:
    """An open review task past its due date is escalated to its team leads (policy.team_leads_for)
    once: kept on the task (Task.data, so a rebuild of the inbox keeps it), shown in the inbox,
    recorded in the ledger with the leads named. It changes no one's right to act: the leads act
    through the same policy (role, scope, segregation of duties). True: escalated now."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return False
    with ClaimFlow.lock(task.process_id):
        task.refresh_from_db()
        item = InboxItem.objects.filter(task_id=task.pk).first()
        if task.status not in OPEN_STATUSES or item is None or (task.data or {}).get(ESCALATED_KEY):
            return False
        claim = task.process.claim
        if now < passed_at(item.due, claim.jurisdiction_id):
            return False
        step_name = task.flow_task.name
        lead_users = policy.team_leads_for(claim=claim, step_name=step_name)
        leads = [lead.get_username() for lead in lead_users]
        task.data = {
            **(task.data or {}),
            ESCALATED_KEY: {"at": now.isoformat(), "due": item.due.isoformat(), "team_leads": leads},
        }
        task.save(update_fields=["data"])
        refresh_inbox(claim)
        record_event(
            actor=None,
            action=actions.TASK_ESCALATED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            reason=f"逾期未办理：期限 {chinese_date_text(item.due)} 已过，提交组长督办",
            detail={"task": task.pk, "step": step_name, "deadline": item.due.isoformat(), "team_leads": leads},
        )
        notify_escalated(task=task, claim=claim, leads=lead_users, due=item.due)
    return True


@contextmanager
def _task_under_lock(*, user, task_id):
    """The task (with its process, claim and the claim's jurisdiction: the ledger names it by its
    code) as it stands under its process's lock, if the user can see it (else NotInScope: 404):
    read once, after the lock, not before and again."""
    process_id = process_of_task_for_user(user=user, task_id=task_id)
    with ClaimFlow.lock(process_id):
        yield Task.objects.select_related("process__claim__jurisdiction").get(pk=int(task_id))


@transaction.atomic
def take_task(*, user, task_id) -> Task:
    """Assign an open task to oneself, so the team sees who is on it."""
    with _task_under_lock(user=user, task_id=task_id) as task:
        claim = task.process.claim
        principal = policy.require_may_act(user=user, task=task, claim=claim)
        now = timezone.now()
        if not Task.objects.filter(pk=task.pk, status=STATUS.NEW, owner__isnull=True).update(
            status=STATUS.ASSIGNED, owner=user, assigned=now
        ):
            raise StepAlreadyTaken(_("该任务已被领取或已处理。"))
        task.status, task.owner, task.assigned = STATUS.ASSIGNED, user, now  # what the UPDATE wrote
        refresh_inbox(claim)
        record_event(
            actor=user,
            action=actions.TASK_ASSIGNED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            detail={"task": task.pk, "step": task.flow_task.name, **_on_behalf_of(user, principal)},
        )
    return task


LINE_STATE_FIELDS = ("decision", "decision_reason", "flags", "amount", "payment_status")


def _line_state(values: dict) -> dict:
    """What a step may change on a line (its LINE_STATE_FIELDS), the flags by their codes."""
    return {name: values[name] for name in LINE_STATE_FIELDS} | {"flags": [flag.get("code") for flag in values["flags"]]}


def _line_states(claim: Claim) -> dict[int, dict]:
    """Each line's state (_line_state), by line number."""
    return {row["line_no"]: _line_state(row) for row in claim.lines.values("line_no", *LINE_STATE_FIELDS)}


def _what_changed(claim: Claim, *, lines_before: dict[int, dict], total_before) -> dict:
    """The ledger's account of a step's effect on the claim: its total before and after, its
    lines now, and the fields of each line that changed (one read of the lines for both)."""
    lines = lines_for_summary(claim)
    return {
        "total": claim.total,
        "total_before": total_before,
        "lines": line_summary(claim, lines),
        "line_changes": _line_changes(lines_before, {line.line_no: _line_state(vars(line)) for line in lines}),
    }


def _line_changes(before: dict[int, dict], after: dict[int, dict]) -> list[dict]:
    """Before and after of the changed fields of each line that changed between two _line_states."""
    changes = []
    for line_no, now in sorted(after.items()):
        was = before.get(line_no, {})
        changed = [name for name in now if was.get(name) != now[name]]
        if changed:
            changes.append(
                {
                    "line": line_no,
                    "before": {name: was.get(name) for name in changed},
                    "after": {name: now[name] for name in changed},
                }
            )
    return changes


def _apply_line_decisions(
    *, claim: Claim, decision: str, reason: str, by_line: dict[int, LineDecisionInput], lines_before: dict[int, dict]
) -> None:
    """Each line's decision after this step's: a rejection rejects every line; else the reviewer's
    choice for a line, and an approval approves the lines still pending. Written for the lines
    whose decision changes, one UPDATE per outcome (``lines_before``: _line_states, read under
    the claim's lock; the checks since change flags, never decisions)."""
    chosen = {}
    for line_no, state in lines_before.items():
        if decision == "reject":
            chosen[line_no] = (LineDecision.REJECT, reason)
        elif line_no in by_line:
            line = by_line[line_no]
            chosen[line_no] = (line.decision, line.reason if line.decision == LineDecision.REJECT else "")
        elif state["decision"] == LineDecision.PENDING:
            chosen[line_no] = (LineDecision.APPROVE, "")
        else:
            chosen[line_no] = (state["decision"], state["decision_reason"])
    if decision == "approve" and not any(outcome == LineDecision.APPROVE for outcome, _reason in chosen.values()):
        raise InvalidInput(_("所有行均被驳回：请选择“不予补贴”。"), fields={"lines": [_("至少须同意一行。")]})
    changed: dict[tuple[str, str], list[int]] = {}
    for line_no, outcome in chosen.items():
        if outcome != (lines_before[line_no]["decision"], lines_before[line_no]["decision_reason"]):
            changed.setdefault(outcome, []).append(line_no)
    for (outcome, outcome_reason), line_numbers in sorted(changed.items()):
        claim.lines.filter(line_no__in=line_numbers).update(decision=outcome, decision_reason=outcome_reason)


class ActiveFlagsRefused(InvalidInput):
    """An approval at an HR step would approve lines that still carry a flag (400)."""

    code = "active_flags"

    def __init__(self, message: str, *, fields: dict, claim_id: int):
        super().__init__(message, fields=fields)
        self.claim_id = claim_id


def _refuse_active_flags(*, claim: Claim, step_name: str, always: bool = False) -> None:
    """At the HR steps no line may be approved with an active flag: the reviewer rejects the line
    with the flag's code, or overrides the flag with a written reason. (The department step may
    pass flagged lines on: the HR bureau decides them.) ``always``: at any step (a bulk approval
    approves clean claims only: workflow.bulk)."""
    if not (always or policy.refuses_flagged_approval(step_name)):
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
            _("有预警的行不能同意：%(lines)s。请以预警代码驳回该行，或豁免该预警（须写明理由）。")
            % {"lines": "；".join(blocked)},
            fields={"lines": blocked},
            claim_id=claim.pk,
        )


def decide_task(
    *,
    user,
    task_id,
    decision: str,
    comment: str = "",
    reason: str = "",
    line_decisions=(),
    fix=None,
    require_clean: bool = False,
) -> Claim:
    """Approve (wholly or in part, by line), return for correction, or reject, at a review step.
    A return may name what to fix (``fix``: {"lines": [line numbers], "fields": [field names]}):
    a resubmission that changes only that goes back to the returning step (policy.resubmission_target).

    The eligibility rules run again first (another claim may have used the person's quota
    meanwhile). When an HR approval is refused for lines with active flags, the decision is
    rolled back but the re-checked flags are kept, so the reviewer sees what stopped it.
    ``require_clean``: an approval is refused, at any step, when a line still carries an active
    flag after the re-check (a bulk approval: workflow.bulk)."""
    try:
        return _decide_task(
            user=user,
            task_id=task_id,
            decision=decision,
            comment=comment,
            reason=reason,
            line_decisions=line_decisions,
            fix=fix,
            require_clean=require_clean,
        )
    except ActiveFlagsRefused as refusal:
        _keep_rechecked_flags(user=user, claim_id=refusal.claim_id)
        raise


@transaction.atomic
def _keep_rechecked_flags(*, user, claim_id: int) -> None:
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    lines_before = _line_states(claim)
    changed = check_claim(claim=claim)
    refresh_class_flags(claim, at_review=True)
    certificates = check_certificates(claim=claim, occasion=CheckOccasion.REVIEW, actor=user, record=False)
    line_changes = _line_changes(lines_before, _line_states(claim))
    if line_changes:
        refresh_figures(claim)
        record_event(
            actor=user,
            action=actions.CLAIM_FLAGS_RECHECKED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            detail={
                "lines": [{"line": line.line_no, "flags": [flag["code"] for flag in line.flags]} for line in changed],
                "line_changes": line_changes,
                "certificate_checks": certificates.summary,
            },
        )


# A reviewer's decision and the ledger entry it writes (demo/load.py writes the same entries in bulk).
DECISION_ACTION = {"approve": actions.CLAIM_APPROVED_STEP, "return": actions.CLAIM_RETURNED, "reject": actions.CLAIM_REJECTED}


@transaction.atomic
def _decide_task(
    *, user, task_id, decision: str, comment: str, reason: str, line_decisions, fix, require_clean: bool = False
) -> Claim:
    with _task_under_lock(user=user, task_id=task_id) as task:
        step_name = task.flow_task.name
        if step_name not in REVIEW_STEPS:
            raise ActionForbidden(_("此步骤不是审核步骤。"), code="role")
        # Before locking the claim: a resubmission locks the claim, then the process.
        if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
            raise StepAlreadyTaken(_("该步骤已处理。"))
        # The claim locked (not what is read with it: its jurisdiction and standard for the rules
        # below, its department and provider for the funds reservation and the notifications).
        claim = (
            Claim.objects.select_for_update(of=("self",))
            .select_related("jurisdiction", "policy", "department", "provider")
            .get(process_id=task.process_id)
        )
        principal = policy.require_may_act(user=user, task=task, claim=claim)
        lines_before, total_before = _line_states(claim), claim.total
        by_line = policy.validate_decision(
            step_name=step_name,
            decision=decision,
            comment=comment,
            reason=reason,
            line_decisions=line_decisions,
            line_numbers=set(lines_before),
            fix=fix,
            attachment_ids=attachment_ids_of(claim) if fix else (),
        )
        task = _claim_task(user=user, task=task, principal=principal)
        from_state = claim.status
        # The rules again, under a lock on the claim's people, and the certificates at their
        # source, before the decision: the reviewer decides on the latest check (the total is
        # computed once, after the line decisions below).
        check_claim(claim=claim)
        refresh_class_flags(claim, at_review=True)  # the class's roster, days, overlaps and attendance as they now are
        certificates = check_certificates(claim=claim, occasion=CheckOccasion.REVIEW, actor=user, record=False)
        if decision != "return":
            _apply_line_decisions(claim=claim, decision=decision, reason=reason, by_line=by_line, lines_before=lines_before)
        if decision == "approve":
            _refuse_active_flags(claim=claim, step_name=step_name, always=require_clean)
        recompute_total(claim=claim, announce=False)  # sync_claim_status rewrites the inbox rows below
        returned = decision == Decision.RETURN
        # Where an approval goes (the flow's switches read the flags): one definition, also said
        # by a bulk approval's confirmation (workflow.bulk).
        following = (
            policy.step_after_approval(step_name=step_name, claim=claim, today=timezone.localdate())
            if decision == Decision.APPROVE
            else None
        )
        _execute(
            task,
            decision=decision,
            returned_from=step_name if returned else None,
            # What the return asked to fix, and the claim as returned: the resubmission is compared to it.
            fix_requested=policy.normalized_fix(fix) if returned else None,
            returned_content=claim_content(claim) if returned else None,
            needs_hr_head=following == "hr_head_approval",
            needs_notice=following == "public_notice",
        )
        status, open_task = sync_claim_status(claim)
        record_event(
            actor=user,
            action=DECISION_ACTION[decision],
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
                **_on_behalf_of(user, principal),
                **({"fix": policy.normalized_fix(fix)} if decision == Decision.RETURN else {}),
                "line_decisions": [
                    {"line": item.line, "decision": item.decision, "reason": item.reason} for item in by_line.values()
                ],
                **_what_changed(claim, lines_before=lines_before, total_before=total_before),
                "certificate_checks": certificates.summary,
            },
        )
        if status == ClaimStatus.PUBLIC_NOTICE:
            from .notice import record_published

            record_published(actor=user, claim=claim)
        if status in (ClaimStatus.APPROVED, ClaimStatus.PUBLIC_NOTICE):
            # Final approval: the approved amount is reserved against the department's allocation, or
            # refused; reserved while on notice too, so an objection upheld gives it back.
            reserve_approved_lines(actor=user, claim=claim)
        notify_decision(claim=claim, task=task, status=status, comment=comment)
    notify_open_tasks(claim=claim, task=open_task)
    return claim


def _on_behalf_of(user, principal) -> dict:
    """The ledger's note of a substitute acting for a reviewer (Delegation)."""
    if principal is None or principal.pk == user.pk:
        return {}
    return {"on_behalf_of": principal.get_username()}


def may_override_flags(*, user, claim: Claim) -> bool:
    """Whether the pages should offer this user the override forms on this claim."""
    return policy.may_override_flags(user=user, claim=claim)


@transaction.atomic
def override_flag(*, user, line_id: int, code: str, reason: str) -> FlagOverride:
    """An HR reviewer (or the HR head) decides, with a written reason, that a flag does not stop
    the line: the approval may then pass it. Kept across re-checks; recorded in the ledger."""
    line = ClaimLine.objects.filter(pk=line_id).values("claim_id").first()
    if line is None:
        raise NotInScope()
    get_claim_for_user(user=user, claim_id=line["claim_id"])  # 404 outside the user's scope
    claim = Claim.objects.select_for_update().get(pk=line["claim_id"])
    refusal = policy.override_refusal(user=user, claim=claim)
    if refusal is not None:
        raise refusal
    line = ClaimLine.objects.get(pk=line_id)
    code = (code or "").strip()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    flag = next((flag for flag in line.flags if flag.get("code") == code), None)
    if flag is None:
        errors["code"] = [_("第 %(n)d 行没有预警 %(code)s。") % {"n": line.line_no, "code": code or "—"}]
    elif code in NOT_OVERRIDABLE:
        errors["code"] = [str(NOT_OVERRIDABLE[code])]
    if (problem := reason_refusal(reason)) is not None:
        errors["reason"] = [_("豁免预警须写明理由。") if not reason else problem]
    if errors:
        raise InvalidInput(_("豁免预警的信息有误。"), fields=errors)
    if FlagOverride.objects.filter(line=line, code=code).exists():
        raise StepAlreadyTaken(_("第 %(n)d 行的预警 %(code)s 已被豁免。") % {"n": line.line_no, "code": code})
    override = FlagOverride.objects.create(line=line, code=code, reason=reason, overridden_by=user)
    record_event(
        actor=user,
        action=actions.FLAG_OVERRIDDEN,
        obj=line,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        reason=reason,
        detail={
            "line": line.line_no,
            "code": code,
            "message": flag.get("message", ""),
            "source": flag.get("source", ""),
            "related": flag.get("related", []),
            "reason": reason,
        },
    )
    return override


def _settle_claim(*, actor, claim: Claim, detail: dict) -> bool:
    """When every approved line of a claim awaiting payment is settled (paid, recovered or
    finally not paid, or there was nothing to pay), its disbursement step completes and the
    claim ends as paid (rejected when nothing at all was paid). True if it ended."""
    with ClaimFlow.lock(claim.process_id):
        task = open_task_of_claim(claim)
        if task is None or task.flow_task.name != "disbursement":
            return False
        if unsettled_lines().filter(claim=claim).exists():
            return False
        from_state = claim.status
        now = timezone.now()
        Task.objects.filter(pk=task.pk).update(status=STATUS.STARTED, owner=actor, started=now, assigned=task.assigned or now)
        task.refresh_from_db()
        paid = claim.lines.filter(decision=LineDecision.APPROVE, payment_status__in=(PaymentStatus.PAID, PaymentStatus.RECOVERED))
        # Every approved line finally not paid (an objection upheld, a payee who cannot be paid): rejected.
        _execute(task, decision=Decision.PAID if paid.exists() else Decision.NOTHING_PAID)
        status, _open_task = sync_claim_status(claim)
        record_event(
            actor=actor,
            action=actions.CLAIM_PAID if status == ClaimStatus.PAID else actions.CLAIM_PAYMENT_CANCELLED,
            obj=claim,
            claim=claim,
            from_state=from_state,
            to_state=status,
            detail={
                "task": task.pk,
                "paid": sum((line.amount for line in paid), Decimal("0.00")),
                "lines": line_summary(claim),
                **detail,
            },
        )
        if status == ClaimStatus.PAID:
            notify_paid(claim=claim, paid=sum((line.amount for line in paid), Decimal("0.00")))
    return True


def settle_claims(*, actor, claim_ids, detail: dict) -> int:
    """The payment services report the claims whose lines they moved; in the same transaction,
    each claim whose lines are all settled ends (paid, or rejected when nothing was paid), and
    the others' status follows their lines (a "status synced" entry when it changed). Each
    entry carries ``detail`` (what settled it: a batch, a line). Returns how many claims ended."""
    ended = 0
    for claim in Claim.objects.filter(pk__in=set(claim_ids)).select_related("jurisdiction").order_by("pk"):
        if _settle_claim(actor=actor, claim=claim, detail=detail):
            ended += 1
            continue
        for before, after in refresh_payment_stage(claim_ids=[claim.pk]).values():
            record_event(
                actor=actor,
                action=actions.CLAIM_STATUS_SYNCED,
                obj=claim,
                claim=claim,
                from_state=before,
                to_state=after,
                detail=detail,
            )
    return ended
