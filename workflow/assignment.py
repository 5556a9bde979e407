"""Who holds a task besides the person who takes it: a reviewer's substitute for a date range
(Delegation), and a team lead who reassigns or releases a taken task (policy.team_leads_for). Each change is
in the ledger; the inbox's rows follow the task's owner (refresh_inbox) in the same transaction.
Who may do what is the decision policy (policy.delegation_refusal, lead_refusal, acting_refusal)."""

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from audit import actions
from audit.services import record_event
from claims.bounds import column_length, date_out_of_range, reason_refusal, whole_number
from claims.errors import DomainError, InvalidInput, NotInScope, StepAlreadyTaken
from claims.selectors import claims_visible_to

from . import policy
from .flows import ClaimFlow
from .inbox import refresh_inbox
from .models import Delegation
from .notify import notify_task_given, notify_task_released, notify_task_taken_away
from .selectors import HUMAN_STEPS, get_task_for_user, node, open_task_of_claim

# A substitute is named for at most this long at once (a leave, not a standing transfer of work).
MAX_DELEGATION_DAYS = 92


def _reason(value) -> str:
    """The person's reason, stripped: required (audit.actions.REASON_REQUIRED), within the bounds."""
    reason = (value or "").strip()
    if (problem := reason_refusal(reason, limit=column_length(Delegation, "reason"))) is not None:
        raise InvalidInput(_("须写明事由。") if not reason else _("事由有误。"), fields={"reason": [problem]})
    return reason


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


