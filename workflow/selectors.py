"""Reads for the inbox: tasks the user may see or act on, always within their claim scope."""

import datetime
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims.errors import NotInScope
from claims.inputs import HEADER_FIELDS
from claims.line_fields import LINE_FIELDS
from claims.selectors import claims_visible_to

from .flows import ClaimFlow
from .policy import processes_with_other_duties, steps_of_user
from .steps import HUMAN_STEPS, STEPS

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def node(step_name: str):
    return getattr(ClaimFlow, step_name)


def step_of(task: Task):
    return STEPS[task.flow_task.name]


def tasks_visible_to(user) -> QuerySet:
    """Human tasks of the claims the user can see (any status)."""
    return (
        Task.objects.filter(process__claim__in=claims_visible_to(user), flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related("owner", "process__claim__provider", "process__claim__department")
        .order_by("created", "pk")
    )


def get_task_for_user(*, user, task_id) -> Task:
    try:
        return tasks_visible_to(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise NotInScope("Not found.") from None


def actionable_tasks(user) -> QuerySet:
    """Open tasks the user may take or decide: their role's steps, in scope, unassigned or
    assigned to them, and not on a claim where they already did another duty."""
    condition = Q(pk__in=[])
    for step_name in steps_of_user(user):
        condition |= Q(flow_task=node(step_name)) & ~Q(process_id__in=processes_with_other_duties(user, step_name))
    return (
        tasks_visible_to(user)
        .filter(condition, status__in=(STATUS.NEW, STATUS.ASSIGNED))
        .filter(Q(owner__isnull=True) | Q(owner=user))
    )


def my_tasks(user) -> QuerySet:
    return actionable_tasks(user).filter(owner=user)


def team_queue(user) -> QuerySet:
    """Open tasks of the user's steps and scope, whoever holds them (what the team has on its plate)."""
    steps = [node(name) for name in steps_of_user(user)]
    return tasks_visible_to(user).filter(flow_task__in=steps, status__in=OPEN_STATUSES)


def open_task_of_claim(claim):
    if claim.process_id is None:
        return None
    return (
        Task.objects.filter(process_id=claim.process_id, status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related("owner")
        .first()
    )


def with_open_step(claims: QuerySet) -> QuerySet:
    """Annotate each claim with its open human task (``open_task_id``, ``open_flow_task``) in the same query."""
    open_tasks = Task.objects.filter(
        process_id=OuterRef("process_id"), status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS]
    ).order_by("pk")
    return claims.annotate(
        open_task_id=Subquery(open_tasks.values("pk")[:1]),
        open_flow_task=Subquery(open_tasks.values("flow_task")[:1]),
    )


def claim_content(claim) -> dict:
    """What the provider may change on a returned claim, as plain JSON (kept on its process when
    it is returned, compared at resubmission by policy.changes_outside_fix): the department, the
    standard, the header fields, and each line's fields (claims.line_fields) and amount by line
    number. The trainee is kept by its key (the name is the trainee's): no personal data in the process."""
    lines = {}
    for line in claim.lines.order_by("line_no"):
        values = {}
        for spec in LINE_FIELDS:
            if spec.name == "id_number":
                values["id_number"] = line.trainee_id
            elif spec.stored_as == "":
                values[spec.name] = _plain(spec.stored_value(line))
        values["amount"] = _plain(line.amount)
        lines[str(line.line_no)] = values
    return {
        "department": claim.department.code,
        "policy": claim.policy.code,
        **{spec.name: _plain(getattr(claim, spec.name)) for spec in HEADER_FIELDS},
        "enterprise_name": claim.enterprise_name,
        "enterprise_credit_code": claim.enterprise_credit_code,
        "lines": lines,
    }


def _plain(value):
    """A field's value as JSON keeps it: dates in ISO form, amounts as text."""
    if isinstance(value, datetime.date | Decimal):
        return str(value)
    return value