@transaction.atomic
def name_substitute(*, user, substitute_username: str, starts_on: datetime.date, ends_on: datetime.date, reason: str):
    """The reviewer ``user`` names a colleague of the same role to act for them from
    ``starts_on`` to ``ends_on`` (local dates, both included; not in the past, at most
    MAX_DELEGATION_DAYS days), saying why (a leave, a training)."""
    substitute = get_user_model().objects.filter(username=substitute_username or "").first()
    refusal = policy.delegation_refusal(delegator=user, substitute=substitute)
    if refusal is not None:
        raise refusal
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    for name, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if date_out_of_range(value):
            errors[name] = [date_out_of_range(value)]
    if errors:
        raise InvalidInput(_("代理期限有误。"), fields=errors)
    if starts_on < today:
        errors["starts_on"] = [_("不能早于今天。")]
    if ends_on < starts_on:
        errors["ends_on"] = [_("不能早于开始日期。")]
    elif (ends_on - starts_on).days + 1 > MAX_DELEGATION_DAYS:
        errors["ends_on"] = [_("代理期限最长 %(days)d 天。") % {"days": MAX_DELEGATION_DAYS}]
    if errors:
        raise InvalidInput(_("代理期限有误。"), fields=errors)
    reason = _reason(reason)
    delegation = Delegation.objects.create(
        delegator=user, substitute=substitute, starts_on=starts_on, ends_on=ends_on, reason=reason
    )
    record_event(
        actor=user,
        action=actions.DELEGATION_CREATED,
        obj=delegation,
        reason=reason,
        detail={
            "delegator": user.get_username(),
            "substitute": substitute.get_username(),
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
    )
    return delegation


@transaction.atomic
def revoke_substitute(*, user, delegation_id: int, reason: str) -> Delegation:
    """The reviewer ends a delegation they made, saying why (it stays, revoked, for the record;
    the reason is its ledger entry's)."""
    delegation = Delegation.objects.select_for_update().filter(pk=delegation_id, delegator=user).first()
    if delegation is None:
        raise NotInScope()  # before the reason: whoever else asks learns nothing of it
    if delegation.revoked_at is not None:
        raise StepAlreadyTaken(_("该代理已撤销。"))
    reason = _reason(reason)
    delegation.revoked_at = timezone.now()
    delegation.save(update_fields=["revoked_at"])
    record_event(
        actor=user,
        action=actions.DELEGATION_REVOKED,
        obj=delegation,
        reason=reason,
        detail={"delegator": user.get_username(), "substitute": delegation.substitute.get_username()},
    )
    return delegation


def delegations_of(user):
    """The delegations the user made or was named in, current and future first."""
    return (
        Delegation.objects.filter(Q(delegator=user) | Q(substitute=user))
        .select_related("delegator", "substitute")
        .order_by("revoked_at", "-ends_on", "-pk")
    )


def task_for_lead(*, user, task_id) -> Task:
    """The task a team lead acts on: 404 when it is neither theirs to lead nor visible to them."""
    task = (
        Task.objects.filter(pk=task_id, flow_task__in=[node(name) for name in HUMAN_STEPS])
        .select_related("owner", "process__claim__provider", "process__claim__department", "process__claim__jurisdiction")
        .first()
        if whole_number(task_id) is not None
        else None
    )
    if task is None:
        raise NotInScope()
    refusal = policy.lead_refusal(user=user, step_name=task.flow_task.name, claim=task.process.claim)
    if refusal is not None:
        get_task_for_user(user=user, task_id=task.pk)  # 404 outside the user's scope
        raise refusal
    return task


@transaction.atomic
def reassign_task(*, user, task_id, to_username: str, reason: str) -> Task:
    """A team lead gives an open task to a person who may act on it (role, scope, segregation
    of duties: policy.acting_refusal), taking it from whoever held it. Recorded, told to them
    and to whoever held it."""
    task = task_for_lead(user=user, task_id=task_id)
    reason = _reason(reason)
    with ClaimFlow.lock(task.process_id):
        task.refresh_from_db()
        claim = task.process.claim
        to = get_user_model().objects.filter(username=to_username or "", is_active=True).first()
        refusal = (
            policy.acting_refusal(user=to, step_name=task.flow_task.name, claim=claim, process_id=task.process_id)
            if to is not None
            else None
        )
        # One answer whether the username is nobody's, a deactivated account's, an administrator's
        # or of someone outside the step's role and scope: the form tells no lead which accounts
        # exist elsewhere. Who may act but did another duty on the claim is told so (N4).
        if to is None or policy.is_administrator(to) or (refusal is not None and refusal.code == "role"):
            raise InvalidInput(_("改派对象有误。"), fields={"to": [_("须为可以办理本步骤的在职人员。")]})
        if refusal is not None:
            raise InvalidInput(_("不能改派给 %(user)s。") % {"user": to.get_username()}, fields={"to": [refusal.message]})
        previous = task.owner
        if previous is not None and previous.pk == to.pk:
            raise InvalidInput(_("改派对象有误。"), fields={"to": [_("该任务已由此人办理。")]})
        if not Task.objects.filter(pk=task.pk, status__in=(STATUS.NEW, STATUS.ASSIGNED), owner_id=task.owner_id).update(
            status=STATUS.ASSIGNED, owner=to, assigned=timezone.now()
        ):
            raise StepAlreadyTaken(_("该任务已处理或已变更。"))
        task.refresh_from_db()
        refresh_inbox(claim)
        record_event(
            actor=user,
            action=actions.TASK_REASSIGNED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            reason=reason,
            detail={"task": task.pk, "step": task.flow_task.name, "from": _username(previous), "to": to.get_username()},
        )
        notify_task_given(task=task, claim=claim, to=to, by=user)
        notify_task_taken_away(task=task, claim=claim, previous=previous, to=to, by=user, reason=reason)
    return task


@transaction.atomic
def release_task(*, user, task_id, reason: str) -> Task:
    """A team lead puts a taken task back in the team's queue (nobody holds it)."""
    task = task_for_lead(user=user, task_id=task_id)
    reason = _reason(reason)
    with ClaimFlow.lock(task.process_id):
        task.refresh_from_db()
        claim = task.process.claim
        previous = task.owner
        if previous is None:
            raise StepAlreadyTaken(_("该任务尚无人领取。"))
        if not Task.objects.filter(pk=task.pk, status=STATUS.ASSIGNED, owner_id=previous.pk).update(
            status=STATUS.NEW, owner=None, assigned=None
        ):
            raise StepAlreadyTaken(_("该任务已处理或已变更。"))
        task.refresh_from_db()
        refresh_inbox(claim)
        record_event(
            actor=user,
            action=actions.TASK_RELEASED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            reason=reason,
            detail={"task": task.pk, "step": task.flow_task.name, "from": previous.get_username()},
        )
        notify_task_released(task=task, claim=claim, by=user, reason=reason)
    return task


def may_lead(*, user, task: Task) -> bool:
    """Whether the task page offers this user reassign and release."""
    return policy.lead_refusal(user=user, step_name=task.flow_task.name, claim=task.process.claim) is None


def may_name_substitute(user) -> bool:
    """Whether the delegation page offers this user the form (a reviewer, not an administrator)."""
    return policy.may_name_substitute(user)


def people_to_reassign_to(task: Task) -> list:
    """Who a lead may give the task to: everyone who may act on its step of the claim."""
    claim = task.process.claim
    return [
        person for person in policy.people_who_may_act(step_name=task.flow_task.name, claim=claim) if person.pk != task.owner_id
    ]


def acting_for(*, user, task: Task):
    """The reviewer this user would act for on the task as their substitute, or None (they act
    in their own right, or not at all)."""
    claim = task.process.claim
    try:
        principal = policy.require_may_act(user=user, task=task, claim=claim)
    except DomainError:
        return None
    return principal if principal.pk != user.pk else None


def reader_of_task_claim(*, user, task: Task):
    """Whose reading of the task's claim the task page shows (its documents, thread and history):
    the user's own, or, for a substitute who sees the claim only through a task delegated to them
    today (a colleague of another department), the reviewer they act for. ``acting_for`` asks the
    decision policy (the delegation in force, no other duty of the substitute on the claim: N4), so
    a substitute who may not act reads nothing (NotInScope, a 404)."""
    if claims_visible_to(user).filter(pk=task.process.claim.pk).exists():
        return user
    principal = acting_for(user=user, task=task)
    if principal is None:
        raise NotInScope()
    return principal


def reader_of_claim(*, user, claim_id):
    """The same for a claim (a document's download from the task page): the user, or the reviewer
    whose open task of this claim the user acts on today as their substitute."""
    from claims.models import Claim

    if claims_visible_to(user).filter(pk=claim_id).exists():
        return user
    claim = Claim.objects.filter(pk=claim_id).first()
    task = open_task_of_claim(claim) if claim is not None else None
    if task is None:
        raise NotInScope()
    return reader_of_task_claim(user=user, task=task)


def substitutes_today(user) -> list[Delegation]:
    """The delegations in force today that this person made (the task page names their substitute)."""
    today = timezone.localdate()
    return list(
        Delegation.objects.filter(delegator=user, starts_on__lte=today, ends_on__gte=today, revoked_at__isnull=True)
        .select_related("substitute")
        .order_by("pk")
    )
